"""The fast path: the book's function on the same weights, computed faster (``--fast``).

The model side (fused norms, one QKV matmul, SDPA, kept weight copies for gradient-free steps) is
``GPT.set_fast``; this wing adds what belongs to the device and the run: TF32 on Ampere+ GPUs, bf16
where the hardware multiplies it natively and it is faster (``precision``), and compiling one
transformer block when the run repays it (``compile``). What the machine can do is read, never
assumed (``hardware``). The fused optimizer lives with training (``mygpt.train.optim``).
"""

from torch import nn

from ..errors import notify
from .compile import compile_blocks, compile_unavailable_reason, plan_compile
from .hardware import bf16_is_native, bf16_is_slow, cpu_flags, cpu_name
from .precision import enable_tf32, fast_precision

__all__ = ["bf16_is_native", "bf16_is_slow", "compile_blocks", "compile_unavailable_reason", "cpu_flags",
           "cpu_name", "enable_tf32", "fast_precision", "plan_compile", "prepare_fast"]


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
            notify(f"{reason}; the fast path runs uncompiled")
            return model
        compile_blocks(model)
    return model

