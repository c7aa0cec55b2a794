"""The training loop of ``mygpt train`` as a library function (Ch.14, Ch.20-21).

``setup_training`` is the one place that turns a model and a ``TrainConfig`` into an optimizer, the
module to call and the optimisation step, for the exact or the fast path. ``train`` checks a run
(``preflight.check_run``) and runs it; ``train_checked`` runs one that was checked already (the CLI's way).
"""

import contextlib
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from ..config import TrainConfig
from ..data.sources import Tokens
from ..errors import TrainingStopped
from ..fast import prepare_fast
from ..fast.compile import CompilePlan, measure_compile, plan_compile
from ..fast.precision import fast_precision
from ..utils import cosine_warmup_lr, estimate_val_loss, forward_precision, get_batch
from .distributed import SINGLE, World, no_sync_unless, peers_answer
from .guards import LossWatch, RunSaver, run_outputs
from .metrics import MetricsWriter, metrics_path
from .optim import make_optimizer
from .preflight import CheckedRun, Plan, check_run
from .progress import Progress
from .resume import restore
from .stops import stop_signals


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
        autocast = forward_precision(x.device, precision)
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
    precision: str = "fp32"  # what ``step`` computes in (the fast path may fall back from bf16)


def setup_training(model: nn.Module, config: TrainConfig, world: World = SINGLE) -> TrainingSetup:
    """The optimizer, module to call and train step for ``config``'s precision and path, on ``model``'s device.

    Exact (the book): AdamW and the model itself. Fast: the model's fast kernels, fused AdamW, TF32,
    bf16 only where it is native and faster (``fast.fast_precision``), and the transformer block
    compiled when the run repays it (``fast.plan_compile``, which says why on stderr); compiled blocks
    keep the model's weights. Several processes: that module inside DistributedDataParallel (whose
    batch ``check_run`` checked to split evenly).
    """
    device, batch_shape = next(model.parameters()).device, (config.batch_size, config.seq_len)
    if not config.fast:
        optimizer = make_optimizer(model, config.lr)
        forward = world.wrap(model, device)
        return TrainingSetup(optimizer, forward, make_train_step(forward, optimizer, config.precision,
                                                                 config.max_grad_norm, config.grad_accum, world),
                             config.precision)
    precision = fast_precision(config.precision, device, model=model.set_fast(True), batch_shape=batch_shape)
    plan = plan_compile(model, config.steps, batch_shape, precision) if config.compile is None \
        else CompilePlan(config.compile)
    forward = world.wrap(prepare_fast(model, plan.compile), device)
    optimizer = make_optimizer(model, config.lr, fast=True)
    step = make_train_step(forward, optimizer, precision, config.max_grad_norm, config.grad_accum, world)
    return TrainingSetup(optimizer, forward, measure_compile(step, plan, device), precision)


def _report_line(step: int, loss: torch.Tensor, lr_t: float | None, val_loss: float | None) -> str:
    """The book's step line: loss, then the validation loss and the learning rate when they apply."""
    line = f"step {step:>5}: loss = {loss.item():.4f}"
    if val_loss is not None:
        line += f"  val = {val_loss:.4f}"
    if lr_t is not None:
        line += f"  lr = {lr_t:.2e}"
    return line


def _apply_schedule(optimizer, config: TrainConfig, step: int) -> float | None:
    """Set this step's learning rate under the cosine schedule (Ch.21) and return it; None if constant."""
    if config.schedule != "cosine":
        return None
    lr_t = cosine_warmup_lr(step, config.warmup, config.steps, config.lr)
    for group in optimizer.param_groups:
        group["lr"] = lr_t
    return lr_t


