"""``mygpt bench``: throughput of the exact and the fast path, side by side, in one process.

Training: tokens/s after warm-up (median and half-range over rounds that alternate the paths, so that
a busy machine slows them alike; ratios are taken within each round) of ``exact``, ``fast`` and
``fast+bf16`` (bf16 only where it is native, else the fast path's fp32) at the book's default model
and at a larger one, and each run's achieved FLOP/s as a
fraction of this machine's measured matmul peak (fp32 for fp32 runs, bf16 for bf16 runs). FLOPs per
trained token are counted as ``6·N + 12·layers·T·C`` (N = weights used in matmuls, output head
included; the second term is causal attention counted over the full T×T, as is customary).

Sampling: new tokens/s of ``exact`` (full recomputation) and ``fast`` (KV cache), measured exactly as
``mygpt generate`` samples (same ``generate`` call, top-k 10, temperature 1.0), with start-up taken
out: (time for 250 new tokens - time for 1) / 249. ``large`` starts from a short prompt and never
crops its window; ``large-rope-crop`` starts from a full window, so every step crops.

With ``transformers`` installed, ``mygpt generate --fast`` is also set against Hugging Face
``generate`` on the same GPT-2 weights (``bench_hf``).
"""

import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, replace

import torch

from ..config import GPTConfig, TrainConfig
from ..fast import prepare_fast
from ..fast.compile import CompileCosts, compile_key, record_costs
from ..fast.hardware import bf16_is_native, cpu_name
from ..generate import generate
from ..model import GPT
from ..train.loop import setup_training
from ..utils import Log, get_batch, pick_device, set_seed, silent
from .hf_sampling import format_rows, hf_sampling_rows

VOCAB_SIZE = 65


@dataclass(frozen=True)
class Case:
    """A model shape and the batch it trains on."""

    model: GPTConfig
    batch_size: int
    seq_len: int


TRAIN_CASES = {
    "default": Case(GPTConfig(VOCAB_SIZE, 64, 4, 4, max_seq_len=64), 16, 64),
    "large": Case(GPTConfig(VOCAB_SIZE, 384, 6, 6, max_seq_len=256), 8, 256),
}
QUICK_TRAIN_CASES = {"tiny": Case(GPTConfig(VOCAB_SIZE, 32, 2, 2, max_seq_len=16), 4, 16)}
TRAIN_PATHS = ("exact", "fast", "fast+bf16")
SLOW_STEP_S = 5.0     # a slower step ends warm-up, counts as a sample, and gets 2 samples, not 3 (bounds runtime)
REPEAT_TARGET_S = 1.5  # each timed repeat runs enough steps to last about this long


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return cpu_name() if device.type == "cpu" else device.type


