"""Errors that a user can fix: the CLI prints them as one line and exits with status 2.

Library callers catch them like any exception; each message names the problem and the fix.
"""

from collections.abc import Callable


class MyGPTError(Exception):
    """Base class of the problems the command line reports as ``mygpt: error: <message>``."""


class _Worded:
    """A message built from ``describe(name)``, which words it given a function that names a setting:
    ``str()`` names fields (``embed_dim``); ``worded(flag_name)`` names them the CLI's way."""

    def __init__(self, describe: str | Callable[[Callable[[str], str]], str]):
        self.describe = describe if callable(describe) else (lambda name: describe)
        super().__init__(self.describe(str))

    def worded(self, name: Callable[[str], str]) -> str:
        return self.describe(name)


class ConfigError(_Worded, MyGPTError, ValueError):
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

    ``step`` is the last completed step, ``path`` the checkpoint that resumes it (None if the save
    failed) and ``exit_status`` the shell's convention for the signal (130 for SIGINT, 143 for SIGTERM).
    """

    def __init__(self, step: int, signal_name: str, exit_status: int, path: str | None):
        self.step, self.signal_name, self.exit_status, self.path = step, signal_name, exit_status, path
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


class MissingExtraError(MyGPTError, ImportError):
    """An optional dependency is not installed; the message names the ``pip install`` that adds it."""


class InteropError(MyGPTError):
    """A Hugging Face directory mygpt cannot read, or a model that GPT-2's format cannot represent."""
