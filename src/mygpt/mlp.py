"""The position-wise feed-forward network of a transformer block (Ch.9)."""

import torch
from torch import nn

from .fast.weight_copies import fast_linear


class MLP(nn.Module):
    """``drop(fc2(gelu(fc1(x))))`` with a hidden width of ``4 * embed_dim``.

    ``gelu="tanh"`` uses the tanh approximation of GELU, the one GPT-2 was trained with;
    ``relu_squared=True`` uses ``relu(x)^2`` instead (modded-nanogpt's activation). ``fast``
    (set by ``GPT.set_fast``) multiplies through ``weight_copies.fast_linear``: the same function.
    """

    fast = False

    def __init__(self, embed_dim: int, dropout: float = 0.0, gelu: str = "erf", relu_squared: bool = False):
        super().__init__()
        self.embed_dim = embed_dim
        self.dropout = dropout
        self.fc1 = nn.Linear(embed_dim, 4 * embed_dim)
        self.act = ReLUSquared() if relu_squared else nn.GELU() if gelu == "erf" else nn.GELU(approximate="tanh")
        self.fc2 = nn.Linear(4 * embed_dim, embed_dim)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fast:
            return self.drop(fast_linear(self, "fc2", self.act(fast_linear(self, "fc1", x, self.fc1)), self.fc2))
        return self.drop(self.fc2(self.act(self.fc1(x))))


class ReLUSquared(nn.Module):
    """``relu(x)^2``: as cheap as ReLU, smooth at 0 in its first derivative."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(x).square()
