"""The optimizers of a training run (Ch.14): the book's AdamW, and its fused form for the fast path."""

import torch


def make_optimizer(model, lr: float, fast: bool = False) -> torch.optim.AdamW:
    """The book's ``AdamW(model.parameters(), lr)``; with ``fast``, its fused single-kernel form.

    Fused AdamW runs on CPU and CUDA (one kernel for all parameters instead of a Python loop of small
    ops per parameter); elsewhere the multi-tensor ``foreach`` form is used. The fused form updates
    the same way to float rounding.
    """
    if not fast:
        return torch.optim.AdamW(model.parameters(), lr=lr)
    device = next(model.parameters()).device
    if device.type in ("cpu", "cuda"):
        return torch.optim.AdamW(model.parameters(), lr=lr, fused=True)
    return torch.optim.AdamW(model.parameters(), lr=lr, foreach=True)

