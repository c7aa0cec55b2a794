"""Ch.5: nn.Embedding is a learnable lookup table."""

import torch
from torch import nn

from mygpt import set_seed

set_seed(0)
emb = nn.Embedding(4, 4)
ids = torch.tensor([0, 1, 2, 3])

print("nn.Embedding(4, 4)")
print(f"  weight.shape         = {tuple(emb.weight.shape)}")
print(f"  weight.requires_grad = {emb.weight.requires_grad}")
print(f"  total parameters     = {emb.weight.numel()}")
print()
print("emb.weight (V x C):")
print(emb.weight)
print()
out = emb(ids)
print(f"emb(ids) where ids={ids.tolist()}:")
print(out)
print()
print(f"shape: {tuple(ids.shape)} -> {tuple(out.shape)}")
print("matches emb.weight[ids]:", torch.equal(out, emb.weight[ids]))
