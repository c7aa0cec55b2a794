"""Saving and loading a trained model together with its tokenizer (Ch.18, extended in Ch.24-28)."""

import os

import torch

from .model import GPT
from .tokenizer import BPETokenizer, CharTokenizer


def save_checkpoint(model, tokenizer, path: str) -> None:
    """Write model weights, tokenizer and config to ``path`` atomically (temp file + rename)."""
    kind = "bpe" if isinstance(tokenizer, BPETokenizer) else "char"
    state = {"chars": tokenizer.chars}
    if kind == "bpe":
        state["merges"] = tokenizer.merges
    payload = {
        "model_state_dict": model.state_dict(),
        "tokenizer_chars": tokenizer.chars,
        "tokenizer_kind": kind,
        "tokenizer_state": state,
        "config": {
            "vocab_size": model.vocab_size,
            "embed_dim": model.embed_dim,
            "num_heads": model.num_heads,
            "num_kv_heads": getattr(model, "num_kv_heads", model.num_heads),
            "num_layers": model.num_layers,
            "max_seq_len": model.max_seq_len,
            "norm_type": getattr(model, "norm_type", "layer"),
            "position_type": getattr(model, "position_type", "learned"),
            "tokenizer_kind": kind,
        },
    }
    tmp = path + ".tmp"
    torch.save(payload, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str) -> tuple[GPT, CharTokenizer | BPETokenizer]:
    """Rebuild the model (on CPU, training mode) and tokenizer saved by ``save_checkpoint``.

    Files from every chapter's format load: missing Part II keys fall back to the book's defaults.
    """
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    config = ckpt["config"]
    kind = config.get("tokenizer_kind", ckpt.get("tokenizer_kind", "char"))
    if kind == "bpe":
        state = ckpt["tokenizer_state"]
        tokenizer = BPETokenizer(state["chars"], state["merges"])
    else:
        tokenizer = CharTokenizer(ckpt["tokenizer_chars"])
    model = GPT(
        config["vocab_size"], config["embed_dim"], config["num_heads"],
        num_kv_heads=config.get("num_kv_heads", config["num_heads"]),
        num_layers=config["num_layers"], max_seq_len=config["max_seq_len"], dropout=0.0,
        norm_type=config.get("norm_type", "layer"),
        position_type=config.get("position_type", "learned"),
    )
    model.load_state_dict(ckpt["model_state_dict"])
    return model, tokenizer
