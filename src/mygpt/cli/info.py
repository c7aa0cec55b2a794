"""``mygpt info``: what a checkpoint holds, without running it."""

import argparse
import os
import textwrap

from ..checkpoint import non_finite_weights, read_checkpoint, rebuild, saved_tokenizer_kind
from .train import BATCH_SEED_OFFSET

DESCRIPTION = ("Describe a checkpoint: file size, the torch version that saved it, the tokenizer and its "
               "vocabulary, the model's configuration, its parameters by module, and the training state "
               "(step reached and the training settings, when the file was saved by `mygpt train`).")


def add_parser(sub) -> None:
    """Register ``mygpt info``."""
    i = sub.add_parser("info", help="Describe a checkpoint: config, parameters, tokenizer, training state.",
                       description=DESCRIPTION)
    i.add_argument("checkpoint", metavar="CHECKPOINT", help="Checkpoint file to describe.")
    i.set_defaults(func=_info_command)


def params_by_module(model) -> dict[str, int]:
    """Trainable parameters per top-level module, one entry per block; a tied weight counts once."""
    counts: dict[str, int] = {}
    for name, param in model.named_parameters():  # shared (tied) tensors are listed once
        parts = name.split(".")
        group = ".".join(parts[:2]) if parts[0] == "blocks" else parts[0]
        counts[group] = counts.get(group, 0) + param.numel()
    return counts


def _size(n: int) -> str:
    """A file size in bytes, KB, MB or GB (powers of 1,000)."""
    power = min(3, (len(str(n)) - 1) // 3)
    return f"{n:,} bytes" if power == 0 else f"{n / 1000 ** power:.1f} {('KB', 'MB', 'GB')[power - 1]}"


def _wrapped(first: str, values: dict) -> str:
    """``key=value`` pairs after ``first``, wrapped at 100 columns under the first pair."""
    text = ", ".join(f"{k}={v}" for k, v in values.items())
    return textwrap.fill(text, 100, initial_indent=first, subsequent_indent=" " * len(first))


def _tokenizer_line(ckpt: dict, tokenizer) -> str:
    kind = saved_tokenizer_kind(ckpt)
    merges = len(getattr(tokenizer, "merges", ()))
    detail = f" ({len(tokenizer.chars)} symbols + {merges:,} merges)" if merges else ""
    return f"{kind}, vocabulary {tokenizer.vocab_size:,}{detail}"


def _training_lines(ckpt: dict) -> list[str]:
    state = ckpt.get("training_state")
    if not isinstance(state, dict):
        return ["training:     none (weights only: a finished model, not resumable)"]
    saved = [what for key, what in (("optimizer_state_dict", "optimizer"), ("rng_state", "RNG"))
             if key in state]
    lines = [f"training:     step {state.get('step', '?')}"
             + (f" ({' and '.join(saved)} state saved)" if saved else "")]
    settings = state.get("train_config")
    if isinstance(settings, dict):
        if isinstance(settings.get("seed"), int):
            lines.append(_seed_line(settings["seed"]))
        lines.append(_wrapped("  ", {("batch_seed" if k == "seed" else k): v for k, v in settings.items()}))
    return lines


def _seed_line(batch_seed: int) -> str:
    """The seed as the user gave it to ``mygpt train --seed`` (the batches drew from it + 42), and the batch
    seed it was turned into, labelled; a batch seed below 42 was set through ``TrainConfig`` directly."""
    seed = batch_seed - BATCH_SEED_OFFSET
    if seed < 0:
        return f"  seed: none given to mygpt train (batch_seed={batch_seed}, set in TrainConfig)"
    return (f"  seed: {seed} (mygpt train --seed {seed}; the batches and dropout drew from batch_seed={batch_seed}"
            f" = seed + {BATCH_SEED_OFFSET})")


def _info_command(args: argparse.Namespace) -> None:
    ckpt = read_checkpoint(args.checkpoint)
    model, tokenizer = rebuild(ckpt, args.checkpoint, finite=False)  # a diverged run is still described
    print(f"checkpoint:   {args.checkpoint} ({_size(os.path.getsize(args.checkpoint))})")
    version = ckpt.get("torch_version")
    print(f"saved with:   torch {version}" if version
          else "saved with:   torch version not recorded (`mygpt train` records it)")
    print(f"tokenizer:    {_tokenizer_line(ckpt, tokenizer)}")
    config = {k: v for k, v in vars(model.config).items() if k != "dropout"}  # dropout is not saved
    print(_wrapped("config:       ", config))
    counts = params_by_module(model)
    print(f"parameters:   {sum(counts.values()):,}")
    width = max(map(len, counts))
    for name, count in counts.items():
        tied = "  (also the output head: tied)" if name == "token_embedding" else ""
        print(f"  {name:<{width}}  {count:>10,}{tied}")
    bad = non_finite_weights(model)
    if bad:
        print(f"weights:      NaN or infinite values in {len(bad)} tensor(s), e.g. {bad[0]}: this model cannot "
              "generate or be evaluated")
    for line in _training_lines(ckpt):
        print(line)
