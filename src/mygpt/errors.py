"""Errors that a user can fix: the CLI prints them as one line and exits with status 2.

Library callers catch them like any exception; each message names the problem and the fix.
"""


class MyGPTError(Exception):
    """Base class of the problems the command line reports as ``mygpt: error: <message>``."""


class ConfigError(MyGPTError, ValueError):
    """Impossible hyper-parameters or options (checked before any file is written)."""


class CorpusError(MyGPTError):
    """A training text that is missing, empty, unreadable, or could not be downloaded."""


class CheckpointError(MyGPTError):
    """A checkpoint that is missing, corrupt, truncated, or not a mygpt checkpoint."""
