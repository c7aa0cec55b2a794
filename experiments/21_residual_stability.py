"""Ch.9: thirty stacked MLPs shrink the signal; residual connections keep it alive."""

import torch

from mygpt import MLP, set_seed

C, N = 16, 30
REPORT = (1, 5, 10, 15, 20, 30)

set_seed(0)
mlps = [MLP(C).eval() for _ in range(N)]
x0 = torch.randn(1, 8, C)
print(f"input std: {x0.std().item():.4f}")
print()

with torch.no_grad():
    print("WITHOUT residuals:")
    x = x0
    for n, mlp in enumerate(mlps, start=1):
        x = mlp(x)
        if n in REPORT:
            print(f"  after layer {n:2d}: std = {x.std().item():.6f}")
    print()
    print("WITH residuals (x = x + mlp(x)):")
    x = x0
    for n, mlp in enumerate(mlps, start=1):
        x = x + mlp(x)
        if n in REPORT:
            print(f"  after layer {n:2d}: std = {x.std().item():.6f}")
