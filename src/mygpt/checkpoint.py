"""Saving and loading a trained model together with its tokenizer (Ch.18, extended in Ch.24-28).

The payload keeps the book's keys exactly, so files are interchangeable with the book's package.
Training adds two keys of mygpt's own: ``"torch_version"`` (the torch that saved the file) and
``"training_state"`` (step, optimizer state, RNG states, the run's settings and a fingerprint of its
data: what an exact resume needs, see ``resume``), made only of tensors, numbers, strings and containers
so it loads with ``weights_only=True`` like the rest. Without a training state, ``save_checkpoint``
writes exactly the book's payload.
"""

import os

import torch

from .config import GPTConfig
from .errors import CheckpointError
from .files.outputs import OutputKind, write_output
from .model import GPT
from .tokenizer import Tokenizer, tokenizer_from_state

_RECREATE = "re-create it with `mygpt train`"


def _reason(err: Exception) -> str:
    """The first sentence of an exception, short enough for a one-line message."""
    text = str(err).strip().splitlines()[0].split(". ")[0] if str(err).strip() else ""
    return f"{type(err).__name__}: {text[:120]}" if text else type(err).__name__


def _book_config(model) -> dict:
    """The book's config keys, in its order; models of earlier chapters lack the Part II attributes."""
    return {
        "vocab_size": model.vocab_size,
        "embed_dim": model.embed_dim,
        "num_heads": model.num_heads,
        "num_kv_heads": getattr(model, "num_kv_heads", model.num_heads),
        "num_layers": model.num_layers,
        "max_seq_len": model.max_seq_len,
        "norm_type": getattr(model, "norm_type", "layer"),
        "position_type": getattr(model, "position_type", "learned"),
    }


def _gpt2_options(model) -> dict:
    """The GPT-2 options a model uses, only where they differ from the book (so book files stay identical)."""
    config = getattr(model, "config", None)
    options = {"attn_bias": False, "gelu": "erf", "store_masks": True}
    return {name: getattr(config, name) for name, book in options.items()
            if config is not None and getattr(config, name) != book}


# What every checkpoint's config holds since Ch.18; later keys default to the book's values when absent.
_BOOK_SHAPE = ("vocab_size", "embed_dim", "num_heads", "num_layers", "max_seq_len")


def model_config(ckpt: dict) -> GPTConfig:
    """The ``GPTConfig`` stored in a checkpoint payload, with the book's defaults for older formats.

    ``GPTConfig`` checks every value (``ConfigError``, a ``ValueError``); a missing key is a ``KeyError``.
    """
    config = ckpt["config"]
    if not isinstance(config, dict):
        raise TypeError("its config is not a mapping")
    missing = [key for key in _BOOK_SHAPE if key not in config]
    if missing:
        raise KeyError(missing[0])
    return GPTConfig.from_dict(config)


def tokenizer_state(tokenizer: Tokenizer) -> tuple[str, dict]:
    """The tokenizer's kind and what rebuilds it (``Tokenizer.state``)."""
    return tokenizer.kind, tokenizer.state()


def saved_tokenizer_state(ckpt: dict) -> dict:
    """What a checkpoint keeps of its tokenizer; the book's first format (Ch.18) has only its alphabet."""
    return ckpt.get("tokenizer_state") or {"chars": ckpt.get("tokenizer_chars")}


def _load_tokenizer(ckpt: dict, kind: str) -> Tokenizer:
    """The payload's tokenizer, checked (``tokenizer_from_state``). A char tokenizer is read from
    ``tokenizer_chars``, the key the book's own loader reads, so a file the book would misread is refused."""
    state = {"chars": ckpt.get("tokenizer_chars")} if kind == "char" else saved_tokenizer_state(ckpt)
    return tokenizer_from_state(kind, state)


def save_checkpoint(model, tokenizer, path: str, training_state: dict | None = None) -> None:
    """Write model weights, tokenizer and config to ``path`` atomically (unique temp file, fsync, rename).

    Goes through mygpt's guarded way out (``files.outputs``): a file at ``path`` that is not a mygpt
    checkpoint is never replaced, and a path another process is writing is refused. A previous file
    at ``path`` survives an interrupted or failed save and no temporary file is left; a failed write
    (disk full, I/O error) raises ``CheckpointError``.
    """
    kind, state = tokenizer_state(tokenizer)
    payload = {
        "model_state_dict": model.state_dict(),
        "tokenizer_chars": tokenizer.chars,
        "tokenizer_kind": kind,
        "tokenizer_state": state,
        "config": {**_book_config(model), **_gpt2_options(model), "tokenizer_kind": kind},
    }
    if training_state is not None:
        payload["torch_version"] = str(torch.__version__)
        payload["training_state"] = training_state
    try:
        write_output(path, CHECKPOINT, lambda f: torch.save(payload, f))
    except OSError as err:
        raise CheckpointError(f"could not save the checkpoint {path}: {err.strerror or _reason(err)}; "
                              "the previous file there (if any) is intact") from err


