"""Will a training run fit in memory? An estimate made before anything is allocated.

Training holds the weights, their gradients and AdamW's two moments (16 bytes per parameter in
fp32), the batch, and the activations that backward needs: per layer about 16 values per token and
channel (norms, Q/K/V, attention output, the 4x MLP) plus three per attention score (scores,
softmax, its gradient), and three per logit. It is an order-of-magnitude figure: it tells a shape
that cannot fit from one that can, not the exact peak.
"""

import os

import torch

from ..config import GPTConfig, TrainConfig
from ..errors import ResourceError

FLOAT_BYTES = 4


def count_parameters(model_config: GPTConfig) -> int:
    """Parameters of the model ``model_config`` describes, counted from its shapes (nothing allocated).

    Token embedding (tied with the head), learned positions, and per block two norms, Q/K/V/O
    projections without bias (K and V sized by the K/V heads, Ch.26) and the 4x MLP with biases.
    """
    C, L = model_config.embed_dim, model_config.num_layers
    norm = 2 * C if model_config.norm_type == "layer" else C
    kv_width = model_config.num_kv_heads * model_config.head_dim
    block = 2 * norm + 2 * C * C + 2 * C * kv_width + 8 * C * C + 5 * C
    positions = model_config.max_seq_len * C if model_config.position_type == "learned" else 0
    return model_config.vocab_size * C + positions + L * block + norm


def estimate_training_bytes(model_config: GPTConfig, train_config: TrainConfig,
                            n_params: int | None = None) -> int:
    """Bytes one training step needs at its peak, roughly: state, batch and activations."""
    if n_params is None:
        n_params = count_parameters(model_config)
    B, T = train_config.batch_size, train_config.seq_len
    C, H, V, L = model_config.embed_dim, model_config.num_heads, model_config.vocab_size, model_config.num_layers
    state = 4 * n_params  # weights, gradients, AdamW exp_avg and exp_avg_sq
    activations = L * (16 * B * T * C + 3 * B * H * T * T) + 3 * B * T * V + 2 * B * T * C
    batch_ids = 2 * B * T * 8 // FLOAT_BYTES  # int64 inputs and targets, in float units
    return FLOAT_BYTES * (state + activations + batch_ids)


def available_bytes(device: torch.device) -> int | None:
    """Memory a run may still take on ``device``; None when it cannot be told."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0]
    if device.type == "mps":
        return torch.mps.recommended_max_memory() - torch.mps.current_allocated_memory()
    return _host_available()


def _host_available() -> int | None:
    """MemAvailable of the host, capped by the cgroup (container) limit when there is one."""
    limits = []
    try:
        with open("/proc/meminfo") as f:
            limits += [int(line.split()[1]) * 1024 for line in f if line.startswith("MemAvailable:")]
    except OSError:
        pass
    try:
        with open("/sys/fs/cgroup/memory.max") as f, open("/sys/fs/cgroup/memory.current") as g:
            limits.append(int(f.read()) - int(g.read()))
    except (OSError, ValueError):  # no cgroup v2, or "max" (no limit)
        pass
    if not limits and hasattr(os, "sysconf"):
        try:
            limits.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (ValueError, OSError):
            pass
    return min(limits) if limits else None


def check_training_memory(model_config: GPTConfig, train_config: TrainConfig, device: torch.device,
                          n_params: int | None = None) -> None:
    """Refuse, before allocating, shapes whose estimated training memory exceeds what ``device`` has."""
    needed = estimate_training_bytes(model_config, train_config, n_params)
    limit = available_bytes(device)
    if limit is not None and needed > limit:
        raise ResourceError(lambda n: f"training these shapes needs about {_gib(needed)} of memory but "
                                      f"{device.type} has {_gib(limit)} available; lower {n('batch_size')}, "
                                      f"{n('seq_len')}, {n('embed_dim')} or {n('num_layers')}")


def is_out_of_memory(err: BaseException) -> bool:
    """An allocation failure, whichever way torch or Python reports it."""
    return isinstance(err, (MemoryError, torch.OutOfMemoryError)) or (
        isinstance(err, RuntimeError) and "can't allocate memory" in str(err))


def _gib(n: int) -> str:
    return f"{n / 2**30:,.2f} GiB"
