"""Up-front checks of the options that only the command line has, so mistakes fail fast in one line.

Model and training settings are checked by ``GPTConfig`` and ``TrainConfig`` themselves, the corpus
options by ``data.sources`` and a whole training run by ``train.preflight``; what is left here is the
command line's own: the device, figure paths, sampling and prompts. Every check runs
before any file is written and raises ``ConfigError`` naming the problem and the fix.
"""

import os

import torch

from ..errors import require
from ..files.outputs import check_output
from ..generate import check_sampling, check_stops
from ..utils import check_seed


def check_device(name: str) -> None:
    """An explicitly requested accelerator must exist ('auto' always works)."""
    available = {"cuda": torch.cuda.is_available, "mps": torch.backends.mps.is_available}
    if name in available:
        require(available[name](), f"--device {name} was requested but no {name.upper()} device is "
                                   "available; use --device auto or --device cpu")


def check_generate_args(args) -> None:
    """Impossible sampling settings of ``mygpt generate`` (its ``Request``)."""
    check_prompt_given(args.prompt)
    check_sampling(args.temperature, args.top_k, args.top_p, args.max_new_tokens)
    require(args.num_samples >= 1, f"--num-samples must be at least 1 (got {args.num_samples})")
    check_stops(args.stop)
    check_seed(args.seed, uses=args.num_samples)
    check_device(args.device)


def check_prompt_given(prompt: str) -> None:
    """``--prompt`` of ``generate`` and ``attention`` must hold some text."""
    require(prompt != "", "--prompt is empty; give at least one character, e.g. --prompt 'ROMEO:'")


def check_prompt(prompt: str, tokenizer) -> None:
    """Every prompt character must be in the tokenizer's alphabet (it was seen in training)."""
    tokenizer.check_known(prompt, "the prompt", "use only characters from the training text")


def check_figure_path(path: str) -> None:
    """A figure's ``--out``: a .png, .svg or .pdf name, new or a figure mygpt drew, in a writable directory.

    The extension rule also keeps a slip such as ``--out model.ckpt`` from overwriting a checkpoint.
    """
    from ..analysis.plots import FIGURE, FIGURE_FORMATS

    require(os.path.splitext(path)[1].lower() in FIGURE_FORMATS,
            f"--out {path}: a figure must end in {', '.join(FIGURE_FORMATS)}, e.g. loss.png")
    check_output(path, FIGURE, setting="out")
