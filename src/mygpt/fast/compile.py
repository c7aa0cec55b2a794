"""Compiling the fast path when it repays itself (Ch.20's speed, measured per machine).

One transformer block is compiled and reused by every layer (regional compilation). Whether a run
compiles is decided from this machine's recorded costs: the compile time against the steps times the
saving per step.
"""

import json
import math
import os
import shutil
import sys
import time
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from ..errors import MyGPTError, MyGPTWarning, OutputError, notify
from ..files.outputs import OutputKind, write_output
from ..utils import cache_dir
from .hardware import probe_step_s

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


def _costs(entry) -> CompileCosts | None:
    """A ledger entry as ``CompileCosts``, or None if it is not one (wrong keys or types)."""
    def number(value, optional=False) -> bool:
        return (optional and value is None) or (isinstance(value, int | float) and not isinstance(value, bool)
                                                 and math.isfinite(value))

    if (isinstance(entry, dict) and set(entry) <= {"saving", "cold_s", "warm_s"} and number(entry.get("saving"))
            and number(entry.get("cold_s")) and number(entry.get("warm_s"), optional=True)):
        return CompileCosts(**entry)
    return None


def _read_ledger() -> dict[str, CompileCosts]:
    """The measured costs on this machine, checked entry by entry. A ledger that cannot be read as one
    (corrupt, truncated, another program's file) is a one-line warning and counts as empty: it is a
    cache, and the next measurement replaces it."""
    path = _ledger_path()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as err:
        raw = err
    ledger = {key: _costs(entry) for key, entry in raw.items()} if isinstance(raw, dict) else None
    if (ledger is None or None in ledger.values()) and str(path) not in _warned:
        _warned.add(str(path))
        notify(f"the compile-cost cache {path} is not a ledger mygpt wrote ({_why(raw)}); it is ignored and "
               "will be rewritten", MyGPTWarning, stacklevel=3)
    return {key: costs for key, costs in (ledger or {}).items() if costs is not None}


_warned: set[str] = set()  # ledgers already reported as broken in this process


def _why(raw) -> str:
    if isinstance(raw, Exception):
        return getattr(raw, "strerror", None) or "not JSON"
    return "not a JSON object" if not isinstance(raw, dict) else "an entry has the wrong fields"


def load_costs(key: str, device: torch.device) -> CompileCosts:
    """The costs measured for ``key`` on this machine (see ``record_costs``), else the device's prior."""
    costs = _read_ledger().get(key)
    return costs if costs is not None else PRIOR_COSTS.get(device.type, PRIOR_COSTS["cpu"])


LEDGER = OutputKind("mygpt's compile-cost cache", "caches", lambda path: True, OutputError)


def record_costs(key: str, costs: CompileCosts) -> None:
    """Remember measured compile costs for later runs' decisions (best effort: a read-only cache is fine)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MyGPTWarning)  # a broken ledger was reported when it was read
        ledger = {name: asdict(entry) for name, entry in _read_ledger().items()}
    ledger[key] = asdict(costs)
    text = json.dumps(ledger, indent=1).encode()
    try:
        _ledger_path().parent.mkdir(parents=True, exist_ok=True)
        write_output(str(_ledger_path()), LEDGER, lambda f: f.write(text))
    except (OSError, MyGPTError):
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


@dataclass(frozen=True)
class CompilePlan:
    """One run's compile decision, with what it was based on (``key``/``eager_step_s`` when measured)."""

    compile: bool
    key: str | None = None
    eager_step_s: float | None = None


def plan_compile(model: nn.Module, steps: int, batch_shape: tuple[int, int], precision: str) -> CompilePlan:
    """Decide whether this run compiles (``$MYGPT_COMPILE`` = auto/1/0) and say why (a notice).

    ``auto`` compares ``steps`` x a measured eager step x the saving with the compile time, both
    from this machine's earlier compiled runs (``record_costs``) or, before any, the device's prior.
    """
    device = next(model.parameters()).device
    reason = compile_unavailable_reason(device)
    if reason is not None:
        notify(f"{reason}; the fast path runs uncompiled")
        return CompilePlan(False)
    key = compile_key(model, batch_shape, precision)
    eager_step_s = probe_step_s(model, batch_shape, precision)
    choice = os.environ.get(COMPILE_ENV, "auto")
    if choice in ("0", "1"):
        notify(f"{COMPILE_ENV}={choice}: {'' if choice == '1' else 'not '}compiling the transformer block")
        return CompilePlan(choice == "1", key, eager_step_s)
    verdict, why = should_compile(steps, eager_step_s, load_costs(key, device))
    notify(why)
    return CompilePlan(verdict, key, eager_step_s)


def measure_compile(step, plan: CompilePlan, device: torch.device, timed_steps: int = 10):
    """Wrap a compiled run's ``step`` to time its first call (compilation) and the next ``timed_steps``.

    The measured compile time and saving per step (against the plan's eager step) go to
    ``record_costs``, so the next run's ``plan_compile`` decides from this machine's figures.
    Returns ``step`` itself when the run does not compile.
    """
    if not plan.compile or plan.key is None:
        return step
    ledger = _read_ledger()
    costs, warm = ledger.get(plan.key) or PRIOR_COSTS.get(device.type, PRIOR_COSTS["cpu"]), plan.key in ledger
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
            notify(f"compiled in {compile_s:.1f} s ({'warm' if warm else 'cold'} cache); "
                   f"{step_s * 1e3:.1f} ms/step against {plan.eager_step_s * 1e3:.1f} eager")
            record_costs(plan.key, CompileCosts(1 - step_s / plan.eager_step_s,
                                                costs.cold_s if warm else compile_s, compile_s if warm else None))
        return loss

    return timed_step

