"""Up-front checks of the command-line options, so mistakes fail fast with one clear line.

Every check runs before any file is written and raises ``ConfigError`` naming the problem and the fix.
"""

import argparse
import math
import os

import torch

from .errors import ConfigError


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


def _positive(args: argparse.Namespace, *names: str) -> None:
    for name in names:
        value = getattr(args, name)
        flag = "--" + name.replace("_", "-")
        _require(value is None or value >= 1, f"{flag} must be at least 1 (got {value})")


def _non_negative(args: argparse.Namespace, *names: str) -> None:
    for name in names:
        value = getattr(args, name)
        flag = "--" + name.replace("_", "-")
        _require(value >= 0, f"{flag} must be 0 or more (got {value}); 0 switches it off")


def check_device(name: str) -> None:
    """An explicitly requested accelerator must exist ('auto' always works)."""
    available = {"cuda": torch.cuda.is_available, "mps": torch.backends.mps.is_available}
    if name in available:
        _require(available[name](), f"--device {name} was requested but no {name.upper()} device is "
                                    "available; use --device auto or --device cpu")


def check_train_args(args: argparse.Namespace) -> None:
    """Impossible model or training settings of ``mygpt train``."""
    _positive(args, "steps", "batch_size", "seq_len", "embed_dim", "num_heads", "num_layers",
              "max_seq_len", "print_every", "num_kv_heads")
    _non_negative(args, "val_every", "checkpoint_every", "warmup", "num_merges", "bpe_train_bytes")
    _require(math.isfinite(args.lr) and args.lr > 0, f"--lr must be a positive number (got {args.lr}); "
                                                     "the default is 1e-3")
    _require(math.isfinite(args.max_grad_norm) and args.max_grad_norm >= 0,
             f"--max-grad-norm must be 0 or more (got {args.max_grad_norm}); 0 disables clipping")
    _require(0.0 <= args.dropout < 1.0, f"--dropout must be in [0, 1) (got {args.dropout}), e.g. 0.1")
    _require(0.0 <= args.val_split < 1.0,
             f"--val-split must be in [0, 1) (got {args.val_split}), e.g. 0.1 holds out 10% for validation")
    _require(args.embed_dim % args.num_heads == 0,
             f"--embed-dim {args.embed_dim} is not divisible by --num-heads {args.num_heads}; "
             f"choose an --embed-dim that is a multiple of {args.num_heads} "
             f"(e.g. {args.num_heads * max(1, args.embed_dim // args.num_heads)})")
    kv = args.num_kv_heads if args.num_kv_heads is not None else args.num_heads
    divisors = ", ".join(str(d) for d in range(1, args.num_heads + 1) if args.num_heads % d == 0)
    _require(args.num_heads % kv == 0, f"--num-heads {args.num_heads} is not divisible by --num-kv-heads "
                                       f"{kv}; use a --num-kv-heads that divides it ({divisors})")
    head_dim = args.embed_dim // args.num_heads
    _require(args.position != "rope" or head_dim % 2 == 0,
             f"--position rope needs an even head dimension, but --embed-dim {args.embed_dim} / "
             f"--num-heads {args.num_heads} = {head_dim}; change --embed-dim or --num-heads")
    _require(args.seq_len <= args.max_seq_len, f"--seq-len {args.seq_len} exceeds --max-seq-len "
                                               f"{args.max_seq_len}; lower --seq-len or raise --max-seq-len")
    check_device(args.device)
    check_output_path(args.output)


def check_output_path(path: str) -> None:
    """The checkpoint must be creatable: an existing directory to write into, and not a directory."""
    _require(not os.path.isdir(path), f"--output {path} is a directory; give a file name such as "
                                      f"{os.path.join(path, 'model.ckpt')}")
    parent = os.path.dirname(path) or "."
    _require(os.path.isdir(parent), f"--output {path}: directory {parent} does not exist; create it first")
    _require(os.access(parent, os.W_OK), f"--output {path}: directory {parent} is not writable; "
                                         "choose another --output")


def check_data(train_data: torch.Tensor, val_data: torch.Tensor | None, args: argparse.Namespace) -> None:
    """Enough tokens for one training window (and one validation window when validation runs)."""
    need = args.seq_len + 2
    _require(len(train_data) >= need, f"the training text has {len(train_data)} tokens but --seq-len "
                                      f"{args.seq_len} needs at least {need}; use a longer text or a "
                                      "smaller --seq-len")
    if val_data is not None and args.val_every > 0:
        _require(len(val_data) >= need, f"--val-split {args.val_split} leaves {len(val_data)} validation "
                                        f"tokens but --seq-len {args.seq_len} needs at least {need}; raise "
                                        "--val-split or use a longer text")


def check_generate_args(args: argparse.Namespace) -> None:
    """Impossible sampling settings of ``mygpt generate``."""
    _require(args.prompt != "", "--prompt is empty; give at least one character, e.g. --prompt 'ROMEO:'")
    _non_negative(args, "max_new_tokens")
    _require(args.temperature > 0 and math.isfinite(args.temperature),
             f"--temperature must be a positive number (got {args.temperature}), e.g. 0.8")
    _positive(args, "top_k")
    check_device(args.device)


def check_prompt(prompt: str, known_chars: list[str]) -> None:
    """Every prompt character must be in the tokenizer's alphabet (it was seen in training)."""
    unknown = sorted(set(prompt) - set(known_chars))
    _require(not unknown, f"the prompt contains {len(unknown)} character(s) the checkpoint's tokenizer "
                          f"does not know: {''.join(unknown)!r}; use only characters from the training text")
