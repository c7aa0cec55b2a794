"""KV-cache decoding (one position counter) gives full recomputation's logits and samples, in both modes."""

import pytest
import torch

from mygpt import GPT, generate, set_seed

VARIANTS = [(position, kv) for position in ("learned", "rope") for kv in (4, 2, 1)]


def _model(position: str, kv: int, fast: bool = False) -> GPT:
    set_seed(0)
    model = GPT(65, 32, 4, 2, max_seq_len=16, norm_type="rms" if kv == 2 else "layer",
                position_type=position, num_kv_heads=kv)
    return model.set_fast(fast).eval()


@pytest.mark.parametrize("fast", [False, True], ids=["exact", "fast"])
@pytest.mark.parametrize("position,kv", VARIANTS)
def test_incremental_logits_match_full_forward(position, kv, fast):
    model = _model(position, kv, fast)
    ids = torch.randint(0, 65, (2, 16))
    full, _ = model(ids)
    cache = model.new_cache()
    with torch.no_grad():
        parts = [model(ids[:, :5], cache=cache)[0], model(ids[:, 5:9], cache=cache)[0]]
        assert cache.length == 9
        parts += [model(ids[:, t:t + 1], cache=cache)[0] for t in range(9, 16)]
    assert cache.length == 16
    assert (torch.cat(parts, dim=1) - full).abs().max() < 1e-4


@pytest.mark.parametrize("fast", [False, True], ids=["exact", "fast"])
@pytest.mark.parametrize("position,kv", VARIANTS)
def test_cached_sampling_equals_recompute(position, kv, fast):
    """Same tokens with and without the cache: short prompts, a full window, past the crop; greedy and sampled."""
    model = _model(position, kv, fast)
    for prompt_len, top_k, temperature in ((3, 1, 1.0), (15, None, 1.0), (20, 10, 0.8)):
        prompt = torch.randint(0, 65, (2, prompt_len), generator=torch.Generator().manual_seed(prompt_len))
        runs = []
        for use_cache in (False, True):
            set_seed(7)
            runs.append(generate(model, prompt, 16, temperature=temperature, top_k=top_k, use_cache=use_cache))
        assert torch.equal(runs[0], runs[1]), (prompt_len, top_k)


def test_cache_refuses_to_overflow():
    model = _model("rope", 2)
    cache = model.new_cache()
    with torch.no_grad():
        model(torch.zeros(1, 16, dtype=torch.long), cache=cache)
        with pytest.raises(ValueError, match="max_seq_len=16"):
            model(torch.zeros(1, 1, dtype=torch.long), cache=cache)


def test_cached_sampling_runs_under_bf16_autocast():
    model = _model("rope", 2, fast=True)
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        out = generate(model, torch.zeros(1, 3, dtype=torch.long), 20, top_k=10, use_cache=True)
    assert out.shape == (1, 23)
