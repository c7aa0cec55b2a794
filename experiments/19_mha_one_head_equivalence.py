"""Ch.8: MultiHeadAttention with one head is bit-identical to SingleHeadAttention."""

import torch

from mygpt import MultiHeadAttention, SingleHeadAttention, set_seed

set_seed(0)
single = SingleHeadAttention(4, 4, 64, 0.0)
single.eval()
set_seed(0)
multi = MultiHeadAttention(4, num_heads=1, max_seq_len=64, dropout=0.0)
multi.eval()
set_seed(42)
x = torch.randn(1, 4, 4)

with torch.no_grad():
    out_single, out_multi = single(x), multi(x)
print("SingleHeadAttention(4, 4):")
print(out_single)
print()
print("MultiHeadAttention(4, num_heads=1):")
print(out_multi)
print()
print("identical:   ", torch.equal(out_single, out_multi))
print(f"max abs diff: {(out_single - out_multi).abs().max().item():.3e}")
