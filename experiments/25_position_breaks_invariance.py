"""Ch.12: without positions a token's vector ignores where it stands; with them it does not."""

import torch
from torch import nn

from mygpt import TokenEmbedding, set_seed

set_seed(0)
te = TokenEmbedding(4, 4)
pe = nn.Embedding(8, 4)
ids1 = torch.tensor([0, 1, 2, 3])
ids2 = torch.tensor([3, 2, 1, 0])

a, b = te(ids1)[3], te(ids2)[0]
print("Without position embedding (token 3 row):")
print("  ids1 position 3:", a)
print("  ids2 position 0:", b)
print("  identical:", torch.equal(a, b))
print()

positions = torch.arange(4)
a, b = (te(ids1) + pe(positions))[3], (te(ids2) + pe(positions))[0]
print("With position embedding (token 3 at different positions):")
print("  ids1 position 3 (token 3 at pos 3):", a)
print("  ids2 position 0 (token 3 at pos 0):", b)
print("  identical:", torch.equal(a, b))
