"""The playground in the browser (``mygpt serve``): watch your own model predict and attend, live.

``models`` loads the checkpoints and answers for them (pieces of a text, sampled tokens with their
probabilities and alternatives, attention maps) with the library alone; ``app`` puts them behind a
JSON API and the page in ``static/`` (plain HTML, CSS and JavaScript, shipped inside the package).
The web parts need the ``serve`` extra: ``pip install 'mygpt[serve]'``.
"""
