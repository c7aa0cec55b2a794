"""Tiny Shakespeare for the tests that reproduce the book's runs (``$MYGPT_SHAKESPEARE``)."""

import os
from pathlib import Path

SHAKESPEARE_SIZE = 1_115_394
SKIP_NO_SHAKESPEARE = "Tiny Shakespeare not found: set MYGPT_SHAKESPEARE=/path/to/tinyshakespeare.txt"


def shakespeare_path() -> Path | None:
    """Tiny Shakespeare from ``$MYGPT_SHAKESPEARE``, if set and the right file."""
    path = os.environ.get("MYGPT_SHAKESPEARE")
    if path and Path(path).is_file() and Path(path).stat().st_size == SHAKESPEARE_SIZE:
        return Path(path).resolve()
    return None