def _sync(device: torch.device) -> None:
    """Wait for queued device work, so that a timer measures it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def matmul_peak(dtype: torch.dtype, device: torch.device, n: int = 1024, repeats: int = 5) -> float:
    """Best FLOP/s of an ``n×n`` by ``n×n`` product in ``dtype`` on ``device`` (2·n³ FLOPs per product).

    Both ``a @ b`` and the ``F.linear`` layout (``a @ b.T``, what ``nn.Linear`` runs) are timed: without
    native bf16 kernels the two take very different code paths.
    """
    a = torch.randn(n, n).to(device, dtype)
    b = torch.randn(n, n).to(device, dtype)
    best = float("inf")
    for product in (lambda: a @ b, lambda: torch.nn.functional.linear(a, b)):
        product()
        _sync(device)
        for _ in range(repeats):
            start = time.perf_counter()
            product()
            _sync(device)
            best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best


def _flops_per_token(model: GPT, seq_len: int) -> float:
    matmul_weights = sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Linear))
    matmul_weights += model.token_embedding.embedding.weight.numel()  # the tied output head
    return 6 * matmul_weights + 12 * model.num_layers * seq_len * model.embed_dim


def _train_step_for(path: str, case: Case, device: torch.device, compile_model: bool = False):
    """A fresh seeded model on ``device`` and its optimisation step on the given path: ``(model, setup)``."""
    set_seed(0)
    model = GPT.from_config(case.model).to(device)
    config = TrainConfig(batch_size=case.batch_size, seq_len=case.seq_len, fast=path != "exact",
                         precision="bf16" if path.endswith("bf16") else "fp32", compile=compile_model)
    return model, setup_training(model, config)


def _timer(step, case: Case, data: torch.Tensor):
    """``timed(steps) -> seconds`` for ``steps`` optimisation steps on fresh batches."""
    def timed(steps: int) -> float:
        start = time.perf_counter()
        for _ in range(steps):
            step(*get_batch(data, case.batch_size, case.seq_len))
        _sync(data.device)
        return time.perf_counter() - start
    return timed


def train_throughputs(paths: tuple[str, ...], case: Case, data: torch.Tensor, warmup: int = 2,
                      repeat_s: float = REPEAT_TARGET_S, rounds: int = 3, log: Log = silent) -> dict[str, dict]:
    """Tokens/s of each path, measured in alternating rounds so that a busy machine slows all alike.

    Per path: ``median`` and ``spread`` (half-range) of tokens/s over the rounds, ``ratios`` (this
    path's speed over each other path's in the same round) and the ``model``. Warm-up steps (at least
    one) also size each path's repeat to about ``repeat_s``; a step slower than ``SLOW_STEP_S`` cuts the
    rounds to 2. ``data`` lives on the device to measure. ``log`` is told of each timed stretch.
    """
    timers, models, steps, precisions = {}, {}, {}, {}
    for path in paths:
        models[path], setup = _train_step_for(path, case, data.device)
        timers[path], precisions[path] = _timer(setup.step, case, data), setup.precision
        step_s = min(timers[path](1) for _ in range(max(1, warmup)))
        steps[path] = max(1, round(repeat_s / step_s))
        if step_s > SLOW_STEP_S:
            rounds = 2
    tokens = case.batch_size * case.seq_len
    rates = {path: [] for path in paths}
    for _ in range(rounds):
        for path in paths:
            log(f"training {path}")
            rates[path].append(tokens * steps[path] / timers[path](steps[path]))
    return {path: {"median": statistics.median(r), "spread": (max(r) - min(r)) / 2, "model": models[path],
                   "precision": precisions[path],
                   "ratios": {other: [a / b for a, b in zip(r, rates[other])] for other in paths}}
            for path, r in rates.items()}


def first_compiled_step_s(case_name: str) -> float:
    """Seconds of the first fast-path step of ``TRAIN_CASES[case_name]`` with its block compiled.

    Run in a fresh process (``compile_costs``) so that nothing is cached in memory: with an empty
    inductor cache this is the cold compile, with a filled one the warm start, each plus one step.
    """
    case = TRAIN_CASES[case_name]
    data = torch.randint(0, VOCAB_SIZE, (10_000,))
    _, setup = _train_step_for("fast", case, data.device, compile_model=True)
    start = time.perf_counter()
    setup.step(*get_batch(data, case.batch_size, case.seq_len))
    return time.perf_counter() - start


def compile_costs(case_name: str, data: torch.Tensor, timed_steps: int = 20, log: Log = silent) -> dict:
    """Cold and warm compile time of the fast path's transformer block at a case, and its saving.

    Cold: a fresh process with an empty inductor cache (a temporary folder); warm: another fresh
    process on the filled cache. The saving compares the compiled step with the eager fast step over
    alternating rounds. The result is recorded for ``mygpt train --fast``'s compile decisions.
    """
    import subprocess
    import tempfile

    case = TRAIN_CASES[case_name]
    eager_model, eager_setup = _train_step_for("fast", case, data.device)
    _, compiled_setup = _train_step_for("fast", case, data.device, compile_model=True)
    eager, compiled = _timer(eager_setup.step, case, data), _timer(compiled_setup.step, case, data)
    times = {}
    with tempfile.TemporaryDirectory() as cold_dir:
        for cache in ("cold", "warm"):
            log(f"compiling ({cache} cache, fresh process)")
            code = f"from mygpt.bench.throughput import first_compiled_step_s; print(first_compiled_step_s({case_name!r}))"
            done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                  env={**os.environ, "TORCHINDUCTOR_CACHE_DIR": cold_dir})
            times[cache] = float(done.stdout.split()[-1])
    compiled(3)
    eager(3)
    pairs = [(eager(timed_steps), compiled(timed_steps)) for _ in range(3)]
    savings = [1 - c / e for e, c in pairs]
    step_s = min(c for _, c in pairs) / timed_steps
    costs = CompileCosts(statistics.median(savings), times["cold"] - step_s, times["warm"] - step_s)
    record_costs(compile_key(eager_model, (case.batch_size, case.seq_len), "fp32"), costs)
    return {"cold_s": costs.cold_s, "warm_s": costs.warm_s, "saving": costs.saving,
            "saving_range": [min(savings), max(savings)]}


def sampling_throughput(model: GPT, fast: bool, prompt: torch.Tensor, new_tokens: int) -> float:
    """New tokens/s of ``generate`` as ``mygpt generate [--fast]`` runs it, start-up taken out."""
    model.set_fast(False)
    if fast:
        prepare_fast(model, compile_model=False)
    device = prompt.device

    def timed(n: int) -> float:
        set_seed(0)
        start = time.perf_counter()
        generate(model, prompt, max_new_tokens=n, temperature=1.0, top_k=10, use_cache=fast)
        _sync(device)
        return time.perf_counter() - start

    return (new_tokens - 1) / (timed(new_tokens) - timed(1))


def _sampling_cases(quick: bool, device: torch.device) -> list[tuple[str, GPT, torch.Tensor, int]]:
    """``(config, model, prompt, new tokens)``: short prompt without cropping, then RoPE past the crop."""
    name, shape = ("tiny", GPTConfig(VOCAB_SIZE, 32, 2, 2, max_seq_len=32)) if quick else \
        ("large", GPTConfig(VOCAB_SIZE, 384, 6, 6, max_seq_len=256))
    new_tokens = 20 if quick else 250
    cases = []
    for suffix, position, prompt_len in (("", "learned", 5), ("-rope-crop", "rope", shape.max_seq_len)):
        set_seed(0)
        model = GPT.from_config(replace(shape, position_type=position)).to(device)
        prompt = torch.randint(0, VOCAB_SIZE, (1, prompt_len)).to(device)
        cases.append((name + suffix, model, prompt, new_tokens))
    return cases


def run(quick: bool = False, device: str = "auto", hf_only: bool = False, compile_default: bool = False,
        log: Log = silent) -> dict:
    """Run every measurement; returns ``{"train": [...], "generate": [...], "hf_generate": [...],
    "machine": {...}}`` (``hf_only``: only ``hf_generate`` and ``machine``).

    ``compile_default`` adds ``"compile"``: cold/warm compile seconds and saving at the default model.
    ``log`` is told of each stage as it starts (a full run takes minutes).
    """
    device = pick_device(device)
    n = 128 if quick else 1024
    peaks = {"fp32": matmul_peak(torch.float32, device, n), "bf16": matmul_peak(torch.bfloat16, device, n // 2)}
    machine = {
        "cpu": cpu_name(), "logical_cpus": os.cpu_count(), "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__, "python": platform.python_version(), "device": str(device),
        "device_name": _device_name(device),
        "load_average_1min": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "fp32_matmul_flops": peaks["fp32"], "bf16_matmul_flops": peaks["bf16"],
        "native_bf16": bf16_is_native(device), "cpu_capability": torch.backends.cpu.get_cpu_capability(),
    }
    log("sampling, mygpt --fast vs Hugging Face")
    hf_rows = hf_sampling_rows(quick, device, lambda: _sync(device))
    if hf_only:
        return {"hf_generate": hf_rows, "machine": machine}
    data = torch.randint(0, VOCAB_SIZE, (100_000,), generator=torch.Generator().manual_seed(0)).to(device)
    train_rows = []
    for config, case in (QUICK_TRAIN_CASES if quick else TRAIN_CASES).items():
        log(f"training {config}")
        results = train_throughputs(TRAIN_PATHS, case, data, warmup=1 if quick else 2,
                                    repeat_s=0.05 if quick else REPEAT_TARGET_S, log=log)
        for path, r in results.items():
            bf16 = r["precision"] == "bf16"
            train_rows.append({
                "config": config, "path": path, "precision": r["precision"],
                "tokens_per_s": r["median"], "spread": r["spread"],
                "vs_exact": statistics.median(r["ratios"]["exact"]),
                "vs_exact_range": [min(r["ratios"]["exact"]), max(r["ratios"]["exact"])],
                "vs_fast": statistics.median(r["ratios"]["fast"]),
                "peak_fraction": r["median"] * _flops_per_token(r["model"], case.seq_len)
                / peaks["bf16" if bf16 else "fp32"]})
    generate_rows = []
    for config, model, prompt, new_tokens in _sampling_cases(quick, device):
        for path in ("exact", "fast"):
            log(f"sampling {config} {path}")
            rate = sampling_throughput(model, path == "fast", prompt, new_tokens)
            generate_rows.append({"config": config, "path": path, "tokens_per_s": rate})
    result = {"train": train_rows, "generate": generate_rows, "hf_generate": hf_rows, "machine": machine}
    if compile_default:
        result["compile"] = {"config": "default", **compile_costs("default", data, log=log)}
    return result


def _ratio(rows: list[dict], row: dict) -> float:
    exact = next(r for r in rows if r["config"] == row["config"] and r["path"] == "exact")
    return row["tokens_per_s"] / exact["tokens_per_s"]


def format_table(result: dict) -> str:
    """The human-readable report of ``run``'s result."""
    m = result["machine"]
    lines = [(f"machine: {m['cpu']}, {m['logical_cpus']} logical CPUs, {m['torch_threads']} torch threads, "
              f"torch {m['torch']}, 1-min load average {m['load_average_1min']}"),
             f"device: {m['device']} ({m['device_name']})",
             (f"matmul peak: fp32 {m['fp32_matmul_flops'] / 1e9:.1f} GFLOP/s, "
              f"bf16 {m['bf16_matmul_flops'] / 1e9:.1f} GFLOP/s"), "",
              f"native bf16: {m['native_bf16']} (CPU capability {m['cpu_capability']})"]
    if "train" not in result:
        return "\n".join(lines + format_rows(result["hf_generate"]))
    lines += ["", ("training (tokens/s after warm-up; median ± half-range over alternating rounds; ratios are "
                   "the median [range] of same-round ratios)"),
              (f"{'config':<10}{'path':<12}{'dtype':<6}{'tokens/s':>10}{'±':>8}{'vs exact':>10}{'range':>14}"
               f"{'vs fast':>9}{'of peak':>9}")]
    for r in result["train"]:
        low, high = r["vs_exact_range"]
        lines.append(f"{r['config']:<10}{r['path']:<12}{r['precision']:<6}{r['tokens_per_s']:>10,.0f}"
                     f"{r['spread']:>8,.0f}{r['vs_exact']:>9.2f}x{f'[{low:.2f}-{high:.2f}]':>14}"
                     f"{r['vs_fast']:>8.2f}x{r['peak_fraction']:>8.1%}")
    lines += ["", "sampling (new tokens/s: 250 new tokens minus 1, as mygpt generate [--fast])",
              f"{'config':<18}{'path':<8}{'tokens/s':>10}{'vs exact':>10}"]
    for r in result["generate"]:
        lines.append(f"{r['config']:<18}{r['path']:<8}{r['tokens_per_s']:>10,.1f}"
                     f"{_ratio(result['generate'], r):>9.2f}x")
    if "compile" in result:
        c = result["compile"]
        lines += ["", (f"compiling the transformer block ({c['config']} model, fast path): cold cache "
                      f"{c['cold_s']:.1f} s, warm cache {c['warm_s']:.1f} s, saving per step {c['saving']:.1%} "
                      f"[{c['saving_range'][0]:.1%} to {c['saving_range'][1]:.1%}]")]
    return "\n".join(lines + format_rows(result["hf_generate"]))
