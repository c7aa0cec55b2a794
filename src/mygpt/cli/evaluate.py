"""``mygpt eval``: a checkpoint's loss, perplexity and bits per character on a held-out text."""

import argparse
import json
import sys

from ..analysis.evaluate import count_units, evaluate, text_unit
from ..checkpoint import load_checkpoint
from ..data.corpus import read_text_file
from ..errors import CorpusError
from ..utils import pick_device
from .checks import check_device
from .common import DEVICE_HELP, DEVICES

DESCRIPTION = ("Measure how well a checkpoint predicts a text it did not train on: the whole file is cut "
               "into consecutive, non-overlapping windows and every token after the first is predicted "
               "once. Prints the mean loss (nats per token), the perplexity (e to the loss) and the bits "
               "per character (per byte for byte-level tokenizers), which compare across tokenizers.")


def add_parser(sub) -> None:
    """Register ``mygpt eval``."""
    e = sub.add_parser("eval", help="Measure loss, perplexity and bits per character on a text file.",
                       description=DESCRIPTION)
    e.add_argument("file", metavar="FILE", help="UTF-8 text file to evaluate on (held out from training).")
    e.add_argument("--checkpoint", required=True, help="Checkpoint written by `mygpt train`.")
    e.add_argument("--seq-len", type=int, default=None,
                   help="Tokens per window: how much context each prediction may use at most. "
                        "Default: the model's context window.")
    e.add_argument("--batch-size", type=int, default=32, help="Windows per forward pass. Default: 32.")
    e.add_argument("--device", default="auto", choices=DEVICES, help=DEVICE_HELP)
    e.add_argument("--json", action="store_true", help="Print the results as one JSON object instead of a table.")
    e.set_defaults(func=_eval_command)



def _eval_command(args: argparse.Namespace) -> None:
    check_device(args.device)
    model, tokenizer = load_checkpoint(args.checkpoint)
    seq_len = model.max_seq_len if args.seq_len is None else args.seq_len
    text = read_text_file(args.file)
    # Characters outside a char/BPE tokenizer's alphabet would go unmeasured, so they are refused.
    tokenizer.check_known(text, args.file, "evaluate on text of the training alphabet", CorpusError)
    ids = tokenizer.encode_corpus(text)
    model.to(pick_device(args.device))
    result = evaluate(model, ids, seq_len, args.batch_size, progress=sys.stderr.isatty())
    unit = text_unit(tokenizer)
    bits = result.bits_per_unit(count_units(tokenizer.decode(ids[1:]), unit))
    if args.json:
        print(json.dumps({"checkpoint": args.checkpoint, "file": args.file, "tokens": result.tokens,
                          "windows": result.windows, "seq_len": seq_len, "loss": result.loss,
                          "perplexity": result.perplexity, f"bits_per_{unit}": bits}))
        return
    print(f"checkpoint:   {args.checkpoint}")
    print(f"file:         {args.file} ({len(text):,} characters)")
    print(f"tokens:       {result.tokens:,} predicted, in {result.windows:,} windows of up to {seq_len}")
    print(f"loss:         {result.loss:.4f} nats/token")
    print(f"perplexity:   {result.perplexity:.3f}")
    print(f"bits/{unit}:    {bits:.4f}")
