"""Shared fixtures: where Tiny Shakespeare lives, and a scratch working directory."""

import os
from pathlib import Path

import pytest

SHAKESPEARE_SIZE = 1_115_394


def shakespeare_path() -> Path | None:
    """Tiny Shakespeare from ``$MYGPT_SHAKESPEARE``, if set and the right file."""
    path = os.environ.get("MYGPT_SHAKESPEARE")
    if path and Path(path).is_file() and Path(path).stat().st_size == SHAKESPEARE_SIZE:
        return Path(path).resolve()
    return None


@pytest.fixture
def shakespeare() -> Path:
    path = shakespeare_path()
    if path is None:
        pytest.skip("Tiny Shakespeare not found: set MYGPT_SHAKESPEARE=/path/to/tinyshakespeare.txt")
    return path
