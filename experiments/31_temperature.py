"""Ch.15: temperature sharpens (tau < 1) or flattens (tau > 1) the softmax."""

import torch
import torch.nn.functional as F

logits = torch.tensor([2.0, 1.0, 0.0])
print("logits:", logits)
print()
for tau in (1.0, 0.5, 2.0, 100.0):
    probs = F.softmax(logits / tau, dim=-1)
    print(f"  tau = {tau:>5.1f}: softmax = {[f'{p:.3f}' for p in probs.tolist()]}")
