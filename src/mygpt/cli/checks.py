"""Up-front checks of the options that only the command line has, so mistakes fail fast in one line.

Model and training settings are checked by ``GPTConfig`` and ``TrainConfig`` themselves; what is left
here is about the machine, files, the tokenizer options and sampling. Every check runs before any
file is written and raises ``ConfigError`` naming the problem and the fix.
"""

import argparse
import os

import torch

from ..errors import ConfigError
from ..generate import check_sampling
from ..tokenizer import check_known_characters, require_tokenizers
from ..utils import MAX_SEED


def require(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


def check_device(name: str) -> None:
    """An explicitly requested accelerator must exist ('auto' always works)."""
    available = {"cuda": torch.cuda.is_available, "mps": torch.backends.mps.is_available}
    if name in available:
        require(available[name](), f"--device {name} was requested but no {name.upper()} device is "
                                   "available; use --device auto or --device cpu")


def check_val_every(args: argparse.Namespace) -> None:
    """``mygpt train --val-every`` needs held-out text: a ``--val-split`` (a prepared folder has its own)."""
    require(args.val_every == 0 or args.val_split > 0,
            f"--val-every {args.val_every} needs a validation split; add --val-split (e.g. 0.1) or drop "
            "--val-every")


def check_corpus_args(args: argparse.Namespace) -> None:
    """The validation split and the BPE options of ``mygpt train`` (and ``tokenizers`` for bytebpe)."""
    require(0.0 <= args.val_split < 1.0,
            f"--val-split must be in [0, 1) (got {args.val_split}), e.g. 0.1 holds out 10% for validation")
    for name in ("num_merges", "bpe_train_bytes"):
        value = getattr(args, name)
        require(value >= 0, f"--{name.replace('_', '-')} must be 0 or more (got {value})")
    if args.tokenizer == "bytebpe":
        require_tokenizers()


def check_output_path(path: str) -> None:
    """The checkpoint must be creatable: an existing directory to write into, and not a directory."""
    require(not os.path.isdir(path), f"--output {path} is a directory; give a file name such as "
                                     f"{os.path.join(path, 'model.ckpt')}")
    parent = os.path.dirname(path) or "."
    require(os.path.isdir(parent), f"--output {path}: directory {parent} does not exist; create it first")
    require(os.access(parent, os.W_OK), f"--output {path}: directory {parent} is not writable; "
                                        "choose another --output")


def check_seed(seed: int, *, uses: int = 1, offset: int = 0) -> None:
    """``--seed`` of ``train`` and ``generate``: every seed the command derives must fit the generators.

    The command seeds with ``seed + offset`` up to ``seed + offset + uses - 1``; each must be within
    0..MAX_SEED, the range in which distinct seeds give distinct streams (see ``set_seed``).
    """
    top = MAX_SEED - offset - (uses - 1)
    why = "" if top == MAX_SEED else f", as the command also seeds with seed + {offset + uses - 1}"
    require(0 <= seed <= top, f"--seed must be a whole number from 0 to {top} (got {seed}){why}")


def check_generate_args(args: argparse.Namespace) -> None:
    """Impossible sampling settings of ``mygpt generate``."""
    require(args.prompt != "", "--prompt is empty; give at least one character, e.g. --prompt 'ROMEO:'")
    check_sampling(args.temperature, args.top_k, args.top_p, args.max_new_tokens)
    require(args.num_samples >= 1, f"--num-samples must be at least 1 (got {args.num_samples})")
    require("" not in args.stop, "--stop needs a non-empty string, e.g. --stop $'\\n\\n' to end at a blank line")
    check_seed(args.seed, uses=args.num_samples)
    check_device(args.device)


def check_prompt(prompt: str, known_chars: list[str] | None) -> None:
    """Every prompt character must be in the tokenizer's alphabet (``tokenizer.check_known_characters``)."""
    check_known_characters(prompt, known_chars)


def check_figure_path(path: str) -> None:
    """A figure's ``--out``: a .png, .svg or .pdf name in an existing, writable directory.

    The extension rule also keeps a slip such as ``--out model.ckpt`` from overwriting a checkpoint.
    """
    from ..analysis.plots import FIGURE_FORMATS

    require(os.path.splitext(path)[1].lower() in FIGURE_FORMATS,
            f"--out {path}: a figure must end in {', '.join(FIGURE_FORMATS)}, e.g. loss.png")
    require(not os.path.isdir(path), f"--out {path} is a directory; give a file name such as "
                                     f"{os.path.join(path, 'figure.png')}")
    parent = os.path.dirname(path) or "."
    require(os.path.isdir(parent), f"--out {path}: directory {parent} does not exist; create it first")
    require(os.access(parent, os.W_OK), f"--out {path}: directory {parent} is not writable")
