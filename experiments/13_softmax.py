"""Ch.6: softmax by hand and with torch."""

import torch
import torch.nn.functional as F

z = torch.tensor([1.0, 2.0, 3.0])
exp_z = torch.exp(z)
total = exp_z.sum().item()
by_hand = exp_z / total
print("z =", z)
print("exp(z) =", exp_z)
print(f"sum of exp(z) = {total:.4f}")
print("softmax(z) by hand =", by_hand)
print()

by_torch = F.softmax(z, dim=-1)
print("softmax(z) by torch =", by_torch)
print(f"sum by torch = {by_torch.sum().item():.4f}")
print("identical:", torch.allclose(by_hand, by_torch))
