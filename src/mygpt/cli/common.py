"""What the sub-commands share: help texts and layout, flag names, devices and sampling."""

import argparse

import torch

from ..errors import MissingExtraError
from ..generate import generate
from ..utils import forward_precision, set_seed

DEVICE_HELP = "Compute device. 'auto' picks cuda → mps → cpu in that order."
PRECISION_HELP = ("Forward-pass precision. fp32 (default) is bit-deterministic; "
                  "bf16 uses torch.autocast.")
FAST_HELP = ("Use the fast path (SDPA, fused kernels, torch.compile where it pays, KV-cache sampling). "
             "Same function, not bit-identical to the book's numbers.")
DEVICES = ["auto", "cuda", "mps", "cpu"]
# --bpe-train-bytes of train and prepare: one meaning, the book's rule (Ch.28: ``text[:N]``).
BPE_TRAIN_UNIT = ("N counts the text's characters (the book's text[:N]), which are its bytes when it is "
                  "ASCII; 0 is the whole corpus.")

# Config fields whose flag is not simply the field name with dashes.
_FLAGS = {"norm_type": "--norm", "position_type": "--position"}


def flag(field: str) -> str:
    """The command-line flag of a config field: ``embed_dim`` -> ``--embed-dim``."""
    return _FLAGS.get(field, "--" + field.replace("_", "-"))


class HelpFormatter(argparse.HelpFormatter):
    """argparse's layout, plus two things every command's help gets from here rather than by hand.

    * An option marked ``help_below`` shows its help on the lines below its option line: the book lists
      some options bare (``--steps STEPS``), and their option lines stay exactly as printed.
    * After an option's help comes a paragraph of its own (so the book's help lines stay word for word
      above it): the option's ``more`` text, then its default when the help does not state it, from the
      value argparse uses (``default_note``), so the help cannot drift from the behaviour.
    """

    def _format_action(self, action: argparse.Action) -> str:
        below = getattr(action, "help_below", False)
        help_text = action.help
        if below:
            action.help = None
        try:
            text = super()._format_action(action)
        finally:
            action.help = help_text
        indent = min(self._action_max_length + 2, self._max_help_position)
        width = max(self._width - indent, 11)
        paragraphs = [self._expand_help(action)] if below and help_text else []
        paragraphs += [p for p in (getattr(action, "more", None), default_note(action)) if p]
        for paragraph in paragraphs:
            text += "".join(" " * indent + line + "\n" for line in self._split_lines(paragraph, width))
        return text


def default_note(action: argparse.Action) -> str | None:
    """"Default: X." for an option whose help does not say what it defaults to, from argparse's default;
    None when the help says it (or the option is required, or is -h/--version)."""
    said = f"{action.help or ''} {getattr(action, 'more', None) or ''}".lower()
    if (not action.option_strings and action.nargs not in ("?", "*")) or action.help == argparse.SUPPRESS:
        return None
    if isinstance(action, (argparse._HelpAction, argparse._VersionAction)) or "default" in said:
        return None
    if action.required:
        return None if "required" in said else "Required."
    if action.default is None:
        return None  # no value to show: the help must say what leaving it out means (tests/cli/test_help.py)
    if action.default is False or action.default == []:
        return "Default: off." if action.default is False else "Default: none."
    return f"Default: {action.default}."


class CommandParser(argparse.ArgumentParser):
    """The parser of each sub-command: ``HelpFormatter`` unless a command asks for another."""

    def __init__(self, *args, formatter_class=HelpFormatter, **kwargs):
        super().__init__(*args, formatter_class=formatter_class, **kwargs)


def option(parser: argparse.ArgumentParser, *names: str, help: str, more: str | None = None, below: bool = False,
           **kwargs) -> argparse.Action:
    """``parser.add_argument``, with ``more``: help shown as a paragraph after ``help`` (which the book's
    options keep word for word), and ``below``: the help under the option line (the book's bare lines)."""
    action = parser.add_argument(*names, help=help, **kwargs)
    action.more, action.help_below = more, below
    return action


def add_below(parser: argparse.ArgumentParser, *names: str, help: str, **kwargs) -> argparse.Action:
    """``option`` for an option whose help is shown below its (book) option line."""
    return option(parser, *names, help=help, below=True, **kwargs)


def sample(model, tokenizer, prompt: str, device: torch.device, *, max_new_tokens: int,
           temperature: float, top_k: int, seed: int, precision: str, fast: bool = False) -> str:
    """Seed, encode the prompt, sample (under bf16 autocast when asked) and decode prompt + continuation."""
    set_seed(seed)
    ids = tokenizer.encode(prompt).unsqueeze(0).to(device)
    with forward_precision(device, precision):
        out = generate(model, ids, max_new_tokens=max_new_tokens, temperature=temperature, top_k=top_k,
                       use_cache=fast)
    return tokenizer.decode(out[0])


def require_hf():
    """The conversion module; a missing ``hf`` extra becomes a one-line error."""
    try:
        import safetensors  # noqa: F401
        import tokenizers  # noqa: F401
    except ImportError as err:
        raise MissingExtraError(f"{err.name} is not installed; pip install 'mygpt[hf]'") from err
    from ..interop import hf

    return hf
