"""Normalisation layers written out by hand (Ch.10 LayerNorm, Ch.24 RMSNorm).

The hand-written formulas are the exact reference path: they reproduce the book's numbers bit for
bit, which ``nn.LayerNorm`` / ``F.layer_norm`` do not (they agree only to ~1e-5). Setting ``fast``
to True (``GPT.set_fast``) computes the same function with the fused kernels instead.
"""

import torch
import torch.nn.functional as F
from torch import nn


class LayerNorm(nn.Module):
    """``(x - mean) / sqrt(var + eps) * weight + bias`` over the last axis (population variance)."""

    fast = False

    def __init__(self, embed_dim: int, eps: float = 1e-5):
        super().__init__()
        self.embed_dim = embed_dim
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(embed_dim))
        self.bias = nn.Parameter(torch.zeros(embed_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fast:
            return F.layer_norm(x, (self.embed_dim,), self.weight, self.bias, self.eps)
        mean = x.mean(dim=-1, keepdim=True)
        var = x.var(dim=-1, keepdim=True, unbiased=False)
        return (x - mean) / torch.sqrt(var + self.eps) * self.weight + self.bias


class RMSNorm(nn.Module):
    """``x / sqrt(mean(x^2) + eps) * weight``: no mean subtraction, no bias."""

    fast = False

    def __init__(self, embed_dim: int, eps: float = 1e-5):
        super().__init__()
        self.embed_dim = embed_dim
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(embed_dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fast:  # a bf16 input (QK-norm under autocast) takes the gain in bf16 to stay fused
            return F.rms_norm(x, (self.embed_dim,), self.weight.to(x.dtype), self.eps)
        rms = torch.sqrt(x.pow(2).mean(dim=-1, keepdim=True) + self.eps)
        return x / rms * self.weight


def _make_norm(embed_dim: int, norm_type: str) -> nn.Module:
    """Build the norm named by ``norm_type`` (``"layer"`` or ``"rms"``)."""
    if norm_type == "layer":
        return LayerNorm(embed_dim)
    if norm_type == "rms":
        return RMSNorm(embed_dim)
    raise ValueError(f"unknown norm_type: {norm_type!r} (expected 'layer' or 'rms')")
