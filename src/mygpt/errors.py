"""Errors that a user can fix, and the one way the library refuses: ``require(ok, describe)``.

The CLI prints these errors as one line and exits with status 2; library callers catch them like any
exception. Each message names the problem and the fix, and names settings through the function it is
given: the library's messages say field and argument names (``seq_len``, ``output``), the CLI words
the same message with its flags (``--seq-len``, ``--output``) through ``worded(flag)``. Notices and
warnings travel the same way, as Python warnings (``notify``).
"""

import warnings
from collections.abc import Callable

Describe = str | Callable[[Callable[[str], str]], str]


class _Worded:
    """A message built from ``describe(name)``, which words it given a function that names a setting:
    ``str()`` names fields (``embed_dim``); ``worded(flag_name)`` names them the CLI's way."""

    def __init__(self, describe: Describe):
        self.describe = describe if callable(describe) else (lambda name: describe)
        super().__init__(self.describe(str))

    def worded(self, name: Callable[[str], str]) -> str:
        return self.describe(name)

    def __reduce__(self):  # pickled (e.g. out of a worker process) as its library wording
        return type(self), (str(self),)


class MyGPTError(_Worded, Exception):
    """Base class of the problems the command line reports as ``mygpt: error: <message>``."""


def require(ok: bool, describe: Describe, error: type[MyGPTError] | None = None) -> None:
    """Raise ``error(describe)`` (default ``ConfigError``) unless ``ok``: the one check-or-raise of mygpt.

    ``describe`` is the message, or ``describe(name)`` wording it with ``name(setting)`` for each
    setting it mentions, so the CLI can show its flags where the library shows field names.
    """
    if not ok:
        raise (error or ConfigError)(describe)


class ConfigError(MyGPTError, ValueError):
    """Impossible hyper-parameters or options (checked before any file is written)."""


class CorpusError(MyGPTError):
    """A training text that is missing, empty, unreadable, or could not be downloaded."""


class CheckpointError(MyGPTError):
    """A checkpoint that is missing, corrupt, truncated, or not a mygpt checkpoint."""


class OutputError(MyGPTError):
    """A path mygpt will not write: a file that is not its own, one another process is writing, or a
    folder where no file can be created (see ``files.outputs``)."""


class StdoutError(MyGPTError):
    """stdout cannot be written (a full disk, an I/O error): what the command prints is lost."""


class MetricsError(MyGPTError):
    """A metrics file (``NAME.metrics.jsonl``) that is missing, unreadable or not what ``mygpt train`` writes."""


class ResourceError(MyGPTError):
    """A run that cannot fit the machine: memory for its shapes, or disk for its checkpoint."""


class TrainingError(ConfigError):
    """Training that cannot go on with its settings, such as a loss that became NaN or infinite."""


class TrainingStopped(Exception):
    """Training stopped by SIGINT or SIGTERM after finishing a step and saving a resumable checkpoint.

    ``step`` is the last completed step of ``steps``, ``path`` the checkpoint that resumes it (None if
    the save failed) and ``exit_status`` the shell's convention for the signal (130 for SIGINT, 143 for
    SIGTERM).
    """

    def __init__(self, step: int, signal_name: str, exit_status: int, path: str | None,
                 steps: int | None = None):
        self.step, self.signal_name, self.exit_status, self.path = step, signal_name, exit_status, path
        self.steps = steps
        super().__init__(f"stopped by {signal_name} after step {step}")


class UnknownSymbolError(KeyError, ValueError):
    """A character or symbol a tokenizer does not know (Ch.16, Ch.23).

    The book raises ``KeyError(symbol)``, and its programs print ``str()`` of it (the symbol's repr),
    so this keeps both; it is also a ``ValueError`` for callers who check arguments that way. The
    fix is attached as a note, which tracebacks show after the message.
    """

    def __init__(self, symbol: str, hint: str):
        super().__init__(symbol)
        self.add_note(hint)


# The book's programs print ``type(err).__name__`` of this error, which must read ``KeyError``.
UnknownSymbolError.__name__ = UnknownSymbolError.__qualname__ = "KeyError"


class MyGPTWarning(_Worded, UserWarning):
    """A setting that is legal but probably not what was meant; the CLI prints it as one line."""


class MyGPTNotice(MyGPTWarning):
    """A decision the library took for the caller (a precision fallback, whether to compile, a
    download), said once; the CLI prints it as one line ``mygpt: <message>``."""


def notify(describe: Describe, category: type[MyGPTWarning] = MyGPTNotice, stacklevel: int = 2) -> None:
    """Tell the caller something through Python's warnings, the library's one channel for notices and
    warnings. ``stacklevel`` counts from the function that calls ``notify`` (2: the line that called it)."""
    warnings.warn(category(describe), stacklevel=stacklevel + 1)


class MissingExtraError(MyGPTError, ImportError):
    """An optional dependency is not installed; the message names the ``pip install`` that adds it."""


class InteropError(MyGPTError):
    """A Hugging Face directory mygpt cannot read, or a model that GPT-2's format cannot represent."""
