"""Ch.5: the package's TokenEmbedding on one sentence and on a batch."""

import torch

from mygpt import TokenEmbedding, set_seed

set_seed(0)
te = TokenEmbedding(4, 4)
n_params = sum(p.numel() for p in te.parameters())
print(f"TokenEmbedding(V=4, C=4) — {n_params} params")
print()

ids = torch.tensor([0, 1, 2, 3])
x = te(ids)
print("single sentence:")
print(f"  ids       shape={tuple(ids.shape)}    {ids.tolist()}")
print(f"  embedded  shape={tuple(x.shape)}  (T, C)")
print(x)
print()

batch = torch.stack([torch.tensor([0, 1, 2, 3]), torch.tensor([2, 1, 0, 3])])
xb = te(batch)
print("batched:")
print(f"  ids       shape={tuple(batch.shape)}    (B, T)")
print(f"  embedded  shape={tuple(xb.shape)}  (B, T, C)")
