"""Causal self-attention (Ch.6-8), rotary positions (Ch.25) and grouped-query attention (Ch.26).

The default is the exact reference path: the book's operations in the book's order, so that seeded
runs reproduce its numbers bit for bit. ``MultiHeadAttention.fast`` (set by ``GPT.set_fast``) computes
the same function with fused kernels. Both serve the KV cache.
"""

import math

import torch
import torch.nn.functional as F
from torch import nn

from .fast.weight_copies import fast_linear
from .kv_cache import LayerKVCache
from .norm import RMSNorm


def _causal_mask(max_seq_len: int) -> torch.Tensor:
    """Additive mask: 0 on and below the diagonal, ``-inf`` above it."""
    return torch.triu(torch.full((max_seq_len, max_seq_len), float("-inf")), diagonal=1)


def _check_length(T: int, max_seq_len: int) -> None:
    if T > max_seq_len:
        raise ValueError(f"input length T={T} exceeds max_seq_len={max_seq_len}")


def precompute_rope_cache(head_dim: int, max_seq_len: int, base: float = 10000.0) -> tuple[torch.Tensor, torch.Tensor]:
    """Cos/sin tables ``(max_seq_len, head_dim // 2)`` for the interleaved-pair rotation."""
    if head_dim % 2 != 0:
        raise ValueError(f"head_dim ({head_dim}) must be even for RoPE")
    inv_freq = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    positions = torch.arange(max_seq_len, dtype=torch.float32)
    angles = torch.outer(positions, inv_freq)
    return torch.cos(angles), torch.sin(angles)


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate each pair ``(x[2i], x[2i+1])`` of ``x`` ``(..., T, d)`` by its position's angle.

    Row ``t`` uses table row ``t``: positions are indices inside ``x``.
    """
    T = x.shape[-2]
    cos, sin = cos[:T], sin[:T]
    even, odd = x[..., 0::2], x[..., 1::2]
    new_even = even * cos - odd * sin
    new_odd = even * sin + odd * cos
    return torch.stack([new_even, new_odd], dim=-1).flatten(-2)


def _attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor,
            attn_drop: nn.Module) -> torch.Tensor:
    """Scaled dot-product attention the book's way: matmul, divide, add mask, softmax, dropout."""
    scores = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])
    scores = scores + mask
    weights = attn_drop(F.softmax(scores, dim=-1))
    return weights @ v


class SingleHeadAttention(nn.Module):
    """One causal attention head projecting ``embed_dim -> head_dim -> embed_dim`` (Ch.6-7)."""

    def __init__(self, embed_dim: int, head_dim: int, max_seq_len: int = 64, dropout: float = 0.0):
        super().__init__()
        self.embed_dim = embed_dim
        self.head_dim = head_dim
        self.max_seq_len = max_seq_len
        self.dropout = dropout
        self.W_Q = nn.Linear(embed_dim, head_dim, bias=False)
        self.W_K = nn.Linear(embed_dim, head_dim, bias=False)
        self.W_V = nn.Linear(embed_dim, head_dim, bias=False)
        self.W_O = nn.Linear(head_dim, embed_dim, bias=False)
        self.attn_drop = nn.Dropout(dropout)
        self.out_drop = nn.Dropout(dropout)
        self.register_buffer("causal_mask", _causal_mask(max_seq_len))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        T = x.shape[1]
        _check_length(T, self.max_seq_len)
        out = _attend(self.W_Q(x), self.W_K(x), self.W_V(x), self.causal_mask[:T, :T], self.attn_drop)
        return self.out_drop(self.W_O(out))


