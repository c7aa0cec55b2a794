"""Causal attention (Ch.6-8), RoPE (Ch.25) and GQA (Ch.26): one forward, two kernel choices, a cache."""

import pytest
import torch

from mygpt import GPT, MultiHeadAttention, SingleHeadAttention, apply_rope, precompute_rope_cache, set_seed


def n_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize("call, message", [
    (lambda: MultiHeadAttention(4, 3), "embed_dim (4) must be divisible by num_heads (3)"),
    (lambda: MultiHeadAttention(8, 4, num_kv_heads=3), "num_heads (4) must be divisible by num_kv_heads (3)"),
    (lambda: MultiHeadAttention(4, 2, max_seq_len=2)(torch.zeros(1, 3, 4)), "input length T=3 exceeds max_seq_len=2"),
    (lambda: SingleHeadAttention(4, 4, max_seq_len=2)(torch.zeros(1, 3, 4)),
     "input length T=3 exceeds max_seq_len=2"),
    (lambda: precompute_rope_cache(3, 4), "head_dim (3) must be even for RoPE"),
    (lambda: MultiHeadAttention(6, 2, position_type="rope"), "head_dim (3) must be even for RoPE"),
])
def test_book_error_messages(call, message):
    with pytest.raises(ValueError) as info:
        call()
    assert str(info.value) == message


@pytest.mark.parametrize("C", [4, 8, 64])
def test_parameter_formulas(C):
    assert n_params(MultiHeadAttention(C, 2)) == 4 * C * C
    assert n_params(MultiHeadAttention(C, 4, num_kv_heads=2)) == 2 * C * C + 2 * C * (2 * C // 4)


def test_single_head_attention_counts_and_buffer():
    attn = SingleHeadAttention(4, 4)
    assert n_params(attn) == 64
    assert attn.causal_mask.numel() == 4096


def test_rope_rotates_pairs_and_keeps_row_zero():
    cos, sin = precompute_rope_cache(4, 3)
    x = torch.arange(12, dtype=torch.float32).view(3, 4)
    out = apply_rope(x, cos, sin)
    assert torch.equal(out[0], x[0])
    assert torch.allclose(out.norm(dim=-1), x.norm(dim=-1))  # a rotation keeps lengths


def test_future_tokens_do_not_change_the_past():
    """Causality: outputs at positions < t do not depend on the token at t (both kernels)."""
    set_seed(0)
    attn = MultiHeadAttention(8, 2, max_seq_len=6, position_type="rope", num_kv_heads=1).eval()
    x = torch.randn(1, 6, 8)
    y = x.clone()
    y[:, 4:] = torch.randn(1, 2, 8)
    for fast in (False, True):
        attn.fast = fast
        assert torch.allclose(attn(x)[:, :4], attn(y)[:, :4], atol=1e-6)


def test_exact_mode_with_a_cache_uses_the_books_kernels(monkeypatch):
    """A KV cache does not switch an exact-mode model to the fused kernels."""
    def refuse(*args, **kwargs):
        raise AssertionError("exact mode called scaled_dot_product_attention")

    monkeypatch.setattr(torch.nn.functional, "scaled_dot_product_attention", refuse)
    set_seed(0)
    model = GPT(11, 8, 2, 2, max_seq_len=8).eval()
    cache = model.new_cache()
    with torch.no_grad():
        model(torch.tensor([[1, 2, 3]]), cache=cache)
        model(torch.tensor([[4]]), cache=cache)
    assert cache.length == 4
