"""``mygpt generate``: sample text from a checkpoint (Ch.15, Ch.18)."""

import argparse

from ..checkpoint import load_checkpoint
from ..fast import fast_precision, prepare_fast
from ..utils import pick_device
from .checks import check_generate_args, check_prompt
from .common import DEVICE_HELP, DEVICES, FAST_HELP, PRECISION_HELP, HelpFormatter, add_below, sample

DESCRIPTION = ("Continue a prompt with text sampled from a trained checkpoint, one token at a time. "
               "Prints the prompt followed by the continuation.")


def add_parser(sub) -> None:
    """Register ``mygpt generate`` (the book's options in its order, then ``--fast``)."""
    g = sub.add_parser("generate", help="Generate text from a checkpoint.", description=DESCRIPTION,
                       formatter_class=HelpFormatter)
    add_below(g, "--checkpoint", required=True, help="Checkpoint written by `mygpt train`.")
    add_below(g, "--prompt", required=True,
              help="Text to continue; only characters the model saw in training.")
    add_below(g, "--max-new-tokens", type=int, default=200, help="Tokens to generate. Default: 200.")
    add_below(g, "--temperature", type=float, default=1.0,
              help="Divides the logits: below 1 is more conservative, above 1 more adventurous. Default: 1.0.")
    add_below(g, "--top-k", type=int, default=10,
              help="Sample only among the k most likely tokens. Default: 10.")
    add_below(g, "--seed", type=int, default=0, help="Seed of the sampling; same seed, same text. Default: 0.")
    g.add_argument("--device", default="auto", choices=DEVICES, help=DEVICE_HELP)
    g.add_argument("--precision", default="fp32", choices=["fp32", "bf16"], help=PRECISION_HELP)
    g.add_argument("--fast", action="store_true", help=FAST_HELP)
    g.set_defaults(func=_generate_command)


def _generate_command(args: argparse.Namespace) -> None:
    check_generate_args(args)
    device = pick_device(args.device)
    model, tokenizer = load_checkpoint(args.checkpoint)
    check_prompt(args.prompt, tokenizer.chars)
    print(f"device: {device}\n")
    model.to(device)
    precision = args.precision
    if args.fast:  # the fast path samples in bf16 only where bf16 is native
        prepare_fast(model)
        precision = fast_precision(precision, device)
    print(sample(model, tokenizer, args.prompt, device, max_new_tokens=args.max_new_tokens,
                 temperature=args.temperature, top_k=args.top_k, seed=args.seed, precision=precision,
                 fast=args.fast))