def is_checkpoint(path: str) -> bool:
    """Whether ``path`` holds a mygpt checkpoint (a file mygpt may replace).

    Only the file's structure is read (its tensors are memory-mapped, not loaded), so asking is
    cheap however large the checkpoint; files in torch's legacy format are read whole.
    """
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # noqa: BLE001 - not a zip-format torch file, or no torch file at all
        try:
            read_checkpoint(path)
        except CheckpointError:
            return False
        return True
    return isinstance(ckpt, dict) and "model_state_dict" in ckpt and "config" in ckpt


CHECKPOINT = OutputKind("a mygpt checkpoint", "checkpoints", is_checkpoint, CheckpointError)


def read_checkpoint(path: str) -> dict:
    """Load the raw payload safely (``weights_only=True``: a crafted file cannot run code).

    Raises ``CheckpointError`` for a missing, unreadable, truncated or foreign file.
    """
    if not os.path.exists(path):
        raise CheckpointError(f"checkpoint not found: {path}; train one with `mygpt train` or check the path")
    if os.path.isdir(path):
        raise CheckpointError(f"checkpoint {path} is a directory; pass the checkpoint file")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # any failure to unpickle means the same thing to the user
        raise CheckpointError(f"cannot read checkpoint {path}: corrupt, truncated or not a mygpt "
                              f"checkpoint ({_reason(err)}); {_RECREATE}") from err
    if not isinstance(ckpt, dict) or "model_state_dict" not in ckpt or "config" not in ckpt:
        raise CheckpointError(f"{path} is not a mygpt checkpoint (no model_state_dict/config); "
                              "pass a file written by `mygpt train`")
    return ckpt


def load_checkpoint(path: str) -> tuple[GPT, Tokenizer]:
    """Rebuild the model (on CPU, training mode) and tokenizer saved by ``save_checkpoint``.

    Files from every chapter's format load: missing Part II keys fall back to the book's defaults.
    """
    return rebuild(read_checkpoint(path), path)


def saved_tokenizer_kind(ckpt: dict) -> str:
    """The tokenizer kind a checkpoint payload names ("char", the book's first format, when none)."""
    config = ckpt["config"] if isinstance(ckpt.get("config"), dict) else {}
    return config.get("tokenizer_kind", ckpt.get("tokenizer_kind", "char"))


def non_finite_weights(model) -> list[str]:
    """The names of the model's parameters that hold NaN or infinite values (its masks hold -inf by design)."""
    return [name for name, t in model.named_parameters() if not bool(torch.isfinite(t).all())]


def rebuild(ckpt: dict, path: str, finite: bool = True) -> tuple[GPT, Tokenizer]:
    """The model (on CPU, training mode) and tokenizer of a payload ``read_checkpoint`` returned.

    Everything is checked: the config's types and values, the tokenizer's state, the weights' names
    and shapes against the config and (unless ``finite=False``) that they hold no NaN or infinity,
    which no sampling or evaluation survives. A problem raises ``CheckpointError`` naming it.
    """
    try:
        tokenizer = _load_tokenizer(ckpt, saved_tokenizer_kind(ckpt))
        model = GPT.from_config(model_config(ckpt))
        if not isinstance(ckpt["model_state_dict"], dict):
            raise TypeError("model_state_dict is not a mapping")
        model.load_state_dict(ckpt["model_state_dict"])
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        raise CheckpointError(f"checkpoint {path} is inconsistent ({_reason(err)}); {_RECREATE}") from err
    bad = non_finite_weights(model) if finite else []
    if bad:
        named = f"{', '.join(bad[:3])}{', ...' if len(bad) > 3 else ''}"
        raise CheckpointError(lambda n: f"checkpoint {path} holds NaN or infinite weights ({named}): it cannot "
                                        "predict anything; use an earlier checkpoint of the run or train again "
                                        f"(a lower {n('lr')} or {n('max_grad_norm')} 1.0)")
    return model, tokenizer
