"""The training loop of ``mygpt train`` as a library function (Ch.14, Ch.20-21).

``setup_training`` is the one place that turns a model and a ``TrainConfig`` into an optimizer, the
module to call and the optimisation step, for the exact or the fast path; ``train`` runs the loop.
"""

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from .checkpoint import save_checkpoint
from .config import TrainConfig
from .distributed import SINGLE, World, no_sync_unless
from .fast import make_optimizer, prepare_fast
from .progress import Progress
from .utils import cosine_warmup_lr, estimate_val_loss, get_batch


def make_train_step(model, optimizer, precision: str = "fp32", max_grad_norm: float = 0.0,
                    grad_accum: int = 1, world: World = SINGLE):
    """Return ``step(x, y) -> loss``: one optimisation step in the book's order (Ch.14, Ch.20-21).

    zero_grad, forward (under bf16 autocast when asked), backward, optional clipping, AdamW step.
    The returned loss is this step's forward loss, measured before the update.

    ``x, y`` is the whole step's batch. With several processes each takes its slice (``world.part``);
    with ``grad_accum`` K each slice runs as K micro-batches whose losses are scaled by 1/K, so the
    summed gradients and the returned loss are the whole batch's mean (to float rounding). DDP
    averages the gradients over the processes once, after the last micro-batch.
    """
    def step(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        optimizer.zero_grad()
        autocast = (torch.autocast(device_type=x.device.type, dtype=torch.bfloat16)
                    if precision == "bf16" else contextlib.nullcontext())
        losses = []
        for i, (xb, yb) in enumerate(zip(world.part(x).chunk(grad_accum), world.part(y).chunk(grad_accum))):
            with no_sync_unless(i == grad_accum - 1, model):
                with autocast:
                    _, loss = model(xb, yb)
                (loss / grad_accum).backward()
            losses.append(loss.detach())
        if max_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
        optimizer.step()
        return world.mean(torch.stack(losses).mean())

    return step


@dataclass
class TrainingSetup:
    """What one training run steps with: ``step(x, y) -> loss`` calls ``forward`` and updates ``optimizer``."""

    optimizer: torch.optim.Optimizer
    forward: nn.Module
    step: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def setup_training(model: nn.Module, config: TrainConfig, world: World = SINGLE) -> TrainingSetup:
    """The optimizer, module to call and train step for ``config``'s precision and path, on ``model``'s device.

    Exact (the book): AdamW and the model itself. Fast: the model's fast kernels, fused AdamW, TF32
    and compilation where they pay (``fast.prepare_fast``); the compiled module shares the weights.
    Several processes: that module inside DistributedDataParallel.
    """
    config.check_parts(world.size)
    forward = prepare_fast(model, precision=config.precision) if config.fast else model
    forward = world.wrap(forward, next(model.parameters()).device)
    optimizer = make_optimizer(model, config.lr, fast=config.fast)
    return TrainingSetup(optimizer, forward, make_train_step(forward, optimizer, config.precision,
                                                             config.max_grad_norm, config.grad_accum, world))


def rng_states() -> dict:
    """The generator states that decide the next batches and dropout masks (for exact resume)."""
    states = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    if torch.backends.mps.is_available():
        states["mps"] = torch.mps.get_rng_state()
    return states


def training_state(step: int, optimizer) -> dict:
    """What a checkpoint needs beyond the weights to continue training exactly after ``step``.

    The batch position is not stored separately: batches are drawn from the RNG, so its state is it.
    """
    return {"step": step, "optimizer_state_dict": optimizer.state_dict(), "rng_state": rng_states()}


def train(model, tokenizer, train_data: torch.Tensor, val_data: torch.Tensor | None, config: TrainConfig,
          output: str, *, progress: bool = False, world: World = SINGLE) -> None:
    """Run steps ``1..config.steps``, printing the book's step lines, then save the final checkpoint.

    Reseeds with ``config.seed`` first (42, the book's), so the batch sequence is independent of the
    model's initialisation. Checkpoints carry the training state next to the book's keys.
    ``progress=True`` shows a live bar on stderr; stdout is the same either way. The data may be
    tensors or ``data.TokenShards``. With several processes (``world``, see ``distributed``) every
    rank runs this with the same arguments; rank 0 alone prints, validates and saves.
    """
    config.check_model(model.config)
    config.check_data(len(train_data), None if val_data is None else len(val_data))
    setup = setup_training(model, config, world)
    steps, batch_size, seq_len = config.steps, config.batch_size, config.seq_len
    bar = Progress(steps, batch_size * seq_len, enabled=progress and world.is_main)
    batches = world.batch_stream(config.seed)
    try:
        for step in range(1, steps + 1):
            if config.schedule == "cosine":
                lr_t = cosine_warmup_lr(step, config.warmup, steps, config.lr)
                for group in setup.optimizer.param_groups:
                    group["lr"] = lr_t
            x, y = get_batch(train_data, batch_size, seq_len, generator=batches)
            loss = setup.step(x, y)
            bar.update(loss)

            is_print = step == 1 or step % config.print_every == 0 or step == steps
            is_val = (val_data is not None and config.val_every > 0
                      and (step % config.val_every == 0 or step == steps))
            if (is_print or is_val) and world.is_main:
                line = f"step {step:>5}: loss = {loss.item():.4f}"
                if is_val:
                    line += f"  val = {estimate_val_loss(model, val_data, batch_size, seq_len):.4f}"
                if config.schedule == "cosine":
                    line += f"  lr = {lr_t:.2e}"
                bar.print(line)
            if (config.checkpoint_every > 0 and step % config.checkpoint_every == 0 and step != steps
                    and world.is_main):
                save_checkpoint(model, tokenizer, output, training_state(step, setup.optimizer))
                bar.print(f"  [checkpoint saved at step {step}]")
    finally:
        bar.close()
    if world.is_main:
        save_checkpoint(model, tokenizer, output, training_state(steps, setup.optimizer))
