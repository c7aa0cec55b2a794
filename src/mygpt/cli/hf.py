"""``mygpt import-hf`` and ``mygpt export-hf``: GPT-2 checkpoints to and from the Hugging Face format."""

import argparse
import os

from ..checkpoint import load_checkpoint, save_checkpoint
from ..errors import InteropError, MissingExtraError
from .checks import check_output_path
from .common import HelpFormatter

IMPORT_DESCRIPTION = ("Convert a local Hugging Face GPT-2 directory (config.json, model.safetensors or "
                      "pytorch_model.bin, and tokenizer.json or vocab.json + merges.txt, as written by "
                      "save_pretrained) into a mygpt checkpoint. Nothing is downloaded.")
EXPORT_DESCRIPTION = ("Write a mygpt checkpoint as a Hugging Face GPT-2 directory (config.json, "
                      "model.safetensors, tokenizer files) that GPT2LMHeadModel.from_pretrained and "
                      "AutoTokenizer.from_pretrained load. Models with RMSNorm, RoPE or grouped-query "
                      "attention have no GPT-2 form and are refused.")
_EXPORTED = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "vocab.json",
             "merges.txt")


def _hf():
    """The conversion module; a missing ``hf`` extra becomes a one-line error."""
    try:
        import safetensors  # noqa: F401
        import tokenizers  # noqa: F401
    except ImportError as err:
        raise MissingExtraError(f"{err.name} is not installed; pip install 'mygpt[hf]'") from err
    from .. import hf
    return hf


def _import_command(args: argparse.Namespace) -> None:
    check_output_path(args.output)
    model, tokenizer = _hf().load_hf(args.directory)
    c = model.config
    print(f"imported {args.directory}: {c.num_layers} layers, embed_dim {c.embed_dim}, {c.num_heads} heads, "
          f"context {c.max_seq_len}, vocab {c.vocab_size}, {model.num_params():,} params")
    save_checkpoint(model, tokenizer, args.output)
    print(f"saved checkpoint to {args.output}")


def _export_command(args: argparse.Namespace) -> None:
    hf = _hf()
    model, tokenizer = load_checkpoint(args.checkpoint)
    hf.check_exportable(model.config)
    if os.path.exists(args.directory):
        if not os.path.isdir(args.directory):
            raise InteropError(f"{args.directory} is a file; give a directory to write the model into")
        taken = [name for name in _EXPORTED if os.path.exists(os.path.join(args.directory, name))]
        if taken:
            raise InteropError(f"{args.directory} already holds {taken[0]}; choose a new or empty directory")
    hf.save_hf(model, tokenizer, args.directory)
    print(f"exported {args.checkpoint} to {args.directory} (GPT2LMHeadModel, {model.num_params():,} params)")


def add_parser(sub) -> None:
    """Register ``mygpt import-hf`` and ``mygpt export-hf``."""
    i = sub.add_parser("import-hf", help="Convert a local Hugging Face GPT-2 directory to a checkpoint.",
                       description=IMPORT_DESCRIPTION, formatter_class=HelpFormatter)
    i.add_argument("directory", help="Folder holding config.json, the weights and the tokenizer files.")
    i.add_argument("--output", required=True, help="Checkpoint to write.")
    i.set_defaults(func=_import_command)
    e = sub.add_parser("export-hf", help="Write a checkpoint as a Hugging Face GPT-2 directory.",
                       description=EXPORT_DESCRIPTION, formatter_class=HelpFormatter)
    e.add_argument("checkpoint", help="Checkpoint written by `mygpt train` or `mygpt import-hf`.")
    e.add_argument("directory", help="Folder to write (created; must not already hold a model).")
    e.set_defaults(func=_export_command)
