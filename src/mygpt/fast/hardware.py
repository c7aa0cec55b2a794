"""What the machine can do: its CPU, whether it multiplies bf16 natively, and how long a step takes.

The fast path decides per run from these facts (``fast.precision``, ``fast.compile``) and ``mygpt
bench`` reports them beside every figure. Nothing is assumed: flags are read from the CPU, and a step
is timed rather than guessed.
"""

import platform
import time

import torch
from torch import nn

from ..utils import forward_precision

NATIVE_BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")



def cpu_name() -> str:
    """The CPU model from /proc/cpuinfo where available, else ``platform.processor()``."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


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
    times = []
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        for _ in range(steps):
            start = clock()
            with forward_precision(device, precision):
                _, loss = model(ids[0], ids[1])
            loss.backward()
            loss.item()
            times.append(clock() - start)
    model.zero_grad(set_to_none=True)
    return min(times[1:]) if len(times) > 1 else times[0]

