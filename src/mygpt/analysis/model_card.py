"""What a checkpoint holds, as plain data: the facts ``mygpt info`` prints and ``mygpt serve`` shows.

Nothing is run: the card reads the payload (``checkpoint.read_checkpoint``) and the model and
tokenizer rebuilt from it (``checkpoint.rebuild``).
"""

import os

from ..checkpoint import saved_tokenizer_kind


def params_by_module(model) -> dict[str, int]:
    """Trainable parameters per top-level module, one entry per block; a tied weight counts once."""
    counts: dict[str, int] = {}
    for name, param in model.named_parameters():  # shared (tied) tensors are listed once
        parts = name.split(".")
        group = ".".join(parts[:2]) if parts[0] == "blocks" else parts[0]
        counts[group] = counts.get(group, 0) + param.numel()
    return counts


def _training(ckpt: dict) -> dict | None:
    """The step reached, which states were saved and the run's settings; None for weights only."""
    state = ckpt.get("training_state")
    if not isinstance(state, dict):
        return None
    saved = [what for key, what in (("optimizer_state_dict", "optimizer"), ("rng_state", "RNG"))
             if key in state]
    settings = state.get("train_config")
    return {"step": state.get("step"), "saved": saved, "settings": settings if isinstance(settings, dict) else None}


def model_card(ckpt: dict, model, tokenizer, path: str) -> dict:
    """The card of the checkpoint at ``path``: file, torch version, tokenizer, config, parameters, training.

    ``{"checkpoint", "file_bytes", "torch_version" (None if not recorded), "tokenizer": {"kind",
    "vocab_size", "symbols", "merges"}, "config" (without dropout, which is not saved), "parameters":
    {"total", "by_module"}, "training" (None, or {"step", "saved", "settings"})}``: JSON-ready.
    """
    counts = params_by_module(model)
    chars = getattr(tokenizer, "chars", None)
    return {
        "checkpoint": path,
        "file_bytes": os.path.getsize(path),
        "torch_version": ckpt.get("torch_version"),
        "tokenizer": {"kind": saved_tokenizer_kind(ckpt), "vocab_size": tokenizer.vocab_size,
                      "symbols": None if chars is None else len(chars),
                      "merges": len(getattr(tokenizer, "merges", ()))},
        "config": {k: v for k, v in vars(model.config).items() if k != "dropout"},
        "parameters": {"total": sum(counts.values()), "by_module": counts},
        "training": _training(ckpt),
    }
