"""``mygpt info``: what a checkpoint holds, without running it."""

import argparse
import textwrap

from ..analysis.model_card import model_card
from ..checkpoint import non_finite_weights, read_checkpoint, rebuild
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


def _size(n: int) -> str:
    """A file size in bytes, KB, MB or GB (powers of 1,000)."""
    power = min(3, (len(str(n)) - 1) // 3)
    return f"{n:,} bytes" if power == 0 else f"{n / 1000 ** power:.1f} {('KB', 'MB', 'GB')[power - 1]}"


def _wrapped(first: str, values: dict) -> str:
    """``key=value`` pairs after ``first``, wrapped at 100 columns under the first pair."""
    text = ", ".join(f"{k}={v}" for k, v in values.items())
    return textwrap.fill(text, 100, initial_indent=first, subsequent_indent=" " * len(first))


def _tokenizer_line(tokenizer: dict) -> str:
    detail = f" ({tokenizer['symbols']} symbols + {tokenizer['merges']:,} merges)" if tokenizer["merges"] else ""
    return f"{tokenizer['kind']}, vocabulary {tokenizer['vocab_size']:,}{detail}"


def _training_lines(training: dict | None) -> list[str]:
    if training is None:
        return ["training:     none (weights only: a finished model, not resumable)"]
    step = "?" if training["step"] is None else training["step"]
    saved = training["saved"]
    lines = [f"training:     step {step}" + (f" ({' and '.join(saved)} state saved)" if saved else "")]
    settings = training["settings"]
    if settings is not None:
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
    card = model_card(ckpt, model, tokenizer, args.checkpoint)
    print(f"checkpoint:   {args.checkpoint} ({_size(card['file_bytes'])})")
    version = card["torch_version"]
    print(f"saved with:   torch {version}" if version
          else "saved with:   torch version not recorded (`mygpt train` records it)")
    print(f"tokenizer:    {_tokenizer_line(card['tokenizer'])}")
    print(_wrapped("config:       ", card["config"]))
    counts = card["parameters"]["by_module"]
    print(f"parameters:   {card['parameters']['total']:,}")
    width = max(map(len, counts))
    for name, count in counts.items():
        tied = "  (also the output head: tied)" if name == "token_embedding" else ""
        print(f"  {name:<{width}}  {count:>10,}{tied}")
    bad = non_finite_weights(model)
    if bad:
        print(f"weights:      NaN or infinite values in {len(bad)} tensor(s), e.g. {bad[0]}: this model cannot "
              "generate or be evaluated")
    for line in _training_lines(card["training"]):
        print(line)
