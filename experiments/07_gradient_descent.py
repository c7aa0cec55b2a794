"""Ch.4: gradient descent by hand on f(x) = (x - 3)^2."""

import torch

x = torch.tensor(0.0, requires_grad=True)
lr = 0.1

print("step | x        | f(x)     | grad")
print("-----+----------+----------+--------")
print(f"   0 | {x.item():.6f} |          |")
for step in range(1, 101):
    if x.grad is not None:
        x.grad.zero_()
    loss = (x - 3) ** 2
    loss.backward()
    grad = x.grad.item()
    with torch.no_grad():
        x -= lr * x.grad
    if step <= 10:
        print(f"  {step:2d} | {x.item():.6f} | {loss.item():.6f} | {grad:.4f}")

print()
print(f"final x after 100 steps: {x.item():.6f}")
print("target:                   3.000000")
