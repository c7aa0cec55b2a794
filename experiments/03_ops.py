"""Ch.3: matrix multiplication, broadcasting and seeded random numbers."""

import torch

A = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
B = torch.tensor([[5.0, 6.0], [7.0, 8.0]])
print("A @ B =")
print(A @ B)
print()

M = torch.zeros(2, 3)
v = torch.tensor([1.0, 2.0, 3.0])
print("M + v =")
print(M + v)
print()

torch.manual_seed(0)
print("torch.randn(2, 3) with seed 0:")
print(torch.randn(2, 3))
