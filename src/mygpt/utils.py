"""Small shared helpers: the running-example vocabulary, seeding, devices, batching, LR schedule."""

import math

import torch
from torch import nn

VOCAB = ("I", "love", "AI", "!")


def to_ids(tokens: list[str]) -> torch.Tensor:
    """Map running-example tokens to their ids in ``VOCAB`` (1-D int64)."""
    return torch.tensor([VOCAB.index(t) for t in tokens], dtype=torch.long)


def set_seed(seed: int = 0) -> None:
    """Seed the global generator of every available device (Ch.4)."""
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    if torch.backends.mps.is_available():
        torch.mps.manual_seed(seed)


def pick_device(arg: str = "auto") -> torch.device:
    """``"auto"`` picks cuda, then mps, then cpu; any other string is passed to ``torch.device``."""
    if arg != "auto":
        return torch.device(arg)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def get_batch(data: torch.Tensor, batch_size: int, seq_len: int,
              generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Draw ``batch_size`` random windows of ``seq_len`` tokens and their next-token targets.

    One ``randint`` on the CPU generator (the global one unless ``generator`` is given) per batch; the
    exclusive bound never draws the last window (the book's rule, kept so that seeded runs draw the
    book's batches, Ch.14). ``data`` may also be ``data.TokenShards`` (slices read from disk): the
    batch goes to ``data.device``, a no-op for a tensor.
    """
    starts = torch.randint(0, len(data) - seq_len - 1, (batch_size,), generator=generator)
    x = torch.stack([data[i : i + seq_len] for i in starts]).to(data.device)
    y = torch.stack([data[i + 1 : i + 1 + seq_len] for i in starts]).to(data.device)
    return x, y


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


@torch.no_grad()
def estimate_val_loss(model, val_data: torch.Tensor, batch_size: int, seq_len: int,
                      n_eval_batches: int = 10) -> float:
    """Mean loss over ``n_eval_batches`` random validation batches, in eval mode (Ch.21).

    Draws from the global generator (one ``randint`` per batch), so it shifts later training batches.
    Builds no autograd graph; the losses are the same as with gradients tracked.
    """
    was_training = model.training
    model.eval()
    losses = []
    for _ in range(n_eval_batches):
        x, y = get_batch(val_data, batch_size, seq_len)
        _, loss = model(x, y)
        losses.append(loss.item())
    if was_training:
        model.train()
    return sum(losses) / len(losses)
