"""Token embedding: a lookup table from token ids to learned vectors (Ch.5)."""

import torch
from torch import nn


class TokenEmbedding(nn.Module):
    """Map int64 ids of any shape ``(...)`` to vectors ``(..., embed_dim)``."""

    def __init__(self, vocab_size: int, embed_dim: int):
        super().__init__()
        self.vocab_size = vocab_size
        self.embed_dim = embed_dim
        self.embedding = nn.Embedding(vocab_size, embed_dim)

    def forward(self, token_ids: torch.Tensor) -> torch.Tensor:
        return self.embedding(token_ids)
