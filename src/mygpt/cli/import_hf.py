"""``mygpt import-hf``: a local Hugging Face GPT-2 directory becomes a mygpt checkpoint."""

import argparse

from ..checkpoint import CHECKPOINT, save_checkpoint
from ..files.outputs import check_output
from .common import HelpFormatter, require_hf

DESCRIPTION = ("Convert a local Hugging Face GPT-2 directory (config.json, model.safetensors or "
               "pytorch_model.bin, and tokenizer.json or vocab.json + merges.txt, as written by "
               "save_pretrained) into a mygpt checkpoint. Nothing is downloaded.")


def add_parser(sub) -> None:
    """Register ``mygpt import-hf``."""
    i = sub.add_parser("import-hf", help="Convert a local Hugging Face GPT-2 directory to a checkpoint.",
                       description=DESCRIPTION, formatter_class=HelpFormatter)
    i.add_argument("directory", help="Folder holding config.json, the weights and the tokenizer files.")
    i.add_argument("--output", required=True, help="Checkpoint to write.")
    i.set_defaults(func=_import_command)


def _import_command(args: argparse.Namespace) -> None:
    check_output(args.output, CHECKPOINT, setting="output")  # never a file of the imported folder, nor any other
    model, tokenizer = require_hf().load_hf(args.directory)
    c = model.config
    print(f"imported {args.directory}: {c.num_layers} layers, embed_dim {c.embed_dim}, {c.num_heads} heads, "
          f"context {c.max_seq_len}, vocab {c.vocab_size}, {model.num_params():,} params")
    save_checkpoint(model, tokenizer, args.output)
    print(f"saved checkpoint to {args.output}")
