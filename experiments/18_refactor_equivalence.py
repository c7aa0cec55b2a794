"""Ch.7: the buffer-based SingleHeadAttention computes exactly what the Chapter-6 version did."""

import math

import torch
import torch.nn.functional as F
from torch import nn

from mygpt import SingleHeadAttention, set_seed


class Chapter6Attention(nn.Module):
    """Single-head attention that builds its causal mask inside forward (no buffer)."""

    def __init__(self, embed_dim: int, head_dim: int):
        super().__init__()
        self.head_dim = head_dim
        self.W_Q = nn.Linear(embed_dim, head_dim, bias=False)
        self.W_K = nn.Linear(embed_dim, head_dim, bias=False)
        self.W_V = nn.Linear(embed_dim, head_dim, bias=False)
        self.W_O = nn.Linear(head_dim, embed_dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        T = x.shape[1]
        Q, K, V = self.W_Q(x), self.W_K(x), self.W_V(x)
        scores = Q @ K.transpose(-2, -1) / math.sqrt(self.head_dim)
        scores = scores + torch.triu(torch.full((T, T), float("-inf")), diagonal=1)
        return self.W_O(F.softmax(scores, dim=-1) @ V)


set_seed(0)
old = Chapter6Attention(4, 4)
set_seed(0)
new = SingleHeadAttention(4, 4, max_seq_len=64, dropout=0.0)
new.eval()
set_seed(42)
x = torch.randn(1, 4, 4)

with torch.no_grad():
    out_old, out_new = old(x), new(x)
print("OLD (Chapter 6):")
print(out_old)
print()
print("NEW (Chapter 7):")
print(out_new)
print()
print("identical:   ", torch.equal(out_old, out_new))
print(f"max abs diff: {(out_old - out_new).abs().max().item():.3e}")
