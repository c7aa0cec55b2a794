"""Writing a file or a directory so that a crash leaves either the old one or the complete new one.

A file is written into a temporary file of its own next to its destination (``.NAME.XXXX.tmp``),
flushed to disk and renamed over the destination; a directory is filled under such a temporary name
and renamed into place. The unique names let two processes write to one path without clobbering
each other's half-written file; ``remove_temporaries`` clears what a killed writer left behind.
"""

import contextlib
import glob
import os
import shutil
import tempfile
from collections.abc import Callable
from typing import BinaryIO


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def fsync_directory(directory: str) -> None:
    """Make a rename durable where the platform allows opening a directory."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _temporary_prefix(path: str) -> str:
    return f".{os.path.basename(os.path.abspath(path))}."


def write_atomically(path: str, write: Callable[[BinaryIO], None]) -> None:
    """Call ``write(f)`` on a new temporary file beside ``path``, flush it to disk, rename it to ``path``.

    Any exception (a full disk, Ctrl-C) removes the temporary file and leaves ``path`` as it was.
    The file gets the usual permissions (``0o666`` less the umask), not ``mkstemp``'s private 0600.
    """
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=_temporary_prefix(path), suffix=".tmp", dir=directory)
    try:
        if hasattr(os, "fchmod"):  # not on Windows
            os.fchmod(fd, 0o666 & ~_umask())
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)
        raise
    fsync_directory(directory)


@contextlib.contextmanager
def temporary_directory(path: str):
    """A new directory beside ``path`` to fill (yielded); removed unless ``install_directory`` moved it."""
    parent = os.path.dirname(os.path.abspath(path))
    tmp = tempfile.mkdtemp(prefix=_temporary_prefix(path), suffix=".tmp", dir=parent)
    os.chmod(tmp, 0o777 & ~_umask())
    try:
        yield tmp
    finally:
        if os.path.isdir(tmp):
            shutil.rmtree(tmp, ignore_errors=True)


def install_directory(tmp: str, path: str) -> None:
    """Move the filled ``tmp`` to ``path``: renamed whole onto a new or empty ``path``, else file by file
    into it (the caller made sure that none of its names exist there)."""
    for root, _, files in os.walk(tmp):
        for name in files:
            with open(os.path.join(root, name), "rb") as f:
                os.fsync(f.fileno())
    if not os.path.exists(path) or (os.path.isdir(path) and not os.listdir(path)):
        os.replace(tmp, path)
    else:
        for name in sorted(os.listdir(tmp)):
            target = os.path.join(path, name)
            if os.path.lexists(target):
                raise FileExistsError(f"{target} appeared while it was being written")
            os.replace(os.path.join(tmp, name), target)
    fsync_directory(os.path.dirname(os.path.abspath(path)))


def remove_temporaries(path: str) -> None:
    """The temporary files and folders of writes to ``path`` cut short by ``kill -9`` (call with the lock held)."""
    directory, name = os.path.split(os.path.abspath(path))
    for stale in glob.glob(os.path.join(glob.escape(directory), f".{glob.escape(name)}.*.tmp")):
        if os.path.isdir(stale) and not os.path.islink(stale):
            shutil.rmtree(stale, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                os.remove(stale)
