"""Ch.7: dropout zeroes and rescales in train mode and is the identity in eval mode."""

import torch
from torch import nn

torch.manual_seed(42)
drop = nn.Dropout(p=0.5)
x = torch.ones(2, 4)
print("x =", x)
print()

drop.train()
print("dropout(x) in train mode (random zeros, others scaled by 1/(1-0.5) = 2):")
print(drop(x))
print()

drop.eval()
print("dropout(x) in eval mode (identity — same as input):")
print(drop(x))
