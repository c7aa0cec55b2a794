"""Ch.11: two transformer blocks keep the (B, T, C) shape."""

import torch
from torch import nn

from mygpt import TokenEmbedding, TransformerBlock, set_seed


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


set_seed(0)
te = TokenEmbedding(4, 4)
blocks = nn.Sequential(*[TransformerBlock(4, num_heads=2, max_seq_len=64, dropout=0.0) for _ in range(2)])
blocks.eval()

x = te(torch.tensor([[0, 1, 2, 3]]))
out = blocks(x)
print(f"input shape:    {tuple(x.shape)}")
print(f"after 2 blocks: {tuple(out.shape)}")
print()
print(f"TokenEmbedding params: {n_params(te)}")
print(f"2 TransformerBlocks:   {n_params(blocks)}  (= 2 * {n_params(blocks[0])})")
print(f"Total:                 {n_params(te) + n_params(blocks)}")
