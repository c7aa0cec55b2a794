"""The fast path's switches that live outside the model: TF32, fused AdamW, bf16, torch.compile.

``--fast`` computes the book's function with the same parameters, only faster: the model side
(fused norms, fused QKV, SDPA) is ``GPT.set_fast``; this module adds what belongs to the training
loop and the device. Every switch is used only where it is a win: bf16 where the hardware has native
bf16 matmuls, and compilation (of one transformer block, reused by every layer) when the run is
long enough to repay it. Each falls back with a one-line notice on stderr.
"""

import json
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from .utils import cache_dir

NATIVE_BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
COMPILE_ENV = "MYGPT_COMPILE"  # "auto" (default): decide per run; "1": always; "0": never


def compile_unavailable_reason(device: torch.device) -> str | None:
    """Why torch.compile cannot run here (Windows, MPS, no C compiler), or None if it can."""
    if sys.platform == "win32":
        return "torch.compile is not used on Windows"
    if device.type == "mps":
        return "torch.compile is not used on MPS"
    compilers = (os.environ.get("CXX", ""), "c++", "g++", "clang++")
    if not any(shutil.which(name) for name in compilers if name):
        return "no C++ compiler found"
    return None


def enable_tf32(device: torch.device) -> None:
    """Let fp32 matmuls and convolutions use TF32 tensor cores on Ampere or newer CUDA GPUs."""
    if device.type == "cuda" and torch.cuda.get_device_capability(device)[0] >= 8:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True


def make_optimizer(model, lr: float, fast: bool = False) -> torch.optim.AdamW:
    """The book's ``AdamW(model.parameters(), lr)``; with ``fast``, its fused single-kernel form.

    Fused AdamW runs on CPU and CUDA (one kernel for all parameters instead of a Python loop of small
    ops per parameter); elsewhere the multi-tensor ``foreach`` form is used. The fused form updates
    the same way to float rounding.
    """
    if not fast:
        return torch.optim.AdamW(model.parameters(), lr=lr)
    device = next(model.parameters()).device
    if device.type in ("cpu", "cuda"):
        return torch.optim.AdamW(model.parameters(), lr=lr, fused=True)
    return torch.optim.AdamW(model.parameters(), lr=lr, foreach=True)


def bf16_is_slow(device: torch.device) -> bool:
    """True on CPUs without native bf16 matmul kernels (AVX2-only ones), where bf16 is slower than fp32."""
    return device.type == "cpu" and not torch.ops.mkldnn._is_mkldnn_bf16_supported()


def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags from /proc/cpuinfo (empty where there is none, e.g. macOS, Windows)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


def bf16_is_native(device: torch.device, flags: frozenset[str] | None = None) -> bool:
    """True where bf16 matmuls run natively: CUDA GPUs with bf16, CPUs with AVX-512-BF16 or AMX.

    ``flags`` are the CPU's feature flags (default: this machine's). ``torch.backends.cpu.
    get_cpu_capability()`` says only "AVX512", which does not tell AVX-512-BF16 apart.
    """
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    if device.type != "cpu":
        return False
    flags = cpu_flags() if flags is None else flags
    return any(flag in flags for flag in NATIVE_BF16_CPU_FLAGS)


def fast_precision(precision: str, device: torch.device, flags: frozenset[str] | None = None,
                   model: nn.Module | None = None, batch_shape: tuple[int, int] = (16, 64)) -> str:
    """The precision the fast path trains in: bf16 only where it is native and a win, else fp32.

    Without native bf16 matmuls (``flags``: the CPU's, default this machine's) bf16 falls back to
    fp32. Given the ``model``, bf16 must also beat fp32 in a measured forward + backward at
    ``batch_shape``: on a small model the casts cost more than the bf16 matmuls save. Either
    fallback prints one line on stderr.
    """
    if precision != "bf16":
        return precision
    if not bf16_is_native(device, flags):
        print(f"mygpt: {device.type} has no native bf16 matmul (AVX-512-BF16, AMX or a bf16 GPU); "
              "--fast trains in fp32", file=sys.stderr)
        return "fp32"
    if model is not None:
        bf16_s, fp32_s = probe_step_s(model, batch_shape, "bf16"), probe_step_s(model, batch_shape, "fp32")
        if bf16_s >= fp32_s:
            print(f"mygpt: bf16 is no faster than fp32 for this model here ({bf16_s * 1e3:.1f} against "
                  f"{fp32_s * 1e3:.1f} ms per step); --fast trains in fp32", file=sys.stderr)
            return "fp32"
    return "bf16"


