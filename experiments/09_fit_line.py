"""Ch.4: fit y = w*x + b to 20 noisy points with SGD."""

import torch

torch.manual_seed(0)
x = torch.linspace(-1, 1, 20)
y = (2.0 * x + 0.5) + 0.1 * torch.randn(20)

w = torch.zeros(1, requires_grad=True)
b = torch.zeros(1, requires_grad=True)
optimizer = torch.optim.SGD([w, b], lr=0.1)

print("step | w        | b        | loss")
print("-----+----------+----------+---------")
for step in range(1, 51):
    pred = w * x + b
    loss = ((pred - y) ** 2).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    if step in (1, 5, 10, 20, 50):
        print(f"  {step:2d} | {w.item():.6f} | {b.item():.6f} | {loss.item():.6f}")

print()
print(f"learned: w = {w.item():.4f}, b = {b.item():.4f}")
print("true:    w = 2.0000, b = 0.5000")
