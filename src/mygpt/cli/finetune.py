"""``mygpt train --init``: fine-tuning starts from a checkpoint's weights, architecture and tokenizer."""

import argparse
import dataclasses

from ..checkpoint import load_checkpoint
from ..config import GPTConfig
from ..errors import ConfigError
from ..tokenizer import BPETokenizer, ByteBPETokenizer, encode_corpus

_ARCHITECTURE = ("embed_dim", "num_heads", "num_layers", "max_seq_len", "norm_type", "position_type",
                 "num_kv_heads", "qk_norm", "relu_squared", "untied_head", "zero_init", "logit_softcap")
_ARG_OF = {"norm_type": "norm", "position_type": "position"}


def init_from(args: argparse.Namespace, text: str):
    """``(model config, tokenizer, ids, weights)`` of ``--init``; ``args`` take the checkpoint's architecture.

    An architecture flag set to something else than both its default and the checkpoint's value is
    an error: fine-tuning cannot change the shape.
    """
    model, tokenizer = load_checkpoint(args.init)
    config = dataclasses.replace(model.config, dropout=args.dropout)
    for name in _ARCHITECTURE:
        given, kept = getattr(args, _ARG_OF.get(name, name)), getattr(config, name)
        default = next(f.default for f in dataclasses.fields(GPTConfig) if f.name == name)
        if given not in (default, kept, None):
            raise ConfigError(lambda n, name=name, given=given, kept=kept: (
                f"{n(name)} {given} conflicts with --init {args.init} ({n(name)} {kept}); fine-tuning keeps "
                f"the checkpoint's architecture, so leave {n(name)} out"))
        setattr(args, _ARG_OF.get(name, name), kept)
    kind = {ByteBPETokenizer: "bytebpe", BPETokenizer: "bpe"}.get(type(tokenizer), "char")
    if args.tokenizer not in ("char", kind):
        raise ConfigError(f"--tokenizer {args.tokenizer} conflicts with --init {args.init} (a {kind} tokenizer); "
                          "fine-tuning keeps the checkpoint's tokenizer, so leave --tokenizer out")
    args.tokenizer = kind
    unknown = set() if tokenizer.chars is None or args.tokenizer == "bpe" else set(text) - set(tokenizer.chars)
    if unknown:
        raise ConfigError(f"the text has {len(unknown)} character(s) the tokenizer of {args.init} does not "
                          f"know: {''.join(sorted(unknown))[:40]!r}; fine-tune on text of the same alphabet")
    return config, tokenizer, encode_corpus(tokenizer, text), model.state_dict()
