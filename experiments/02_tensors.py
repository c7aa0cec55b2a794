"""Ch.3: tensors, their shape/dtype/device, and reshaping."""

import torch

v = torch.tensor([0.0, 1.0, 2.0, 3.0])
print(repr(v))
print(f"shape={tuple(v.shape)}, dtype={v.dtype}, device={v.device}")
print()

m = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
print(repr(m))
print(f"shape={tuple(m.shape)}")
print()

a = torch.arange(12)
print("arange(12) =", a)
print("reshape(3, 4) =")
print(a.reshape(3, 4))
print(f"reshape(2, 2, 3).shape = {tuple(a.reshape(2, 2, 3).shape)}")
