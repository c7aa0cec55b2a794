"""The fast path's switches that live outside the model: TF32, fused AdamW, torch.compile.

``--fast`` computes the book's function with the same parameters, only faster: the model side
(fused norms, fused QKV, SDPA) is ``GPT.set_fast``; this module adds what belongs to the training
loop and the device. Every switch is used only where it is a win, and compilation falls back to
eager execution, with a one-line notice, where it cannot work.
"""

import os
import shutil
import sys

import torch
from torch import nn


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


def maybe_compile(fn, device: torch.device, wanted: bool):
    """``torch.compile(fn)`` when wanted and possible; otherwise ``fn``, with a notice if it was wanted."""
    if not wanted:
        return fn
    reason = compile_unavailable_reason(device)
    if reason is not None:
        print(f"mygpt: {reason}; the fast path runs uncompiled", file=sys.stderr)
        return fn
    return torch.compile(fn)


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


def compile_by_default(device: torch.device) -> bool:
    """Compile where it pays: on CUDA, where per-kernel launch overhead dominates small models.

    On a CPU the compilation time of a cold cache outweighs what it saves in a run of a few thousand
    steps (the README gives the measurements), so it stays off there.
    """
    return device.type == "cuda"


def bf16_is_slow(device: torch.device) -> bool:
    """True on CPUs without native bf16 matmul kernels (AVX2-only ones), where bf16 is slower than fp32."""
    return device.type == "cpu" and not torch.ops.mkldnn._is_mkldnn_bf16_supported()


def prepare_fast(model: nn.Module, compile_model: bool | None = None, precision: str = "fp32") -> nn.Module:
    """Turn on the fast path for ``model``; return the module to call (compiled when that pays).

    Sets the fast norm/attention kernels (``model.set_fast``) and TF32 on Ampere+ GPUs. The compiled
    wrapper shares ``model``'s parameters; keep saving checkpoints from ``model`` itself.
    ``compile_model=None`` means ``compile_by_default(device)``. Warns when bf16 is asked for on a
    CPU that has no fast bf16 matmul.
    """
    device = next(model.parameters()).device
    model.set_fast(True)
    enable_tf32(device)
    if precision == "bf16" and bf16_is_slow(device):
        print("mygpt: this CPU has no native bf16 matmul; bf16 will run slower than fp32", file=sys.stderr)
    if compile_model is None:
        compile_model = compile_by_default(device)
    return maybe_compile(model, device, compile_model)