class MultiHeadAttention(nn.Module):
    """Causal multi-head attention with optional RoPE and grouped-query K/V heads (Ch.8, 25, 26).

    ``num_kv_heads`` K/V heads are shared by groups of ``kv_repeat`` query heads; query head ``i``
    uses K/V head ``i // kv_repeat``. RoPE rotates Q and K before the K/V heads are repeated.

    ``fast`` (set by ``GPT.set_fast``) only chooses the kernels, never the function: the book's three
    projections and ``_attend`` (exact, the default), or one fused QKV matmul and
    ``F.scaled_dot_product_attention`` (equal to float rounding).

    ``bias=True`` gives the four projections biases (GPT-2's attention). ``store_masks=False`` keeps
    the mask and RoPE tables out of the ``state_dict`` (they follow from the shape); such a module
    still loads a book ``state_dict`` that carries them. ``qk_norm=True`` passes each head's queries
    and keys through an RMSNorm over the head dimension (gains shared by the heads) before RoPE.
    """

    fast = False

    def __init__(self, embed_dim: int, num_heads: int, max_seq_len: int = 64, dropout: float = 0.0,
                 position_type: str = "learned", num_kv_heads: int | None = None, bias: bool = False,
                 store_masks: bool = True, qk_norm: bool = False):
        super().__init__()
        if embed_dim % num_heads != 0:
            raise ValueError(f"embed_dim ({embed_dim}) must be divisible by num_heads ({num_heads})")
        if num_kv_heads is None:
            num_kv_heads = num_heads
        if num_heads % num_kv_heads != 0:
            raise ValueError(f"num_heads ({num_heads}) must be divisible by num_kv_heads ({num_kv_heads})")
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.max_seq_len = max_seq_len
        self.dropout = dropout
        self.position_type = position_type
        self.num_kv_heads = num_kv_heads
        self.head_dim = embed_dim // num_heads
        self.kv_repeat = num_heads // num_kv_heads
        self.qk_norm = qk_norm
        self.W_Q = nn.Linear(embed_dim, num_heads * self.head_dim, bias=bias)
        self.W_K = nn.Linear(embed_dim, num_kv_heads * self.head_dim, bias=bias)
        self.W_V = nn.Linear(embed_dim, num_kv_heads * self.head_dim, bias=bias)
        self.W_O = nn.Linear(embed_dim, embed_dim, bias=bias)
        self.attn_drop = nn.Dropout(dropout)
        self.out_drop = nn.Dropout(dropout)
        self.register_buffer("causal_mask", _causal_mask(max_seq_len), persistent=store_masks)
        if position_type == "rope":
            cos, sin = precompute_rope_cache(self.head_dim, max_seq_len)
            self.register_buffer("rope_cos", cos, persistent=store_masks)
            self.register_buffer("rope_sin", sin, persistent=store_masks)
        if qk_norm:
            self.q_norm, self.k_norm = RMSNorm(self.head_dim), RMSNorm(self.head_dim)

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        """Drop the stored tables a ``store_masks=False`` module recomputes (book checkpoints have them)."""
        for name in self._non_persistent_buffers_set:
            state_dict.pop(prefix + name, None)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def forward(self, x: torch.Tensor, cache: LayerKVCache | None = None, past: int = 0) -> torch.Tensor:
        """Attend causally over ``x`` ``(B, T, C)``, whose tokens sit at positions ``past..past+T-1``.

        With a ``cache``, the keys and values of positions ``0..past-1`` come from it and this call's
        are stored in it; without one, ``past`` is 0 (Ch.8).
        """
        B, T, C = x.shape
        _check_length(past + T, self.max_seq_len)
        q, k, v = self._project_qkv(x)
        q = self._split_heads(q, self.num_heads)
        k = self._split_heads(k, self.num_kv_heads)
        v = self._split_heads(v, self.num_kv_heads)
        if self.qk_norm:
            q, k = self.q_norm(q), self.k_norm(k)
        if self.position_type == "rope":
            cos, sin = self.rope_cos[past:past + T], self.rope_sin[past:past + T]
            q = apply_rope(q, cos, sin)
            k = apply_rope(k, cos, sin)
        if cache is not None:
            k, v = cache.store(k, v, past)
        out = self._sdpa(q, k, v, past) if self.fast else self._exact_attention(q, k, v, past)
        out = out.transpose(1, 2).contiguous().view(B, T, C)
        return self.out_drop(fast_linear(self, "out", out, self.W_O) if self.fast else self.W_O(out))

    def _split_heads(self, t: torch.Tensor, heads: int) -> torch.Tensor:
        """``(B, T, heads * d)`` -> ``(B, heads, T, d)``."""
        B, T, _ = t.shape
        return t.view(B, T, heads, self.head_dim).transpose(1, 2)

    def _project_qkv(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Q, K, V ``(B, T, ·)``: three matmuls (exact), or one over ``cat(W_Q, W_K, W_V)`` (fast).

        The fast path's fused weight comes from the live parameters whenever autograd is on, so
        gradients reach the three originals (see ``weight_copies``).
        """
        if not self.fast:
            return self.W_Q(x), self.W_K(x), self.W_V(x)
        kv_dim = self.num_kv_heads * self.head_dim
        qkv = fast_linear(self, "qkv", x, self.W_Q, self.W_K, self.W_V)
        return qkv.split([self.embed_dim, kv_dim, kv_dim], dim=-1)

    def _exact_attention(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, past: int) -> torch.Tensor:
        """The book's kernel: K/V heads repeated for their query groups, then ``_attend``."""
        if self.kv_repeat > 1:
            k = k.repeat_interleave(self.kv_repeat, dim=1)
            v = v.repeat_interleave(self.kv_repeat, dim=1)
        T = q.shape[2]
        return _attend(q, k, v, self.causal_mask[past:past + T, :past + T], self.attn_drop)

    def _sdpa(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, past: int) -> torch.Tensor:
        """PyTorch's fused kernel; a lone new query sees every key, a block from 0 is plainly causal.

        On a CPU, bf16 Q/K/V are attended in fp32: there the bf16 kernel's backward is several times
        slower than fp32's (docs/time-to-loss.md), and fp32 is the more exact of the two.
        """
        if q.dtype == torch.bfloat16 and q.device.type == "cpu":
            with torch.autocast("cpu", enabled=False):  # autocast would cast them back to bf16
                return self._sdpa(q.float(), k.float(), v.float(), past).to(q.dtype)
        T = q.shape[2]
        mask = None if T == 1 or past == 0 else self.causal_mask[past:past + T, :past + T].to(q.dtype)
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=past == 0 and T > 1,
                                              dropout_p=self.dropout if self.training else 0.0,
                                              enable_gqa=self.kv_repeat > 1)
