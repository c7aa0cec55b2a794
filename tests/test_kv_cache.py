"""KV-cache decoding gives full recomputation's logits and samples, including past the crop."""

import pytest
import torch

from mygpt import GPT, generate, set_seed

VARIANTS = [(position, kv) for position in ("learned", "rope") for kv in (4, 2, 1)]


def _model(position: str, kv: int) -> GPT:
    set_seed(0)
    return GPT(65, 32, 4, 2, max_seq_len=16, norm_type="rms" if kv == 2 else "layer",
               position_type=position, num_kv_heads=kv).eval()


@pytest.mark.parametrize("position,kv", VARIANTS)
def test_incremental_logits_match_full_forward(position, kv):
    model = _model(position, kv)
    ids = torch.randint(0, 65, (2, 16))
    full, _ = model(ids)
    cache = model.new_cache()
    with torch.no_grad():
        parts = [model(ids[:, :5], cache=cache)[0], model(ids[:, 5:9], cache=cache)[0]]
        parts += [model(ids[:, t:t + 1], cache=cache)[0] for t in range(9, 16)]
    assert cache.length == 16
    assert (torch.cat(parts, dim=1) - full).abs().max() < 1e-4


@pytest.mark.parametrize("position,kv", VARIANTS)
@pytest.mark.parametrize("top_k,temperature", [(1, 1.0), (None, 1.0), (10, 0.8)])
@pytest.mark.parametrize("prompt_len", [3, 16, 20])
def test_cached_sampling_equals_recompute(position, kv, top_k, temperature, prompt_len):
    model = _model(position, kv)
    prompt = torch.randint(0, 65, (2, prompt_len), generator=torch.Generator().manual_seed(prompt_len))
    runs = []
    for use_cache in (False, True):
        set_seed(7)
        runs.append(generate(model, prompt, 30, temperature=temperature, top_k=top_k, use_cache=use_cache))
    assert torch.equal(runs[0], runs[1])


def test_cache_refuses_to_overflow():
    model = _model("rope", 2)
    cache = model.new_cache()
    with torch.no_grad():
        model(torch.zeros(1, 16, dtype=torch.long), cache=cache)
        with pytest.raises(ValueError, match="max_seq_len=16"):
            model(torch.zeros(1, 1, dtype=torch.long), cache=cache)


def test_cached_sampling_runs_under_bf16_autocast():
    model = _model("rope", 2).set_fast(True)
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        out = generate(model, torch.zeros(1, 3, dtype=torch.long), 20, top_k=10, use_cache=True)
    assert out.shape == (1, 23)
