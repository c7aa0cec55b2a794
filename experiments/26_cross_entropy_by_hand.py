"""Ch.13: cross-entropy by hand equals F.cross_entropy."""

import math

import torch
import torch.nn.functional as F

logits = torch.tensor([1.0, 2.0, 0.5, -1.0])
target = 1

exp = torch.exp(logits)
sum_exp = exp.sum().item()
p = exp[target].item() / sum_exp
by_hand = -math.log(p)
by_torch = F.cross_entropy(logits.unsqueeze(0), torch.tensor([target])).item()

print("logits:                  ", logits)
print(f"target:                   {target}")
print("exp(logits):             ", exp)
print(f"sum exp:                  {sum_exp:.6f}")
print(f"softmax[target]:          {p:.6f}")
print(f"-log(softmax[target]):    {by_hand:.6f}")
print()
print(f"F.cross_entropy:          {by_torch:.6f}")
print(f"matches by-hand:          {abs(by_hand - by_torch) < 1e-6}")
