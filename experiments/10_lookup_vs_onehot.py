"""Ch.5: an embedding lookup is a one-hot row times the matrix."""

import torch
import torch.nn.functional as F

from mygpt import set_seed

set_seed(0)
W = torch.randn(4, 4)
one_hot = F.one_hot(torch.tensor(1), num_classes=4).float()

print("Embedding matrix W (V=4, C=4):")
print(W)
print()
print("one-hot for id=1:", one_hot)
print()
print("one-hot @ W   =", one_hot @ W)
print("W[1]            =", W[1])
print("identical:   ", torch.equal(one_hot @ W, W[1]))
