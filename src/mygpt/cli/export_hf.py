"""``mygpt export-hf``: a mygpt checkpoint becomes a Hugging Face GPT-2 directory."""

import argparse
import os

from ..checkpoint import load_checkpoint
from ..errors import InteropError
from .common import HelpFormatter, require_hf

DESCRIPTION = ("Write a mygpt checkpoint as a Hugging Face GPT-2 directory (config.json, "
               "model.safetensors, tokenizer files) that GPT2LMHeadModel.from_pretrained and "
               "AutoTokenizer.from_pretrained load. Models with RMSNorm, RoPE or grouped-query "
               "attention have no GPT-2 form and are refused.")
_EXPORTED = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "vocab.json",
             "merges.txt")


def add_parser(sub) -> None:
    """Register ``mygpt export-hf``."""
    e = sub.add_parser("export-hf", help="Write a checkpoint as a Hugging Face GPT-2 directory.",
                       description=DESCRIPTION, formatter_class=HelpFormatter)
    e.add_argument("checkpoint", help="Checkpoint written by `mygpt train` or `mygpt import-hf`.")
    e.add_argument("directory", help="Folder to write (created; must not already hold a model).")
    e.set_defaults(func=_export_command)


def _export_command(args: argparse.Namespace) -> None:
    hf = require_hf()
    model, tokenizer = load_checkpoint(args.checkpoint)
    hf.check_exportable(model.config)
    if os.path.exists(args.directory):
        if not os.path.isdir(args.directory):
            raise InteropError(f"{args.directory} is a file; give a directory to write the model into")
        taken = [name for name in _EXPORTED if os.path.exists(os.path.join(args.directory, name))]
        if taken:
            raise InteropError(f"{args.directory} already holds {taken[0]}; choose a new or empty directory")
    eos = hf.save_hf(model, tokenizer, args.directory)
    print(f"exported {args.checkpoint} to {args.directory} (GPT2LMHeadModel, {model.num_params():,} params)")
    print(eos.describe())
