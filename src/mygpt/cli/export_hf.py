"""``mygpt export-hf``: a mygpt checkpoint becomes a Hugging Face GPT-2 directory."""

import argparse

from ..checkpoint import load_checkpoint
from ..files.outputs import check_output
from .common import HelpFormatter, require_hf

DESCRIPTION = ("Write a mygpt checkpoint as a Hugging Face GPT-2 directory (config.json, "
               "model.safetensors, tokenizer files) that GPT2LMHeadModel.from_pretrained and "
               "AutoTokenizer.from_pretrained load. Models with RMSNorm, RoPE or grouped-query "
               "attention have no GPT-2 form and are refused.")


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
    check_output(args.directory, hf.HF_FOLDER, {args.checkpoint: "the checkpoint to export"})
    hf.save_hf(model, tokenizer, args.directory)
    print(f"exported {args.checkpoint} to {args.directory} (GPT2LMHeadModel, {model.num_params():,} params)")
