"""Ch.3: autograd computes f'(x) for f(x) = x^2 + 2x + 1."""

import torch

x = torch.tensor(3.0, requires_grad=True)
y = x * x + 2 * x + 1
y.backward()

x0 = x.item()
print(f"f({x0:g})  = {y.item()}")
print(f"f'({x0:g}) = {x.grad.item()}  (analytical: 2*({x0:g}) + 2 = {2 * x0 + 2:g})")