@dataclass(frozen=True)
class CompileCosts:
    """What compiling one run's block costs and saves: ``saving`` is the fraction of a step saved."""

    saving: float
    cold_s: float
    warm_s: float | None = None  # measured once the block's graph is in the on-disk cache


# Before anything is measured on a machine (the README gives the measurements behind these).
PRIOR_COSTS = {"cpu": CompileCosts(saving=0.05, cold_s=45.0), "cuda": CompileCosts(saving=0.3, cold_s=40.0)}


def should_compile(steps: int, step_s: float, costs: CompileCosts) -> tuple[bool, str]:
    """Compile when ``steps x step_s x saving`` exceeds the compile time; returns the decision and why."""
    compile_s = costs.cold_s if costs.warm_s is None else costs.warm_s
    cache = "cold" if costs.warm_s is None else "warm"
    gain = steps * step_s * costs.saving
    verdict = gain > compile_s
    return verdict, (f"{'compiling' if verdict else 'not compiling'} the transformer block: saves ~{gain:.1f} s "
                     f"({steps} steps x {step_s * 1e3:.1f} ms x {costs.saving:.0%}) "
                     f"{'>' if verdict else '<='} ~{compile_s:.1f} s to compile ({cache} cache)")


def compile_cache_dir() -> str:
    """Where inductor keeps compiled graphs between runs: ``$TORCHINDUCTOR_CACHE_DIR`` or ours."""
    return os.environ.get("TORCHINDUCTOR_CACHE_DIR") or str(cache_dir() / "inductor")


def _ledger_path() -> Path:
    return cache_dir() / "compile-costs.json"


def compile_key(model: nn.Module, batch_shape: tuple[int, int], precision: str) -> str:
    """Names one compiled graph: torch version, device, model shape, batch shape and precision."""
    device = next(model.parameters()).device
    return f"torch {torch.__version__} {device.type} {model.config} batch {tuple(batch_shape)} {precision}"


def _read_ledger() -> dict:
    try:
        return json.loads(_ledger_path().read_text())
    except (OSError, ValueError):
        return {}


def load_costs(key: str, device: torch.device) -> CompileCosts:
    """The costs measured for ``key`` on this machine (see ``record_costs``), else the device's prior."""
    try:
        return CompileCosts(**_read_ledger()[key])
    except (KeyError, TypeError):
        return PRIOR_COSTS.get(device.type, PRIOR_COSTS["cpu"])


def record_costs(key: str, costs: CompileCosts) -> None:
    """Remember measured compile costs for later runs' decisions (best effort: a read-only cache is fine)."""
    ledger = _read_ledger()
    ledger[key] = asdict(costs)
    try:
        _ledger_path().parent.mkdir(parents=True, exist_ok=True)
        _ledger_path().write_text(json.dumps(ledger, indent=1))
    except OSError:
        pass


def compile_blocks(model: nn.Module) -> None:
    """Regional compilation: compile the transformer block once; every layer reuses its code.

    All blocks share one class and one graph (parameters are graph inputs), so the first block's
    compiled code serves every layer without recompiling. Compiled graphs persist on disk in
    ``compile_cache_dir()``, so a later run with the same shapes starts in seconds.
    """
    os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", compile_cache_dir())
    for block in model.blocks:
        block.compile(dynamic=False)


