"""Decoding speed side by side, on the same weights, in one process: ``mygpt generate --fast`` (fp32,
and its opt-in bf16 / int8 weight copies), Hugging Face ``generate`` (with ``transformers``) and
llama.cpp on the ``mygpt export-gguf`` file (with ``llama-cpp-python``).

Batch 1, a 5-token prompt, top-k 10, temperature 1 (the CLI's defaults; llama.cpp's top-p and min-p
switched off so that it samples alike). Each rate is (n - 1) new tokens over (time for n - time for
1), so that start-up and the prompt are taken out; the runtimes alternate over rounds so that a
change in machine load hits all of them, and each ratio is the median of same-round ratios. All run
with ``torch.get_num_threads()`` threads (llama.cpp's ``n_threads`` set to the same), in float32 with
a float32 KV cache unless the row says otherwise. Shapes: ``large`` (C=384, 6 layers, 6 heads,
context 256, 65 tokens: a char model) and ``gpt2-124m`` (GPT-2 small: C=768, 12 layers, context
1024, 50,257 tokens), random weights in GPT-2 form.
"""

import copy
import os
import statistics
import tempfile
from collections.abc import Callable, Sequence

import torch

from ..config import GPTConfig
from ..errors import require
from ..fast import prepare_fast
from ..fast.hardware import cpu_flags, cpu_name
from ..fast.weight_copies import set_weight_precision
from ..generate import generate
from ..model import GPT
from ..tokenizer import CharTokenizer
from ..utils import Log, set_seed, silent
from .hf_sampling import _hf_model, new_tokens_per_s

SHAPES = {
    "large": (GPTConfig(65, 384, 6, 6, max_seq_len=256, attn_bias=True, gelu="tanh", store_masks=False), 250),
    "gpt2-124m": (GPTConfig(50257, 768, 12, 12, max_seq_len=1024, attn_bias=True, gelu="tanh",
                            store_masks=False), 250),
}
QUICK_SHAPES = {"tiny": (GPTConfig(65, 32, 2, 2, max_seq_len=32, attn_bias=True, gelu="tanh",
                                   store_masks=False), 20)}
# CPU features that decide these figures (the rest of /proc/cpuinfo's flags say little about them).
_SHOWN_FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_int8")


def cpu_summary() -> str:
    """The CPU's name and the flags that matter for these kernels."""
    flags = cpu_flags()
    shown = [f for f in _SHOWN_FLAGS if f in flags] or ["none of " + "/".join(_SHOWN_FLAGS)]
    return f"{cpu_name()} [{' '.join(shown)}]"


def _llama_cpp():
    try:
        import llama_cpp
    except ImportError:
        return None
    return llama_cpp


def _mygpt_sampler(model: GPT, prompt: torch.Tensor, weights: str) -> Callable[[int], object]:
    model = prepare_fast(copy.deepcopy(model))
    set_weight_precision(model, weights)
    return lambda n: generate(model, prompt, max_new_tokens=n, temperature=1.0, top_k=10, use_cache=True)


def _hf_sampler(model: GPT, prompt: torch.Tensor):
    hf = _hf_model(model)
    if hf is None:
        return None
    return lambda n: hf.generate(prompt, do_sample=True, top_k=10, temperature=1.0, max_new_tokens=n,
                                 min_new_tokens=n, pad_token_id=0, eos_token_id=None)


def _llama_sampler(model: GPT, prompt: torch.Tensor, directory: str):
    """llama.cpp on the GGUF export of ``model`` (a char tokenizer of distinct synthetic characters)."""
    llama_cpp = _llama_cpp()
    if llama_cpp is None:
        return None
    from ..interop.gguf import save_gguf

    tokenizer = CharTokenizer([chr(0x100 + i) for i in range(model.vocab_size)])
    path = os.path.join(directory, f"bench-{model.vocab_size}-{model.embed_dim}.gguf")
    save_gguf(model, tokenizer, path)
    llm = llama_cpp.Llama(model_path=path, n_ctx=model.max_seq_len, n_threads=torch.get_num_threads(),
                          n_threads_batch=torch.get_num_threads(), type_k=0, type_v=0, verbose=False)
    tokens = prompt[0].tolist()

    def sample(n: int) -> None:
        for count, _ in enumerate(llm.generate(tokens, top_k=10, top_p=1.0, min_p=0.0, temp=1.0, reset=True), 1):
            if count == n:
                break

    return sample


