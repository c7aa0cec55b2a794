"""The one guarded way out: every file or folder mygpt writes is checked, locked and written atomically.

``check_output`` refuses, before any work, a path that is an input of the run, a file that is not
mygpt's own (each kind of output says what its own files look like: ``OutputKind``), a directory
where a file is due (or the reverse), or a folder where no file can be created. ``output_lock``
holds ``<path>.lock`` (``flock``) so that a second process writing the same path stops in one line
instead of racing the first; the lock is released when its process ends, however it ends, and its
next holder removes the temporary files a killed write left behind. ``write_output`` and
``write_directory`` do all three around one atomic write (``files.atomic``). The library and the
command line share them, so ``train(..., output="notes.txt")`` is refused just like the CLI's run.
"""

import contextlib
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import BinaryIO

from ..errors import ConfigError, MyGPTError, ResourceError
from .atomic import install_directory, remove_temporaries, temporary_directory, write_atomically

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; writes stay atomic, the last writer wins
    fcntl = None

LOCK_MARK = b"mygpt lock\n"  # the first bytes of every lock file mygpt makes


@dataclass(frozen=True)
class OutputKind:
    """One kind of output: what to call it, how to recognise one mygpt may replace, and its error.

    ``replaceable(path)`` is asked only about an existing path: for a file, whether it is mygpt's own
    output of this kind; for a folder (``folder=True``), whether mygpt may write into it.
    """

    name: str  # "a mygpt checkpoint"
    plural: str  # "checkpoints"
    replaceable: Callable[[str], bool]
    error: type[MyGPTError] = MyGPTError
    folder: bool = False
    refusal: str = ""  # why an existing folder may not be written into, when ``folder`` ({choose}: the setting)


Namer = Callable[[str], str]


def _named(path: str, setting: str | None) -> Callable[[Namer], str]:
    """How messages name ``path``: after its setting (``output`` in Python, ``--output`` in the CLI)."""
    return (lambda n: f"{n(setting)} {path}") if setting else (lambda n: path)


def check_output(path: str, kind: OutputKind, inputs: Mapping[str | None, str] | None = None,
                 setting: str | None = None, *, label: str | None = None, choose: str | None = None) -> None:
    """Refuse, before any work, writing ``path``: it is one of ``inputs`` (path -> what it is, e.g.
    "the training text"), a foreign file, a file where a folder is due (or the reverse), or its folder
    is missing or takes no new file. ``setting`` names the argument in messages (``output``: the CLI
    words it ``--output``), ``label`` the path itself where it is not a setting's (``the metrics file
    NAME``), ``choose`` the setting to change (default ``setting``)."""
    named = (lambda n: label) if label else _named(path, setting)
    choice = choose or setting

    def other(n: Namer) -> str:
        return n(choice) if choice else "path"

    for source, what in (inputs or {}).items():
        if source and os.path.exists(path) and os.path.exists(source) and os.path.samefile(path, source):
            raise kind.error(lambda n, what=what: f"{named(n)} is {what}; choose another {other(n)} (writing it "
                                                  f"would replace {what})")
    if os.path.isdir(path) and not kind.folder:
        raise kind.error(lambda n: f"{named(n)} is a directory; give a file name such as {os.path.join(path, 'name')}")
    if os.path.lexists(path) and not os.path.isdir(path) and kind.folder:
        raise kind.error(lambda n: f"{named(n)} is a file; give a folder to write into")
    if os.path.lexists(path) and not kind.replaceable(path):
        raise kind.error(lambda n: f"{named(n)} " + (kind.refusal.replace("{choose}", other(n)) if kind.folder else (
            f"exists and is not {kind.name}; move it away or choose another {other(n)} (mygpt replaces only its "
            f"own {kind.plural})")))
    check_new_file(path, setting, kind=kind, label=label, choose=choose)


def check_new_file(path: str, setting: str | None = "output", example: str = "model.ckpt", *,
                   kind: OutputKind | None = None, label: str | None = None, choose: str | None = None) -> None:
    """Refuse a path mygpt could not create a file at: one in a missing, read-only or otherwise
    unwritable directory (and, without ``kind``, a directory itself: give a file name such as
    ``example``). Raises ``kind.error`` (``ConfigError`` without a kind)."""
    error = kind.error if kind else ConfigError
    named = (lambda n: label) if label else _named(path, setting)
    choice = choose or setting

    def other(n: Namer) -> str:
        return n(choice) if choice else "path"

    if kind is None and os.path.isdir(path):
        raise error(lambda n: f"{named(n)} is a directory; give a file name such as {os.path.join(path, example)}")
    parent = os.path.dirname(os.path.abspath(path))
    shown = os.path.dirname(path) or "."
    if not os.path.isdir(parent):
        raise error(lambda n: f"{named(n)}: directory {shown} does not exist; create it first")
    if not os.access(parent, os.W_OK):
        raise error(lambda n: f"{named(n)}: directory {shown} is not writable; choose another {other(n)}")
    try:  # the only reliable test (read-only mounts, ACLs, root): create a file and remove it
        fd, probe = tempfile.mkstemp(prefix=".mygpt-probe-", dir=parent)
        os.close(fd)
        os.remove(probe)
    except OSError as err:
        reason = err.strerror
        raise error(lambda n: f"{named(n)}: cannot create files in {parent} ({reason}); choose another "
                              f"{other(n)}") from err


