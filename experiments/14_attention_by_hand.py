"""Ch.6: causal self-attention by hand on three 2-d vectors (Q = K = V = X)."""

import math

import torch
import torch.nn.functional as F

X = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
T, C = X.shape
print(f"X (T={T}, C={C}):")
print(X)
print()

scores = X @ X.T
print("scores = X X^T:")
print(scores)
print()

scaled = scores / math.sqrt(C)
print(f"scaled by 1/sqrt({C}) = 1/{math.sqrt(C):.4f}:")
print(scaled)
print()

mask = torch.triu(torch.full((T, T), float("-inf")), diagonal=1)
masked = scaled + mask
print("scaled + causal mask:")
print(masked)
print()

weights = F.softmax(masked, dim=-1)
print("attention weights (lower-triangular, rows sum to 1):")
print(weights)
print("row sums:", weights.sum(dim=-1))
print()

print("attention output = weights @ V:")
print(weights @ X)