def _vs(rates: list[float], peer: list[float] | None) -> float | None:
    """The median same-round ratio of ``rates`` to a peer's (None without the peer)."""
    return None if peer is None else statistics.median(a / b for a, b in zip(rates, peer))


def decoding_rows(quick: bool = False, rounds: int | None = None, configs: Sequence[str] | None = None,
                  log: Log = silent) -> list[dict]:
    """One row per shape and runtime: ``config``, ``runtime``, ``precision``, ``tokens_per_s``, ``spread``,
    ``vs_hf`` and ``vs_llama_cpp`` (median same-round ratios, None where that peer is not installed),
    ``threads`` and ``cpu``. CPU only: the peers compared here are CPU runtimes. ``configs`` picks
    shapes of ``SHAPES`` (default: all; ``quick`` measures a tiny one instead); ``log`` is told of each
    timed stretch."""
    require(rounds is None or rounds >= 1, f"--rounds must be at least 1 (got {rounds})")
    shapes = QUICK_SHAPES if quick else {name: SHAPES[name] for name in (configs or SHAPES)}
    rounds = rounds or (1 if quick else 3)
    rows = []
    with tempfile.TemporaryDirectory() as directory:
        for config, (shape, new_tokens) in shapes.items():
            set_seed(0)
            model = GPT.from_config(shape).eval()
            prompt = torch.randint(0, shape.vocab_size, (1, 5))
            samplers = {("mygpt --fast", "fp32"): _mygpt_sampler(model, prompt, "fp32"),
                        ("mygpt --fast --weights bf16", "bf16 weights"): _mygpt_sampler(model, prompt, "bf16"),
                        ("mygpt --fast --weights int8", "int8 weights"): _mygpt_sampler(model, prompt, "int8"),
                        ("hf generate", "fp32"): _hf_sampler(model, prompt),
                        ("llama.cpp", "fp32"): _llama_sampler(model, prompt, directory)}
            samplers = {key: s for key, s in samplers.items() if s is not None}
            rates: dict[tuple[str, str], list[float]] = {key: [] for key in samplers}
            with torch.no_grad():
                for sample in samplers.values():  # warm-up
                    sample(2)
                for _ in range(rounds):
                    for key, sample in samplers.items():
                        log(f"decoding {config} {key[0]}")
                        rates[key].append(new_tokens_per_s(sample, new_tokens))
            for (runtime, precision), r in rates.items():
                rows.append({"config": config, "runtime": runtime, "precision": precision,
                             "tokens_per_s": statistics.median(r), "spread": (max(r) - min(r)) / 2,
                             "vs_hf": _vs(r, rates.get(("hf generate", "fp32"))),
                             "vs_llama_cpp": _vs(r, rates.get(("llama.cpp", "fp32"))),
                             "threads": torch.get_num_threads(), "cpu": cpu_summary()})
    return rows


def format_decoding(rows: list[dict]) -> list[str]:
    """The report's lines for ``decoding_rows``."""
    if not rows:
        return []
    lines = ["", ("decoding, batch 1, 5-token prompt, top-k 10 (new tokens/s: n - 1 over time(n) - time(1); "
                  "median ± half-range of alternating rounds; ratios are same-round medians)"),
             f"cpu: {rows[0]['cpu']}, {rows[0]['threads']} threads",
             f"{'config':<11}{'runtime':<29}{'weights':<14}{'tokens/s':>10}{'±':>8}{'vs hf':>8}{'vs llama.cpp':>14}"]
    for r in rows:
        def ratio(value):
            return "-" if value is None else f"{value:.2f}x"

        lines.append(f"{r['config']:<11}{r['runtime']:<29}{r['precision']:<14}{r['tokens_per_s']:>10,.1f}"
                     f"{r['spread']:>8,.1f}{ratio(r['vs_hf']):>8}{ratio(r['vs_llama_cpp']):>14}")
    runtimes = {r["runtime"] for r in rows}
    missing = [name for name, runtime in (("transformers", "hf generate"), ("llama-cpp-python", "llama.cpp"))
               if runtime not in runtimes]
    if missing:
        lines.append(f"(not installed, so not measured: {', '.join(missing)})")
    return lines