def train(model, tokenizer, train_data: torch.Tensor, val_data: torch.Tensor | None, config: TrainConfig,
          output: str, *, progress: bool = False, resume: dict | None = None,
          handle_signals: bool = True, world: World = SINGLE) -> None:
    """Run steps ``1..config.steps``, printing the book's step lines, then save the final checkpoint.

    Reseeds with ``config.seed`` first (42, the book's), so the batch sequence is independent of the
    model's initialisation. Checkpoints carry a resumable training state next to the book's keys.
    ``progress=True`` shows a live bar on stderr; stdout is the same either way. Every step line's
    numbers (and the lr and tokens/s) also go to the metrics file beside ``output`` (``mygpt.metrics``).

    ``resume``, a checkpoint payload (``read_checkpoint``) of an earlier run with the same settings,
    continues that run after its step, exactly. With ``handle_signals`` (main thread only), SIGINT
    or SIGTERM ends the current step, saves a resumable checkpoint and raises ``TrainingStopped``.
    A NaN or infinite loss raises ``TrainingError``, keeping the last good checkpoint.

    The data may be tensors or ``data.TokenShards``. With several processes (``world``, see
    ``distributed``) every rank runs this with the same arguments; rank 0 alone prints, validates and
    saves. Signal handling is for one process (torchrun stops every rank at once). A resume on several
    processes restores the batch stream exactly; ranks other than 0 reseed their dropout.

    Everything is checked first (``preflight.check_run``: shapes, data, output, memory, resume).
    """
    plan = Plan(model.config, config, Tokens(tokenizer, train_data, val_data), output, resume)
    run = check_run(plan, next(model.parameters()).device, world)
    train_checked(model, run, progress=progress, handle_signals=handle_signals)


def train_checked(model, run: CheckedRun, *, progress: bool = False, handle_signals: bool = True) -> None:
    """``train`` for a run ``check_run`` checked: ``model`` (built from ``run.model``, on ``run.device``)
    trained on ``run.data`` and saved to the plan's output, whose files (the checkpoint and its metrics)
    stay locked while it runs. With several processes each gives up on a peer that stops answering
    (``distributed.peers_answer``)."""
    world = run.world
    with run_outputs(run.plan.output, enabled=world.is_main), \
            peers_answer() if world.size > 1 else contextlib.nullcontext():
        _train_checked(model, run, progress, handle_signals)


def _train_checked(model, run: CheckedRun, progress: bool, handle_signals: bool) -> None:
    config, world, device = run.training, run.world, run.device
    tokenizer, train_data, val_data = run.data.tokenizer, run.data.train, run.data.val
    output, resume = run.plan.output, run.plan.resume
    setup = setup_training(model, config, world)
    batches = world.batch_stream(config.seed)
    saver = RunSaver(model, tokenizer, output, setup.optimizer, config, run.fingerprints, batches,
                     enabled=world.is_main, world_size=world.size)
    watch = LossWatch(device, config, saver)
    start = 0
    if resume is not None:
        start = restore(resume, model, setup.optimizer, batches, world.is_main)
    steps, batch_size, seq_len = config.steps, config.batch_size, config.seq_len
    bar = Progress(steps - start, batch_size * seq_len, enabled=progress and world.is_main)
    metrics = MetricsWriter(metrics_path(output), batch_size * seq_len, resume_step=start, checkpoint=output) \
        if world.is_main else None
    with stop_signals(handle_signals and world.size == 1) as stop:
        try:
            for step in range(start + 1, steps + 1):
                lr_t = _apply_schedule(setup.optimizer, config, step)
                x, y = get_batch(train_data, batch_size, seq_len, generator=batches)
                loss = setup.step(x, y)
                watch.observe(step, loss)
                bar.update(loss)

                is_print = step == 1 or step % config.print_every == 0 or step == steps
                is_val = (val_data is not None and config.val_every > 0
                          and (step % config.val_every == 0 or step == steps))
                if (is_print or is_val) and world.is_main:
                    watch.check()
                    val_loss = estimate_val_loss(model, val_data, batch_size, seq_len) if is_val else None
                    bar.print(_report_line(step, loss, lr_t, val_loss))
                    metrics.log(step, loss.item(), val_loss, setup.optimizer.param_groups[0]["lr"])
                if config.checkpoint_every > 0 and step % config.checkpoint_every == 0 and step != steps:
                    watch.check()
                    if saver.save_periodic(step):
                        bar.print(f"  [checkpoint saved at step {step}]")
                if stop.requested and step != steps:
                    watch.check()
                    saver.save(step)
                    raise TrainingStopped(step, stop.name, stop.exit_status, output, steps)
        finally:
            bar.close()
        watch.check()
        saver.save(steps)
