"""``mygpt bench``: throughput of the exact and the fast path, side by side, in one process.

Training: tokens/s after warm-up (median and half-range over repeats) of ``exact``, ``fast`` and
``fast+bf16`` at the book's default model and at a larger one, and each run's achieved FLOP/s as a
fraction of this machine's measured matmul peak (fp32 for fp32 runs, bf16 for bf16 runs). FLOPs per
trained token are counted as ``6·N + 12·layers·T·C`` (N = weights used in matmuls, output head
included; the second term is causal attention counted over the full T×T, as is customary).

Sampling: new tokens/s of ``exact`` (full recomputation) and ``fast`` (KV cache), measured exactly as
``mygpt generate`` samples (same ``generate`` call, top-k 10, temperature 1.0), with start-up taken
out: (time for 250 new tokens - time for 1) / 249. ``large`` starts from a short prompt and never
crops its window; ``large-rope-crop`` starts from a full window, so every step crops.
"""

import argparse
import json
import os
import platform
import statistics
import sys
import time

import torch

from .fast import make_optimizer, prepare_fast
from .generate import generate
from .model import GPT
from .train import make_train_step
from .utils import get_batch, set_seed

VOCAB_SIZE = 65
TRAIN_CONFIGS = {
    "default": {"embed_dim": 64, "num_layers": 4, "num_heads": 4, "batch_size": 16, "seq_len": 64},
    "large": {"embed_dim": 384, "num_layers": 6, "num_heads": 6, "batch_size": 8, "seq_len": 256},
}
QUICK_TRAIN_CONFIGS = {
    "tiny": {"embed_dim": 32, "num_layers": 2, "num_heads": 2, "batch_size": 4, "seq_len": 16},
}
TRAIN_PATHS = ("exact", "fast", "fast+bf16")
SLOW_STEP_S = 5.0     # a slower step ends warm-up, counts as a sample, and gets 2 samples, not 3 (bounds runtime)
REPEAT_TARGET_S = 1.5  # each timed repeat runs enough steps to last about this long


