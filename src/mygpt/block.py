"""One pre-norm transformer block (Ch.11)."""

import torch
from torch import nn

from .attention import MultiHeadAttention
from .kv_cache import LayerKVCache
from .mlp import MLP
from .norm import _make_norm


class TransformerBlock(nn.Module):
    """``x + mha(ln1(x))`` then ``x + mlp(ln2(x))``."""

    def __init__(self, embed_dim: int, num_heads: int, max_seq_len: int = 64, dropout: float = 0.0,
                 norm_type: str = "layer", position_type: str = "learned", num_kv_heads: int | None = None,
                 attn_bias: bool = False, gelu: str = "erf", store_masks: bool = True, qk_norm: bool = False,
                 relu_squared: bool = False):
        super().__init__()
        if num_kv_heads is None:
            num_kv_heads = num_heads
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.num_kv_heads = num_kv_heads
        self.norm_type = norm_type
        self.position_type = position_type
        self.ln1 = _make_norm(embed_dim, norm_type)
        self.mha = MultiHeadAttention(embed_dim, num_heads, max_seq_len, dropout,
                                      position_type=position_type, num_kv_heads=num_kv_heads,
                                      bias=attn_bias, store_masks=store_masks, qk_norm=qk_norm)
        self.ln2 = _make_norm(embed_dim, norm_type)
        self.mlp = MLP(embed_dim, dropout, gelu, relu_squared)

    def forward(self, x: torch.Tensor, cache: LayerKVCache | None = None, past: int = 0) -> torch.Tensor:
        """``x`` ``(B, T, C)`` at positions ``past..past+T-1`` (see ``MultiHeadAttention.forward``)."""
        x = x + self.mha(self.ln1(x), cache, past)
        return x + self.mlp(self.ln2(x))
