"""``mygpt export-gguf``: a mygpt checkpoint becomes a GGUF file that llama.cpp loads and runs."""

import argparse

from ..checkpoint import load_checkpoint
from .common import HelpFormatter

DESCRIPTION = ("Write a mygpt checkpoint as a GGUF file (llama.cpp's format, architecture gpt2, float32) "
               "that llama.cpp and the apps built on it load and run with the same greedy tokens as "
               "`mygpt generate --temperature 0`. Char, book-BPE and byte-level BPE tokenizers are "
               "written as llama.cpp's byte-level BPE; a tokenizer without an end-of-text token gets one "
               "that is never generated. Models with RMSNorm, RoPE or grouped-query attention (not in "
               "llama.cpp's GPT-2) are refused. Replaces only a GGUF file mygpt wrote.")


def add_parser(sub) -> None:
    """Register ``mygpt export-gguf``."""
    e = sub.add_parser("export-gguf", help="Write a checkpoint as a GGUF file for llama.cpp.",
                       description=DESCRIPTION, formatter_class=HelpFormatter)
    e.add_argument("checkpoint", metavar="CHECKPOINT",
                   help="Checkpoint written by `mygpt train` or `mygpt import-hf`.")
    e.add_argument("output", metavar="OUT.gguf", help="GGUF file to write (new, or one mygpt wrote).")
    e.set_defaults(func=_export_command)


def _export_command(args: argparse.Namespace) -> None:
    from ..interop.gguf import check_gguf_exportable, save_gguf

    model, tokenizer = load_checkpoint(args.checkpoint)
    check_gguf_exportable(model, tokenizer)
    done = save_gguf(model, tokenizer, args.output)
    print(f"exported {args.checkpoint} to {args.output} (llama.cpp gpt2, float32, {model.num_params():,} "
          f"params, pre-tokenizer {done.pre})")
    print(done.eos.describe())
    for note in done.notes:
        print(f"note: {note}")