def _cpu_name() -> str:
    """The CPU model from /proc/cpuinfo where available, else ``platform.processor()``."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def matmul_peak(dtype: torch.dtype, n: int = 1024, repeats: int = 5) -> float:
    """Best FLOP/s of an ``n×n`` by ``n×n`` product in ``dtype`` on the CPU (2·n³ FLOPs per product).

    Both ``a @ b`` and the ``F.linear`` layout (``a @ b.T``, what ``nn.Linear`` runs) are timed: without
    native bf16 kernels the two take very different code paths.
    """
    a = torch.randn(n, n).to(dtype)
    b = torch.randn(n, n).to(dtype)
    best = float("inf")
    for product in (lambda: a @ b, lambda: torch.nn.functional.linear(a, b)):
        product()
        for _ in range(repeats):
            start = time.perf_counter()
            product()
            best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best


def _flops_per_token(model: GPT, seq_len: int) -> float:
    matmul_weights = sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Linear))
    matmul_weights += model.token_embedding.embedding.weight.numel()  # the tied output head
    return 6 * matmul_weights + 12 * model.num_layers * seq_len * model.embed_dim


def _train_step_for(path: str, cfg: dict):
    """A fresh seeded model and its optimisation step on the given path; returns ``(model, step)``."""
    set_seed(0)
    model = GPT(VOCAB_SIZE, cfg["embed_dim"], cfg["num_heads"], cfg["num_layers"], max_seq_len=cfg["seq_len"])
    fast = path != "exact"
    optimizer = make_optimizer(model, 1e-3, fast=fast)
    precision = "bf16" if path.endswith("bf16") else "fp32"
    forward = prepare_fast(model, precision=precision) if fast else model
    return model, make_train_step(forward, optimizer, precision)


def train_throughput(path: str, cfg: dict, data: torch.Tensor, warmup: int = 2,
                     repeat_s: float = REPEAT_TARGET_S) -> tuple[float, float, GPT]:
    """Median tokens/s and half-range over timed repeats (each about ``repeat_s`` long) after warm-up."""
    model, step = _train_step_for(path, cfg)
    B, T = cfg["batch_size"], cfg["seq_len"]
    rates = []
    for _ in range(warmup):
        start = time.perf_counter()
        step(*get_batch(data, B, T))
        step_s = time.perf_counter() - start
        if step_s > SLOW_STEP_S:  # one-time costs are lost in a step this slow: keep it as a sample
            rates.append(B * T / step_s)
            break
    steps = max(1, round(repeat_s / step_s))
    while len(rates) < (2 if step_s > SLOW_STEP_S else 3):
        start = time.perf_counter()
        for _ in range(steps):
            step(*get_batch(data, B, T))
        rates.append(B * T * steps / (time.perf_counter() - start))
    return statistics.median(rates), (max(rates) - min(rates)) / 2, model


def sampling_throughput(model: GPT, fast: bool, prompt: torch.Tensor, new_tokens: int) -> float:
    """New tokens/s of ``generate`` as ``mygpt generate [--fast]`` runs it, start-up taken out."""
    model.set_fast(False)
    if fast:
        prepare_fast(model, compile_model=False)

    def timed(n: int) -> float:
        set_seed(0)
        start = time.perf_counter()
        generate(model, prompt, max_new_tokens=n, temperature=1.0, top_k=10, use_cache=fast)
        return time.perf_counter() - start

    return (new_tokens - 1) / (timed(new_tokens) - timed(1))


def _sampling_cases(quick: bool) -> list[tuple[str, GPT, torch.Tensor, int]]:
    """``(config, model, prompt, new tokens)``: short prompt without cropping, then RoPE past the crop."""
    name, (embed_dim, num_layers, num_heads, max_seq_len) = ("tiny", (32, 2, 2, 32)) if quick else \
        ("large", (384, 6, 6, 256))
    new_tokens = 20 if quick else 250
    cases = []
    for suffix, position, prompt_len in (("", "learned", 5), ("-rope-crop", "rope", max_seq_len)):
        set_seed(0)
        model = GPT(VOCAB_SIZE, embed_dim, num_heads, num_layers, max_seq_len=max_seq_len,
                    position_type=position)
        prompt = torch.randint(0, VOCAB_SIZE, (1, prompt_len))
        cases.append((name + suffix, model, prompt, new_tokens))
    return cases


def run(quick: bool = False) -> dict:
    """Run every measurement; returns ``{"train": [...], "generate": [...], "machine": {...}}``."""
    n = 128 if quick else 1024
    peaks = {"fp32": matmul_peak(torch.float32, n), "bf16": matmul_peak(torch.bfloat16, n // 2)}
    machine = {
        "cpu": _cpu_name(), "logical_cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__, "python": platform.python_version(), "device": "cpu",
        "load_average_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "fp32_matmul_flops": peaks["fp32"], "bf16_matmul_flops": peaks["bf16"],
    }
    data = torch.randint(0, VOCAB_SIZE, (100_000,), generator=torch.Generator().manual_seed(0))
    train_rows = []
    for config, cfg in (QUICK_TRAIN_CONFIGS if quick else TRAIN_CONFIGS).items():
        for path in TRAIN_PATHS:
            print(f"mygpt bench: training {config} {path}", file=sys.stderr, flush=True)
            rate, spread, model = train_throughput(path, cfg, data, warmup=1 if quick else 2,
                                                   repeat_s=0.05 if quick else REPEAT_TARGET_S)
            peak = peaks["bf16" if path.endswith("bf16") else "fp32"]
            train_rows.append({"config": config, "path": path, "tokens_per_s": rate, "spread": spread,
                               "peak_fraction": rate * _flops_per_token(model, cfg["seq_len"]) / peak})
    generate_rows = []
    for config, model, prompt, new_tokens in _sampling_cases(quick):
        for path in ("exact", "fast"):
            print(f"mygpt bench: sampling {config} {path}", file=sys.stderr, flush=True)
            rate = sampling_throughput(model, path == "fast", prompt, new_tokens)
            generate_rows.append({"config": config, "path": path, "tokens_per_s": rate})
    return {"train": train_rows, "generate": generate_rows, "machine": machine}


def _ratio(rows: list[dict], row: dict) -> float:
    exact = next(r for r in rows if r["config"] == row["config"] and r["path"] == "exact")
    return row["tokens_per_s"] / exact["tokens_per_s"]


def format_table(result: dict) -> str:
    """The human-readable report of ``run``'s result."""
    m = result["machine"]
    lines = [(f"machine: {m['cpu']}, {m['logical_cpus']} logical CPUs, {m['torch_threads']} torch threads, "
              f"torch {m['torch']}, 1-min load average {m['load_average_1min']}"),
             (f"matmul peak: fp32 {m['fp32_matmul_flops'] / 1e9:.1f} GFLOP/s, "
              f"bf16 {m['bf16_matmul_flops'] / 1e9:.1f} GFLOP/s"), "",
             "training (tokens/s after warm-up; median ± half-range over repeats)",
             f"{'config':<10}{'path':<12}{'tokens/s':>10}{'±':>8}{'vs exact':>10}{'of peak':>9}"]
    for r in result["train"]:
        lines.append(f"{r['config']:<10}{r['path']:<12}{r['tokens_per_s']:>10,.0f}{r['spread']:>8,.0f}"
                     f"{_ratio(result['train'], r):>9.2f}x{r['peak_fraction']:>8.1%}")
    lines += ["", "sampling (new tokens/s: 250 new tokens minus 1, as mygpt generate [--fast])",
              f"{'config':<18}{'path':<8}{'tokens/s':>10}{'vs exact':>10}"]
    for r in result["generate"]:
        lines.append(f"{r['config']:<18}{r['path']:<8}{r['tokens_per_s']:>10,.1f}"
                     f"{_ratio(result['generate'], r):>9.2f}x")
    return "\n".join(lines)


def _bench_command(args: argparse.Namespace) -> None:
    result = run(quick=args.quick)
    print(json.dumps(result) if args.json else format_table(result))
    sys.stdout.flush()


def add_parser(sub) -> None:
    """Register ``mygpt bench`` on the CLI's sub-command parsers."""
    b = sub.add_parser("bench", help="Measure training and sampling throughput, exact vs fast path.")
    b.add_argument("--json", action="store_true", help="Print one JSON object instead of a table.")
    b.add_argument("--quick", action="store_true",
                   help="Tiny models and few steps: checks that the benchmark runs, measures nothing useful.")
    b.set_defaults(func=_bench_command)
