"""Ch.10: layer normalisation by hand, checked against nn.LayerNorm."""

import torch
from torch import nn

x = torch.tensor([1.0, 2.0, 3.0, 4.0])
mean = x.mean()
var = ((x - mean) ** 2).mean()
std = var.sqrt()
x_normed = (x - mean) / torch.sqrt(var + 1e-5)

print("x:          ", x)
print(f"mean:        {mean.item():.6f}")
print(f"var:         {var.item():.6f}")
print(f"std:         {std.item():.6f}")
print("x_normed:   ", x_normed)
print(f"normed mean: {x_normed.mean().item():.6f}  (should be ~0)")
print(f"normed std:  {x_normed.std(unbiased=False).item():.6f}  (should be ~1)")
print()

ln = nn.LayerNorm(4).eval()
out = ln(x)
print("nn.LayerNorm(4)(x): ", out)
print("matches our by-hand:", torch.allclose(out, x_normed, atol=1e-5))
