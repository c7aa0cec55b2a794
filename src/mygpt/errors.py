"""Errors that a user can fix: the CLI prints them as one line and exits with status 2.

Library callers catch them like any exception; each message names the problem and the fix.
"""

from collections.abc import Callable


class MyGPTError(Exception):
    """Base class of the problems the command line reports as ``mygpt: error: <message>``."""


class ConfigError(MyGPTError, ValueError):
    """Impossible hyper-parameters or options (checked before any file is written).

    Built from ``describe(name)``, which words the problem given a function that names a setting:
    the message names fields (``embed_dim``); ``worded(flag_name)`` names them the CLI's way.
    """

    def __init__(self, describe: str | Callable[[Callable[[str], str]], str]):
        self.describe = describe if callable(describe) else (lambda name: describe)
        super().__init__(self.describe(str))

    def worded(self, name: Callable[[str], str]) -> str:
        return self.describe(name)


class CorpusError(MyGPTError):
    """A training text that is missing, empty, unreadable, or could not be downloaded."""


class CheckpointError(MyGPTError):
    """A checkpoint that is missing, corrupt, truncated, or not a mygpt checkpoint."""


class MissingDependencyError(MyGPTError, ImportError):
    """An optional package that a feature needs is not installed (the message says which extra)."""


class InteropError(MyGPTError):
    """A Hugging Face directory mygpt cannot read, or a model that GPT-2's format cannot represent."""
