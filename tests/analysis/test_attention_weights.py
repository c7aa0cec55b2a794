"""Attention weights read from the exact path: causal, normalised, and the ones the forward uses."""

import math

import pytest
import torch
import torch.nn.functional as F

from mygpt import GPT, set_seed
from mygpt.analysis.attention_weights import attention_weights

IDS = torch.tensor([3, 1, 4, 1, 5, 9, 2, 6, 5, 3])


def _model(**kwargs) -> GPT:
    set_seed(0)
    return GPT(10, 16, 4, num_layers=2, max_seq_len=12, **kwargs)


@pytest.mark.parametrize("kwargs", [{}, {"norm_type": "rms", "position_type": "rope", "num_kv_heads": 2},
                                    {"num_kv_heads": 1, "dropout": 0.5}])
def test_weights_sum_to_one_over_visible_positions_and_are_zero_above_the_diagonal(kwargs):
    weights = attention_weights(_model(**kwargs).train(), IDS)
    T = len(IDS)
    assert len(weights) == 2
    for layer in weights:
        assert layer.shape == (4, T, T)
        assert torch.all(layer >= 0)
        assert torch.allclose(layer.sum(-1), torch.ones(4, T), atol=1e-6)
        assert torch.all(layer.triu(diagonal=1) == 0)
        assert torch.all(layer[:, 0, 0] == 1)  # the first token can only attend to itself


def test_weights_are_the_exact_paths_softmax():
    model = _model().eval()
    T, H, d = len(IDS), 4, 4
    x = model.token_embedding(IDS.unsqueeze(0)) + model.position_embedding(torch.arange(T))
    block = model.blocks[0]
    h = block.ln1(x)
    q = block.mha.W_Q(h).view(1, T, H, d).transpose(1, 2)
    k = block.mha.W_K(h).view(1, T, H, d).transpose(1, 2)
    mask = torch.triu(torch.full((T, T), float("-inf")), diagonal=1)
    expected = F.softmax((q @ k.transpose(-2, -1)) / math.sqrt(d) + mask, dim=-1)[0]
    weights = attention_weights(model, IDS)
    assert torch.equal(weights[0], expected)
    v = block.mha.W_V(h).view(1, T, H, d).transpose(1, 2)
    mixed = (weights[0].unsqueeze(0) @ v).transpose(1, 2).reshape(1, T, 16)
    assert torch.equal(block.mha.W_O(mixed), block.mha(h))  # these weights are what the layer applies


def test_training_mode_is_restored_and_no_hook_is_left():
    model = _model().train()
    attention_weights(model, IDS)
    assert model.training
    assert all(not block.mha.attn_drop._forward_hooks for block in model.blocks)


def test_fast_path_and_bad_ids_are_refused():
    model = _model().set_fast(True)
    with pytest.raises(ValueError, match="set_fast\\(False\\)"):
        attention_weights(model, IDS)
    assert all(not block.mha.attn_drop._forward_hooks for block in model.blocks)
    with pytest.raises(ValueError, match="1-D"):
        attention_weights(_model(), IDS.unsqueeze(0))
