"""``python -m mygpt`` runs the command line."""

from .cli import main

main()