def probe_step_s(model: nn.Module, batch_shape: tuple[int, int], precision: str, steps: int = 4) -> float:
    """Seconds of one forward + backward at ``batch_shape`` (the best after a warm-up one), leaving the
    generators and gradients as they were.

    On a CPU the clock is the process's CPU time per torch thread, which other programs on a busy
    machine disturb far less than the wall clock; elsewhere it is the wall clock.
    """
    device = next(model.parameters()).device
    clock = (lambda: time.process_time() / torch.get_num_threads()) if device.type == "cpu" else time.perf_counter
    batch_shape = (batch_shape[0], min(batch_shape[1], model.config.max_seq_len))
    ids = torch.randint(0, model.config.vocab_size, (2, *batch_shape),
                        generator=torch.Generator().manual_seed(0)).to(device)
    autocast = torch.autocast(device.type, torch.bfloat16, enabled=precision == "bf16")
    times = []
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        for _ in range(steps):
            start = clock()
            with autocast:
                _, loss = model(ids[0], ids[1])
            loss.backward()
            loss.item()
            times.append(clock() - start)
    model.zero_grad(set_to_none=True)
    return min(times[1:]) if len(times) > 1 else times[0]


@dataclass(frozen=True)
class CompilePlan:
    """One run's compile decision, with what it was based on (``key``/``eager_step_s`` when measured)."""

    compile: bool
    key: str | None = None
    eager_step_s: float | None = None


def plan_compile(model: nn.Module, steps: int, batch_shape: tuple[int, int], precision: str) -> CompilePlan:
    """Decide whether this run compiles (``$MYGPT_COMPILE`` = auto/1/0) and say why on stderr.

    ``auto`` compares ``steps`` x a measured eager step x the saving with the compile time, both
    from this machine's earlier compiled runs (``record_costs``) or, before any, the device's prior.
    """
    device = next(model.parameters()).device
    reason = compile_unavailable_reason(device)
    if reason is not None:
        print(f"mygpt: {reason}; the fast path runs uncompiled", file=sys.stderr)
        return CompilePlan(False)
    key = compile_key(model, batch_shape, precision)
    eager_step_s = probe_step_s(model, batch_shape, precision)
    choice = os.environ.get(COMPILE_ENV, "auto")
    if choice in ("0", "1"):
        print(f"mygpt: {COMPILE_ENV}={choice}: {'' if choice == '1' else 'not '}compiling the transformer block",
              file=sys.stderr)
        return CompilePlan(choice == "1", key, eager_step_s)
    verdict, why = should_compile(steps, eager_step_s, load_costs(key, device))
    print(f"mygpt: {why}", file=sys.stderr)
    return CompilePlan(verdict, key, eager_step_s)


def measure_compile(step, plan: CompilePlan, device: torch.device, timed_steps: int = 10):
    """Wrap a compiled run's ``step`` to time its first call (compilation) and the next ``timed_steps``.

    The measured compile time and saving per step (against the plan's eager step) go to
    ``record_costs``, so the next run's ``plan_compile`` decides from this machine's figures.
    Returns ``step`` itself when the run does not compile.
    """
    if not plan.compile or plan.key is None:
        return step
    costs = load_costs(plan.key, device)
    warm = plan.key in _read_ledger()
    times = []

    def timed_step(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if len(times) > timed_steps:
            return step(x, y)
        start = time.perf_counter()
        loss = step(x, y)
        loss.item()
        times.append(time.perf_counter() - start)
        if len(times) == timed_steps + 1:
            step_s = min(times[1:])
            compile_s = max(0.0, times[0] - step_s)
            print(f"mygpt: compiled in {compile_s:.1f} s ({'warm' if warm else 'cold'} cache); "
                  f"{step_s * 1e3:.1f} ms/step against {plan.eager_step_s * 1e3:.1f} eager", file=sys.stderr)
            record_costs(plan.key, CompileCosts(1 - step_s / plan.eager_step_s,
                                                costs.cold_s if warm else compile_s, compile_s if warm else None))
        return loss

    return timed_step


def prepare_fast(model: nn.Module, compile_model: bool = False) -> nn.Module:
    """Turn on the fast path for ``model`` and return it (the module to call).

    Sets the fast norm/attention kernels (``model.set_fast``) and TF32 on Ampere+ GPUs, and compiles
    the transformer blocks in place when ``compile_model`` (see ``plan_compile``) and possible.
    """
    device = next(model.parameters()).device
    model.set_fast(True)
    enable_tf32(device)
    if compile_model:
        reason = compile_unavailable_reason(device)
        if reason is not None:
            print(f"mygpt: {reason}; the fast path runs uncompiled", file=sys.stderr)
            return model
        compile_blocks(model)
    return model
