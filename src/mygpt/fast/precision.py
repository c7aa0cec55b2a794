"""The precision the fast path computes in: bf16 only where the device multiplies it natively and it
is measured faster than fp32; TF32 on Ampere or newer GPUs."""

import torch
from torch import nn

from ..errors import notify
from .hardware import bf16_is_native, probe_step_s


def enable_tf32(device: torch.device) -> None:
    """Let fp32 matmuls and convolutions use TF32 tensor cores on Ampere or newer CUDA GPUs."""
    if device.type == "cuda" and torch.cuda.get_device_capability(device)[0] >= 8:
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True


def fast_precision(precision: str, device: torch.device, flags: frozenset[str] | None = None,
                   model: nn.Module | None = None, batch_shape: tuple[int, int] = (16, 64)) -> str:
    """The precision the fast path trains in: bf16 only where it is native and a win, else fp32.

    Without native bf16 matmuls (``flags``: the CPU's, default this machine's) bf16 falls back to
    fp32. Given the ``model``, bf16 must also beat fp32 in a measured forward + backward at
    ``batch_shape``: on a small model the casts cost more than the bf16 matmuls save. Either
    fallback says so in one notice (``errors.notify``).
    """
    if precision != "bf16":
        return precision
    if not bf16_is_native(device, flags):
        notify(lambda n: f"{device.type} has no native bf16 matmul (AVX-512-BF16, AMX or a bf16 GPU); "
                         f"{n('fast')} trains in fp32")
        return "fp32"
    if model is not None:
        bf16_s, fp32_s = probe_step_s(model, batch_shape, "bf16"), probe_step_s(model, batch_shape, "fp32")
        if bf16_s >= fp32_s:
            notify(lambda n: f"bf16 is no faster than fp32 for this model here ({bf16_s * 1e3:.1f} against "
                             f"{fp32_s * 1e3:.1f} ms per step); {n('fast')} trains in fp32")
            return "fp32"
    return "bf16"

