"""Ch.6: the attention weights of the running example, recomputed from the module's matrices."""

import math

import torch
import torch.nn.functional as F

from mygpt import SingleHeadAttention, TokenEmbedding, set_seed

set_seed(0)
te = TokenEmbedding(4, 4)
attn = SingleHeadAttention(4, 4)
x = te(torch.tensor([[0, 1, 2, 3]]))

Q, K = attn.W_Q(x), attn.W_K(x)
T = x.shape[1]
scores = Q @ K.transpose(-2, -1) / math.sqrt(4)
mask = torch.triu(torch.full((T, T), float("-inf")), diagonal=1)
weights = F.softmax(scores + mask, dim=-1)

torch.set_printoptions(precision=4)
print(f"Attention weights (B=1, T={T}, T={T}) — first batch element:")
print(weights[0].detach())
print()
print("row sums:", weights[0].sum(dim=-1).detach())
print()
print(f"Final attention output shape: {tuple(attn(x).shape)}")
