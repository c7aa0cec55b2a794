"""Ch.4: the same minimisation with torch.optim.SGD."""

import torch

x = torch.tensor(0.0, requires_grad=True)
optimizer = torch.optim.SGD([x], lr=0.1)

print("step | x        | f(x)")
print("-----+----------+---------")
print(f"   0 | {x.item():.6f} |")
for step in range(1, 101):
    optimizer.zero_grad()
    loss = (x - 3) ** 2
    loss.backward()
    optimizer.step()
    if step <= 10:
        print(f"  {step:2d} | {x.item():.6f} | {loss.item():.6f}")

print()
print(f"final x after 100 steps: {x.item():.6f}")
