"""Ch.10: pre-LayerNorm residual stacks keep the signal's scale under control."""

import torch

from mygpt import MLP, LayerNorm, set_seed

C, N = 16, 30
REPORT = (1, 5, 10, 15, 20, 30)

set_seed(0)
mlps = [MLP(C).eval() for _ in range(N)]
norms = [LayerNorm(C) for _ in range(N)]
x0 = torch.randn(1, 8, C)
print(f"input std: {x0.std().item():.4f}")
print()

print("WITH residuals + pre-LayerNorm (x = x + mlp(ln(x))):")
with torch.no_grad():
    x = x0
    for n, (mlp, ln) in enumerate(zip(mlps, norms), start=1):
        x = x + mlp(ln(x))
        if n in REPORT:
            print(f"  after layer {n:2d}: std = {x.std().item():.6f}")
