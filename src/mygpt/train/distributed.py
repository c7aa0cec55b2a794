"""Several processes through PyTorch's own ``torchrun`` and DistributedDataParallel (DDP).

``torchrun --nproc_per_node N -m mygpt train ...`` starts N copies of the program with ``RANK``,
``WORLD_SIZE`` and ``LOCAL_RANK`` in their environment; ``init_world`` joins them into one process
group (NCCL on CUDA GPUs, gloo on CPUs). ``--batch-size`` stays the batch of one optimisation step,
summed over every process, so one command trains the same model on 1 or N devices.

Data order: every process draws the same global batch from a batch stream seeded alike on every
process, and trains on its own slice of it (``World.part``). So each process sees different windows,
the union is exactly the one-process batch, and a run on N processes follows the same batch order
as one process (the tests rely on it). Dropout and validation draw from each process's own global
generator, seeded ``seed + rank`` (different masks per process; validation on rank 0 leaves the batch
stream alone).
"""

import contextlib
import datetime
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from ..errors import ConfigError, TrainingError
from ..utils import pick_device, set_seed


@dataclass(frozen=True)
class World:
    """This process's place among ``size`` training processes; rank 0 prints, validates and saves."""

    rank: int = 0
    size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def part(self, batch: torch.Tensor) -> torch.Tensor:
        """This process's contiguous slice of a global batch (the whole batch when alone)."""
        return batch if self.size == 1 else batch.chunk(self.size)[self.rank]

    def mean(self, value: torch.Tensor) -> torch.Tensor:
        """The mean of ``value`` over the processes (what one process would have computed on the whole batch)."""
        if self.size == 1:
            return value
        value = value.detach().clone()
        dist.all_reduce(value)  # SUM: gloo has no AVG
        return value / self.size

    def batch_stream(self, seed: int) -> torch.Generator | None:
        """Seed this process's generators for training; return the shared batch generator (None when alone).

        Alone: the book's single global stream, ``set_seed(seed)``. With several processes the batch
        stream is a generator seeded ``seed`` on every process, and the global generators (dropout,
        validation) are seeded ``seed + rank``.
        """
        set_seed(seed + self.rank)
        return None if self.size == 1 else torch.Generator().manual_seed(seed)

    def wrap(self, module: torch.nn.Module, device: torch.device) -> torch.nn.Module:
        """``module`` in DistributedDataParallel when there are several processes (gradients averaged)."""
        if self.size == 1:
            return module
        ids = [device.index] if device.type == "cuda" else None
        return torch.nn.parallel.DistributedDataParallel(module, device_ids=ids)


SINGLE = World()


TIMEOUT_ENV = "MYGPT_DIST_TIMEOUT"  # seconds a process waits for the others before giving up
DEFAULT_TIMEOUT_S = 600


def _whole_env(name: str, default: str, low: int, high: int | None = None) -> int:
    """An environment variable that must be a whole number in ``low..high``; anything else is one line."""
    text = os.environ.get(name, default)
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or value < low or (high is not None and value > high):
        bounds = f"from {low} to {high}" if high is not None else f"{low} or more"
        raise ConfigError(f"the environment variable {name}={text!r} must be a whole number {bounds}; "
                          "torchrun sets RANK, WORLD_SIZE and LOCAL_RANK itself: unset them when not under torchrun")
    return value


def dist_timeout_s() -> int:
    """How long a process waits for a stalled or dead peer (``$MYGPT_DIST_TIMEOUT``, default 600 s)."""
    return _whole_env(TIMEOUT_ENV, str(DEFAULT_TIMEOUT_S), 1)


def init_world(device: str = "auto") -> tuple[World, torch.device]:
    """Join the process group ``torchrun`` describes (a single process needs none); return it and our device.

    Each process of a CUDA run takes GPU ``LOCAL_RANK``; the backend is NCCL on CUDA and gloo elsewhere.
    The environment is checked first (``ConfigError`` for ``WORLD_SIZE=abc``), and every wait for the
    other processes, joining included, gives up after ``dist_timeout_s()`` (see ``peers_answer``).
    """
    size = _whole_env("WORLD_SIZE", "1", 1)
    chosen = pick_device(device)
    if size == 1:
        return SINGLE, chosen
    _whole_env("RANK", "0", 0, size - 1)
    local_rank = _whole_env("LOCAL_RANK", "0", 0)
    timeout = datetime.timedelta(seconds=dist_timeout_s())
    if chosen.type == "cuda":
        chosen = torch.device("cuda", local_rank)
        torch.cuda.set_device(chosen)
    with peers_answer():
        dist.init_process_group("nccl" if chosen.type == "cuda" else "gloo", timeout=timeout)
    return World(dist.get_rank(), dist.get_world_size()), chosen


@contextlib.contextmanager
def peers_answer():
    """Turn a wait for the other processes that timed out, or a peer that died, into one ``TrainingError``.

    torch raises ``DistError`` (gloo, the rendezvous store) or a ``RuntimeError`` naming the timeout.
    """
    try:
        yield
    except (dist.DistError, RuntimeError) as err:
        text = str(err)
        if not isinstance(err, dist.DistError) and not any(
                word in text.lower() for word in ("timed out", "timeout", "connection closed", "connection reset")):
            raise
        detail = (text.strip().splitlines() or [type(err).__name__])[0][:100]
        raise TrainingError(f"another training process stopped answering for {dist_timeout_s()} s or died "
                            f"({detail}); this one gives up, keeping the last checkpoint saved (if any); set "
                            f"{TIMEOUT_ENV} (seconds) to wait longer") from err


def close_world(world: World, finished: bool = True) -> None:
    """Leave the process group; when ``finished``, first wait until every process is done.

    The wait matters: a process that tears down its group while rank 0 still validates or saves
    can abort the run. After an error nobody waits (the others may never arrive).
    """
    if world.size > 1 and dist.is_initialized():
        try:
            if finished:
                with peers_answer():
                    dist.barrier()
        finally:
            dist.destroy_process_group()


def main_only_stdout(world: World):
    """A context in which only rank 0's ``print`` reaches stdout (the others write to /dev/null)."""
    if world.is_main:
        return contextlib.nullcontext()
    return contextlib.redirect_stdout(open(os.devnull, "w"))


def no_sync_unless(last: bool, module: torch.nn.Module):
    """DDP's ``no_sync`` for all micro-batches but the last: gradients are averaged once per step."""
    if last or not isinstance(module, torch.nn.parallel.DistributedDataParallel):
        return contextlib.nullcontext()
    return module.no_sync()
