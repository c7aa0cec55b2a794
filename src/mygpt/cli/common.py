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

# Config fields whose flag is not simply the field name with dashes.
_FLAGS = {"norm_type": "--norm", "position_type": "--position"}


def flag(field: str) -> str:
    """The command-line flag of a config field: ``embed_dim`` -> ``--embed-dim``."""
    return _FLAGS.get(field, "--" + field.replace("_", "-"))


class HelpFormatter(argparse.HelpFormatter):
    """argparse's layout, except that an option marked ``help_below`` shows its help on the lines below.

    The book's help lists some options bare (``--steps STEPS``); their help goes underneath so that
    the book's option lines stay exactly as printed.
    """

    def _format_action(self, action: argparse.Action) -> str:
        if not getattr(action, "help_below", False):
            return super()._format_action(action)
        help_text, action.help = action.help, None
        try:
            header = super()._format_action(action)
        finally:
            action.help = help_text
        indent = min(self._action_max_length + 2, self._max_help_position)
        lines = self._split_lines(self._expand_help(action), max(self._width - indent, 11))
        return header + "".join(" " * indent + line + "\n" for line in lines)


def add_below(parser: argparse.ArgumentParser, *names: str, help: str, **kwargs) -> argparse.Action:
    """``parser.add_argument`` for an option whose help is shown below its (book) option line."""
    action = parser.add_argument(*names, help=help, **kwargs)
    action.help_below = True
    return action


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