def check_disk_space(path: str, needed_bytes: int) -> None:
    """Refuse a run whose checkpoint (written twice over during a save) would not fit on the disk."""
    free = shutil.disk_usage(os.path.dirname(os.path.abspath(path))).free
    if 2 * needed_bytes > free:
        raise ResourceError(lambda n: f"{n('output')} {path}: a checkpoint needs about "
                                      f"{needed_bytes / 2**20:,.1f} MiB (twice that while saving) but only "
                                      f"{free / 2**20:,.1f} MiB are free; free some space or choose another "
                                      f"{n('output')}")


# Locks this process holds: lock path -> [fd, depth]. A run holds its outputs' locks while the saves
# it makes take them again; flock would refuse the second open file of one process, so it nests here.
_held: dict[str, list[int]] = {}
_held_guard = threading.Lock()


def _is_our_lock(lock_path: str) -> bool:
    """An empty file (a lock whose writer died before marking it) or one that starts with ``LOCK_MARK``."""
    try:
        with open(lock_path, "rb") as f:
            head = f.read(len(LOCK_MARK))
        return head in (b"", LOCK_MARK)
    except OSError:
        return not os.path.lexists(lock_path)


@contextlib.contextmanager
def output_lock(path: str, setting: str | None = None, user: str = "mygpt process", error: type = MyGPTError):
    """Hold ``<path>.lock`` while the block runs; another process holding it is refused with ``error``.

    A file of that name that is not a mygpt lock is refused too, never deleted. Nested calls in one
    process share the lock. On release the lock file is removed.
    """
    if fcntl is None:
        yield
        return
    lock_path = os.path.abspath(path) + ".lock"
    with _held_guard:
        if lock_path in _held:
            _held[lock_path][1] += 1
            nested = True
        else:
            nested = False
    if nested:
        try:
            yield
        finally:
            with _held_guard:
                _held[lock_path][1] -= 1
        return
    fd = _acquire(lock_path, path, setting, user, error)
    with _held_guard:
        _held[lock_path] = [fd, 1]
    remove_temporaries(path)
    try:
        yield
    finally:
        with _held_guard:
            del _held[lock_path]
        with contextlib.suppress(OSError):
            if _same_file(fd, lock_path):
                os.remove(lock_path)
        os.close(fd)


def _acquire(lock_path: str, path: str, setting: str | None, user: str, error: type) -> int:
    named = _named(path, setting)
    if not os.path.isdir(os.path.dirname(lock_path)):
        raise error(lambda n: f"{named(n)}: directory {os.path.dirname(path) or '.'} does not exist; create it first")
    while True:
        if not _is_our_lock(lock_path):
            raise error(lambda n: f"{lock_path} exists and is not a mygpt lock file; mygpt needs that name to guard "
                                  f"{named(n)}: move the file away")
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as err:
            reason = err.strerror
            raise error(lambda n, reason=reason: f"{named(n)}: cannot create its lock file {lock_path} ({reason})") from err
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise error(lambda n: f"{named(n)} is in use by another {user} (it holds {lock_path}); wait for it to "
                                  f"finish or choose another {n(setting) if setting else 'path'}") from None
        # A holder that just finished may have removed the file we opened: then lock the new one.
        if _same_file(fd, lock_path):
            break
        os.close(fd)
    os.ftruncate(fd, 0)
    os.write(fd, LOCK_MARK + f"pid {os.getpid()}\n".encode())
    return fd


def _same_file(fd: int, path: str) -> bool:
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except FileNotFoundError:
        return False


def write_output(path: str, kind: OutputKind, write: Callable[[BinaryIO], None], setting: str | None = None) -> None:
    """Write one file the guarded way: locked, refused if ``path`` is not ``kind``'s own, written atomically
    by ``write(f)`` (a failure leaves any previous file intact)."""
    with output_lock(path, setting, error=kind.error):
        if os.path.lexists(path) and (os.path.isdir(path) or not kind.replaceable(path)):
            check_output(path, kind, setting=setting)  # raises, naming the problem
        write_atomically(path, write)


def write_directory(path: str, kind: OutputKind, fill: Callable[[str], None], setting: str | None = None) -> None:
    """Write a folder the guarded way: locked, checked, filled by ``fill(tmp)`` under a temporary name
    beside ``path`` and moved into place only once complete (a failure leaves nothing behind)."""
    with output_lock(path, setting, error=kind.error):
        check_output(path, kind, setting=setting)
        with temporary_directory(path) as tmp:
            fill(tmp)
            install_directory(tmp, path)
