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
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

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


def init_world(device: str = "auto") -> tuple[World, torch.device]:
    """Join the process group ``torchrun`` describes (a single process needs none); return it and our device.

    Each process of a CUDA run takes GPU ``LOCAL_RANK``; the backend is NCCL on CUDA and gloo elsewhere.
    """
    size = int(os.environ.get("WORLD_SIZE", "1"))
    chosen = pick_device(device)
    if size == 1:
        return SINGLE, chosen
    if chosen.type == "cuda":
        chosen = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(chosen)
    dist.init_process_group("nccl" if chosen.type == "cuda" else "gloo")
    return World(dist.get_rank(), dist.get_world_size()), chosen


def close_world(world: World, finished: bool = True) -> None:
    """Leave the process group; when ``finished``, first wait until every process is done.

    The wait matters: a process that tears down its group while rank 0 still validates or saves
    can abort the run. After an error nobody waits (the others may never arrive).
    """
    if world.size > 1 and dist.is_initialized():
        if finished:
            dist.barrier()
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
