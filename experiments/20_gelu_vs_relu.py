"""Ch.9: GELU against ReLU."""

import torch
import torch.nn.functional as F
from torch import nn

x = torch.tensor([-2.0, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0])
print("x:   ", x)
print("gelu:", F.gelu(x))
print("relu:", F.relu(x))
print()
print("nn.GELU and F.gelu identical:", torch.equal(nn.GELU()(x), F.gelu(x)))
