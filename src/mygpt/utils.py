"""Small shared helpers: the running-example vocabulary, seeding, devices and precision, batching, the LR
schedule, evaluation mode."""

import contextlib
import hashlib
import math
import numbers
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .errors import require

# Where a long library job tells of its progress (a tokenizer learning merges, a benchmark's stages): a
# function given each line, which the CLI prints and a library caller may leave silent.
Log = Callable[[str], None]


def silent(line: str) -> None:
    """The default ``log``: a library caller is not told of the progress."""


VOCAB = ("I", "love", "AI", "!")


def to_ids(tokens: list[str]) -> torch.Tensor:
    """Map running-example tokens to their ids in ``VOCAB`` (1-D int64)."""
    return torch.tensor([VOCAB.index(t) for t in tokens], dtype=torch.long)


MAX_SEED = 2**64 - 1  # torch's generators take 64-bit seeds; negative ones would alias positive ones


def check_seed(seed: int, *, uses: int = 1, offset: int = 0) -> None:
    """``seed`` must be a whole number such that every seed derived from it, ``seed + offset`` up to
    ``seed + offset + uses - 1``, is within 0..MAX_SEED (see ``set_seed``); raises ``ConfigError``."""
    top = MAX_SEED - offset - (uses - 1)
    bound = f"2**64 - 1 = {MAX_SEED}" if top == MAX_SEED else f"{top}"
    why = "" if top == MAX_SEED else f", as the command also seeds with seed + {offset + uses - 1}"
    require(isinstance(seed, numbers.Integral) and 0 <= seed <= top,
            lambda n: f"{n('seed')} must be a whole number from 0 to {bound} (got {seed!r}){why}")


def set_seed(seed: int = 0) -> None:
    """Seed the global generator of every available device (Ch.4); ``seed`` from 0 to ``MAX_SEED``.

    The CPU generator (mt19937) keeps only the low 32 bits of what ``torch.manual_seed`` gives it, so
    seeds 2**32 apart would give the same stream. Seeds below 2**32 are seeded exactly as the book
    does; a larger seed fills the CPU generator's state from all its bits (mt19937's own
    ``init_by_array``, through NumPy), so every accepted seed has a stream of its own.
    ``torch.initial_seed()`` returns ``seed`` either way.
    """
    check_seed(seed)
    seed = int(seed)
    torch.manual_seed(seed)
    if seed >> 32:
        key = np.random.RandomState([seed & 0xFFFFFFFF, seed >> 32]).get_state()[1]
        _load_mt19937_key(key)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    if torch.backends.mps.is_available():
        torch.mps.manual_seed(seed)


# torch's CPU generator state: initial seed (u64), left and seeded (i32 each), next (u64), then the
# 624 mt19937 words, each stored as a u64.
_MT_WORDS_OFFSET, _MT_WORDS = 24, 624


def _load_mt19937_key(key: np.ndarray) -> None:
    """Replace the 624 state words of the freshly seeded CPU generator by ``key`` (uint32)."""
    state = torch.get_rng_state().numpy().copy()
    words = key.astype(np.uint64).tobytes()
    state[_MT_WORDS_OFFSET:_MT_WORDS_OFFSET + len(words)] = np.frombuffer(words, dtype=np.uint8)
    torch.set_rng_state(torch.from_numpy(state))


def pick_device(arg: str = "auto") -> torch.device:
    """``"auto"`` picks cuda, then mps, then cpu; any other string is passed to ``torch.device``."""
    if arg != "auto":
        return torch.device(arg)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def forward_precision(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """The context forward passes run in for ``precision`` on ``device``: bf16 autocast for "bf16" (Ch.20),
    nothing at all for "fp32" (so fp32 runs stay bit for bit the book's)."""
    if precision == "bf16":
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


@contextlib.contextmanager
def evaluating(model: nn.Module):
    """Run the block in eval mode (no dropout, Ch.7) without autograd; the model's mode is restored after."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield model
    finally:
        model.train(was_training)


def get_batch(data: torch.Tensor, batch_size: int, seq_len: int,
              generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw ``batch_size`` random windows of ``seq_len`` tokens and their next-token targets.

    One ``randint`` on the CPU generator (the global one unless ``generator`` is given) per batch; the
    exclusive bound never draws the last window (the book's rule, kept so that seeded runs draw the
    book's batches, Ch.14). A tensor's windows are read with one gather each for ``x`` and ``y`` (the
    book stacks ``batch_size`` slices; same tokens); ``data`` may also be ``data.TokenShards``, which
    reads its windows from disk. The batch is on ``data.device``.
    """
    starts = torch.randint(0, len(data) - seq_len - 1, (batch_size,), generator=generator)
    if not isinstance(data, torch.Tensor):
        return data.windows(starts, seq_len)
    index = (starts[:, None] + torch.arange(seq_len)).to(data.device)
    return data[index], data[index + 1]


def cosine_warmup_lr(step: int, warmup: int, total: int, max_lr: float, min_lr: float = 0.0) -> float:
    """Linear warmup to ``max_lr`` then cosine decay to ``min_lr`` at step ``total`` (1-based steps)."""
    if warmup > 0 and step < warmup:
        return max_lr * step / warmup
    if step >= total:
        return min_lr
    progress = (step - warmup) / max(1, total - warmup)
    return min_lr + 0.5 * (max_lr - min_lr) * (1 + math.cos(math.pi * progress))


def count_params(module: nn.Module) -> int:
    """Number of trainable parameters of ``module`` (a shared tensor counts once)."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def estimate_val_loss(model, val_data: torch.Tensor, batch_size: int, seq_len: int,
                      n_eval_batches: int = 10) -> float:
    """Mean loss over ``n_eval_batches`` random validation batches, in eval mode (Ch.21).

    Draws from the global generator (one ``randint`` per batch), so it shifts later training batches.
    Builds no autograd graph; the losses are the same as with gradients tracked.
    """
    from .fast.weight_copies import kept_copies

    losses = []
    with evaluating(model), kept_copies(model):
        for _ in range(n_eval_batches):
            x, y = get_batch(val_data, batch_size, seq_len)
            _, loss = model(x, y)
            losses.append(loss.item())
    return sum(losses) / len(losses)


def file_sha256(path: str | Path) -> str:
    """The SHA-256 of a file's bytes, read a megabyte at a time (hex)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cache_dir() -> Path:
    """``$MYGPT_CACHE`` if set, else ``~/.cache/mygpt``: downloads and compiled graphs live there."""
    return Path(os.environ.get("MYGPT_CACHE") or Path.home() / ".cache" / "mygpt")
