"""The sampling part of ``mygpt bench`` that needs ``transformers``: ``mygpt generate --fast`` against
Hugging Face ``generate`` (with its KV cache) on the same GPT-2 weights, in one process.

Both sample 250 new tokens from a 5-token prompt with top-k 10 and temperature 1.0 (the CLI's
defaults); each rate is (250 - 1) new tokens over (time for 250 - time for 1). The two alternate over
``rounds`` rounds so that a change in machine load hits both; the ratio is the median of the
per-round ratios, with its half-range.
"""

import statistics
import time
from collections.abc import Callable

import torch

from ..config import GPTConfig
from ..fast import prepare_fast
from ..generate import generate
from ..interop.hf import config_to_hf, state_dict_to_hf
from ..model import GPT
from ..utils import set_seed

SHAPE = GPTConfig(65, 384, 6, 6, max_seq_len=256, attn_bias=True, gelu="tanh", store_masks=False)
QUICK_SHAPE = GPTConfig(65, 32, 2, 2, max_seq_len=32, attn_bias=True, gelu="tanh", store_masks=False)


def _hf_model(model: GPT):
    """A ``GPT2LMHeadModel`` with ``model``'s weights (eval mode, same device), or None without transformers."""
    try:
        from transformers import GPT2Config, GPT2LMHeadModel
    except ImportError:
        return None
    hf = GPT2LMHeadModel(GPT2Config(**config_to_hf(model.config)))
    hf.load_state_dict(state_dict_to_hf(model), strict=False)  # lm_head is tied to wte
    return hf.to(next(model.parameters()).device).eval()


def new_tokens_per_s(sample: Callable[[int], object], new_tokens: int, sync: Callable[[], object] = lambda: None) -> float:
    """(n - 1) / (time of ``sample(n)`` - time of ``sample(1)``), seeded alike, n = ``new_tokens``, each
    timing ended by ``sync()``: the rate once start-up and the prompt are taken out. ``sample(1)`` is
    timed 3 times and the least kept, so that a pause of a loaded machine cannot make it negative."""

    def timed(n: int) -> float:
        set_seed(0)
        start = time.perf_counter()
        sample(n)
        sync()
        return time.perf_counter() - start

    one = min(timed(1) for _ in range(3))
    return (new_tokens - 1) / max(timed(new_tokens) - one, 1e-9)


def hf_sampling_rows(quick: bool, device: torch.device, sync) -> list[dict]:
    """Rows ``{config, path, tokens_per_s, spread}`` for ``mygpt-fast`` and ``hf``, and one ``ratio`` row;
    an empty list when ``transformers`` is not installed."""
    shape, new_tokens, rounds = (QUICK_SHAPE, 20, 1) if quick else (SHAPE, 250, 5)
    set_seed(0)
    model = GPT.from_config(shape).to(device)
    hf = _hf_model(model)
    if hf is None:
        return []
    prepare_fast(model, compile_model=False)
    prompt = torch.randint(0, shape.vocab_size, (1, 5)).to(device)
    samplers = {
        "mygpt-fast": lambda n: generate(model, prompt, max_new_tokens=n, temperature=1.0, top_k=10,
                                         use_cache=True),
        "hf": lambda n: hf.generate(prompt, do_sample=True, top_k=10, temperature=1.0, max_new_tokens=n,
                                    min_new_tokens=n, pad_token_id=0, eos_token_id=None),
    }
    with torch.no_grad():
        for sample in samplers.values():  # warm-up
            sample(2)
        rates = {path: [] for path in samplers}
        for _ in range(rounds):
            for path, sample in samplers.items():
                rates[path].append(new_tokens_per_s(sample, new_tokens, sync))
    config = "gpt2-" + ("tiny" if quick else "large")
    rows = [{"config": config, "path": path, "tokens_per_s": statistics.median(r),
             "spread": (max(r) - min(r)) / 2} for path, r in rates.items()]
    ratios = [a / b for a, b in zip(rates["mygpt-fast"], rates["hf"])]
    rows.append({"config": config, "path": "ratio", "tokens_per_s": statistics.median(ratios),
                 "spread": (max(ratios) - min(ratios)) / 2})
    return rows


def format_rows(rows: list[dict]) -> list[str]:
    """The report's lines for ``hf_sampling_rows``."""
    if not rows:
        return ["", "mygpt vs Hugging Face generate: skipped (transformers is not installed)"]
    lines = ["", ("mygpt generate --fast vs Hugging Face generate (KV cache), same GPT-2 weights "
                  "(new tokens/s, median ± half-range of alternating rounds)"),
             f"{'config':<14}{'path':<12}{'tokens/s':>10}{'±':>8}"]
    for r in rows:
        if r["path"] == "ratio":
            lines.append(f"{r['config']:<14}{'ratio':<12}{r['tokens_per_s']:>9.2f}x{r['spread']:>7.2f}x")
        else:
            lines.append(f"{r['config']:<14}{r['path']:<12}{r['tokens_per_s']:>10,.1f}{r['spread']:>8,.1f}")
    return lines
