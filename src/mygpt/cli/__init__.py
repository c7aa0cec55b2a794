"""The ``mygpt`` command line: the book's ``train`` and ``generate`` (Ch.18), and mygpt's own commands.

The application side of mygpt: argument parsing and printing for people live here, and the library
never imports this package. ``COMMANDS`` maps each verb to the module that registers it (its
``add_parser(sub)`` sets the function that runs it); ``main`` runs the chosen one and turns how it
ended into what a shell expects: the problems a user can fix as one line on stderr and exit status 2,
a stopped training run as the command that resumes it.
"""

import argparse
import contextlib
import functools
import importlib
import os
import shlex
import sys
import warnings

from .. import __version__
from ..errors import MyGPTError, MyGPTNotice, MyGPTWarning, StdoutError, TrainingStopped
from ..train.memory import is_out_of_memory
from .common import CommandParser, flag

__all__ = ["COMMANDS", "main", "resume_command"]

# Every verb of the command line and the module of ``mygpt.cli`` that registers it with its
# ``add_parser(sub)``, in the order ``mygpt --help`` lists them (the book's two first).
COMMANDS = {
    "train": "train",
    "generate": "generate",
    "prepare": "prepare",
    "demo": "demo",
    "bench": "bench",
    "import-hf": "import_hf",
    "export-hf": "export_hf",
    "export-gguf": "export_gguf",
    "eval": "evaluate",
    "info": "info",
    "plot": "plot",
    "attention": "attention",
    "serve": "serve",
}


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mygpt", description="Tiny GPT trainer and text generator.")
    parser.add_argument("--version", action="version", version=f"mygpt {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=CommandParser)
    for module in COMMANDS.values():
        importlib.import_module(f"{__name__}.{module}").add_parser(sub)
    return parser


def _show_warning(name_of, message, category, filename, lineno, file=None, line=None) -> None:
    """mygpt's own notices and warnings as one line each on stderr, worded with ``name_of``; others as Python
    shows them."""
    if isinstance(message, MyGPTNotice):
        print(f"mygpt: {message.worded(name_of)}", file=sys.stderr, flush=True)
    elif isinstance(message, MyGPTWarning):
        print(f"mygpt: warning: {message.worded(name_of)}", file=sys.stderr, flush=True)
    else:
        print(warnings.formatwarning(message, category, filename, lineno, line), file=sys.stderr, end="")


def command_options(parser: argparse.ArgumentParser, command: str) -> set[str]:
    """The option strings of sub-command ``command`` (``--seq-len``, ...)."""
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return {name for action in sub.choices[command]._actions for name in action.option_strings}


def namer(options: set[str]):
    """How a command words a setting named by its field: its flag where the command has that option, else
    the field's own name (``mygpt eval`` has no --max-seq-len: the model's max_seq_len), so a hint never
    names an option the command lacks."""
    return lambda field: flag(field) if flag(field) in options else field


class _GuardedStdout:
    """``sys.stdout`` whose write errors (other than a reader gone away) become ``StdoutError``."""

    def __init__(self, stream):
        self._stream = stream

    def __getattr__(self, name):
        return getattr(self._stream, name)

    def _guard(self, call, *args):
        try:
            return call(*args)
        except BrokenPipeError:
            raise
        except OSError as err:
            raise StdoutError(f"cannot write to stdout ({err.strerror or err}); the output is lost, nothing "
                              "else was affected") from err

    def write(self, text: str) -> int:
        return self._guard(self._stream.write, text)

    def flush(self) -> None:
        self._guard(self._stream.flush)


def _open_standard_streams() -> None:
    """A standard stream closed before we started (``mygpt ... >&-``) is None in Python: write to nowhere."""
    if sys.stdout is None:
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - for the rest of the process
    if sys.stderr is None:
        sys.stderr = open(os.devnull, "w")  # noqa: SIM115


def main(argv: list[str] | None = None) -> None:
    """Parse ``argv`` (default ``sys.argv[1:]``) and run the chosen sub-command.

    Problems the user can fix end the program with one line on stderr and exit status 2, an
    unwritable stdout (a full disk) among them; a closed stdout is written to nowhere.
    """
    _open_standard_streams()
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = _build_parser()
    args = parser.parse_args(argv)
    options = command_options(parser, args.command)
    name_of = namer(options)
    stdout = sys.stdout
    sys.stdout = _GuardedStdout(stdout)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always", MyGPTWarning)
            warnings.showwarning = functools.partial(_show_warning, name_of)
            args.func(args)
        sys.stdout.flush()  # a full disk shows here, not in the interpreter's last flush
    except StdoutError as err:
        _discard_stdout(stdout)
        print(f"mygpt: error: {err}", file=sys.stderr)
        sys.exit(2)
    except MyGPTError as err:
        print(f"mygpt: error: {err.worded(name_of)}", file=sys.stderr)
        sys.exit(2)
    except (MemoryError, RuntimeError) as err:
        if not is_out_of_memory(err):
            raise
        detail = (str(err).strip() or type(err).__name__).splitlines()[0][:160]
        lower = [name for name in ("--batch-size", "--seq-len", "--max-new-tokens") if name in options]
        hint = f"{', '.join(lower)} or the model's size" if lower else "the model's size"
        print(f"mygpt: error: out of memory ({detail}); lower {hint}", file=sys.stderr)
        sys.exit(2)
    except TrainingStopped as stop:
        print(f"mygpt: stopped by {stop.signal_name} after step {stop.step} of {stop.steps}; saved a resumable "
              f"checkpoint to {stop.path}", file=sys.stderr)
        print(f"resume with: {resume_command(argv, stop.path)}", file=sys.stderr, flush=True)
        sys.exit(stop.exit_status)
    except KeyboardInterrupt:
        print("mygpt: interrupted; the last saved checkpoint (if any) is intact", file=sys.stderr)
        sys.exit(130)
    except BrokenPipeError:  # the reader of stdout went away (e.g. `mygpt info C | head`): nothing to add
        _discard_stdout(stdout)
        sys.exit(1)
    finally:
        if isinstance(sys.stdout, _GuardedStdout):
            sys.stdout = stdout


def _discard_stdout(stdout) -> None:
    """Point stdout's descriptor at /dev/null, so that the interpreter's last flush of what is still
    buffered cannot fail again at exit."""
    sys.stdout = stdout
    with contextlib.suppress(OSError, ValueError, AttributeError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), stdout.fileno())


def resume_command(argv: list[str], checkpoint: str) -> str:
    """The command line that was run, with ``--resume checkpoint`` in place of any earlier --resume."""
    kept, skip = [], False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--resume":
            skip = True
        elif not arg.startswith("--resume="):
            kept.append(arg)
    return shlex.join(["mygpt", *kept, "--resume", checkpoint])
