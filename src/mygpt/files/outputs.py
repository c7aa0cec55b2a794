"""Guarding a training run's output file: checked before training, owned by one run at a time.

Training may only replace a file it can recognise as a mygpt checkpoint, never the training text or
any other file; the directory must accept a new file; and a lock file next to the output
(``<output>.lock``, held with ``flock``) makes a second run on the same output stop in one line
instead of racing the first. The lock is released when its process ends, however it ends; the
next holder removes the temporary files a killed save left behind.
"""

import contextlib
import glob
import os
import shutil
import tempfile

from ..checkpoint import is_checkpoint
from ..errors import CheckpointError, ConfigError, ResourceError, require

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; saves stay atomic, the last writer wins
    fcntl = None


def check_new_file(path: str, setting: str = "output", example: str = "model.ckpt") -> None:
    """Refuse a path mygpt could not write a file to: a directory, or a place in a missing, read-only or
    otherwise unwritable directory. ``setting`` names the path in messages; ``example`` is a file name
    the message suggests when ``path`` is a directory."""
    require(not os.path.isdir(path), lambda n: f"{n(setting)} {path} is a directory; give a file name such as "
                                               f"{os.path.join(path, example)}")
    parent = os.path.dirname(path) or "."
    require(os.path.isdir(parent), lambda n: f"{n(setting)} {path}: directory {parent} does not exist; create "
                                             "it first")
    require(os.access(parent, os.W_OK), lambda n: f"{n(setting)} {path}: directory {parent} is not writable; "
                                                  f"choose another {n(setting)}")
    try:  # the only reliable test (read-only mounts, ACLs, root): create a file and remove it
        fd, probe = tempfile.mkstemp(prefix=".mygpt-probe-", dir=parent)
        os.close(fd)
        os.remove(probe)
    except OSError as err:
        reason = err.strerror
        raise ConfigError(lambda n: f"{n(setting)} {path}: cannot create files in {os.path.abspath(parent)} "
                                    f"({reason}); choose another {n(setting)}") from err


def check_output(path: str, text_path: str | None = None) -> None:
    """Refuse, before any training, an output mygpt must not replace: the training text, or a file that is
    not a mygpt checkpoint (``check_new_file`` tells whether it can be written at all)."""
    if text_path is not None and os.path.exists(path) and os.path.samefile(path, text_path):
        raise CheckpointError(lambda n: f"{n('output')} {path} is the training text; choose another {n('output')} "
                                        "(training would replace the text with a checkpoint)")
    if os.path.exists(path) and not os.path.isdir(path) and not is_checkpoint(path):
        raise CheckpointError(lambda n: f"{n('output')} {path} exists and is not a mygpt checkpoint; move it away "
                                        f"or choose another {n('output')} (mygpt replaces only its own checkpoints)")


def check_disk_space(path: str, needed_bytes: int) -> None:
    """Refuse a run whose checkpoint (written twice over during a save) would not fit on the disk."""
    free = shutil.disk_usage(os.path.dirname(os.path.abspath(path))).free
    if 2 * needed_bytes > free:
        raise ResourceError(lambda n: f"{n('output')} {path}: a checkpoint needs about "
                                      f"{needed_bytes / 2**20:,.1f} MiB (twice that while saving) but only "
                                      f"{free / 2**20:,.1f} MiB are free; free some space or choose another "
                                      f"{n('output')}")


@contextlib.contextmanager
def output_lock(path: str):
    """Hold ``<path>.lock`` for the duration of a run; a second holder is refused with ``CheckpointError``."""
    if fcntl is None:
        yield
        return
    lock_path = path + ".lock"
    while True:
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise CheckpointError(lambda n: f"{n('output')} {path} is in use by another training run (it holds "
                                            f"{lock_path}); wait for it to finish or choose another "
                                            f"{n('output')}") from None
        # A run that just finished may have removed the file we opened: then lock the new one.
        if _same_file(fd, lock_path):
            break
        os.close(fd)
    _remove_stale_temporaries(path)
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            os.remove(lock_path)
        os.close(fd)


def _remove_stale_temporaries(path: str) -> None:
    """Temporary files of saves cut short by ``kill -9``: no one else writes them while we hold the lock."""
    directory, name = os.path.split(os.path.abspath(path))
    for stale in glob.glob(os.path.join(glob.escape(directory), f".{glob.escape(name)}.*.tmp")):
        with contextlib.suppress(OSError):
            os.remove(stale)


def _same_file(fd: int, path: str) -> bool:
    try:
        return os.path.samestat(os.fstat(fd), os.stat(path))
    except FileNotFoundError:
        return False
