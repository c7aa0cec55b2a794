"""The training loop of ``mygpt train`` as a library function (NUMERICS §9, CLI.md §2.3)."""

import contextlib

import torch

from .checkpoint import save_checkpoint
from .fast import prepare_fast
from .progress import Progress
from .utils import cosine_warmup_lr, estimate_val_loss, get_batch, set_seed


def make_train_step(model, optimizer, precision: str = "fp32", max_grad_norm: float = 0.0):
    """Return ``step(x, y) -> loss``: one optimisation step in the book's order (NUMERICS §9).

    zero_grad, forward (under bf16 autocast when asked), backward, optional clipping, AdamW step.
    The returned loss is this step's forward loss, measured before the update.
    """
    def step(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        optimizer.zero_grad()
        autocast = (torch.autocast(device_type=x.device.type, dtype=torch.bfloat16)
                    if precision == "bf16" else contextlib.nullcontext())
        with autocast:
            _, loss = model(x, y)
        loss.backward()
        if max_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
        optimizer.step()
        return loss

    return step


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


def train(model, tokenizer, train_data: torch.Tensor, val_data: torch.Tensor | None, optimizer, *,
          steps: int, batch_size: int, seq_len: int, lr: float, output: str,
          precision: str = "fp32", schedule: str = "constant", warmup: int = 0,
          max_grad_norm: float = 0.0, print_every: int = 500, val_every: int = 0,
          checkpoint_every: int = 0, progress: bool = False, fast: bool = False) -> None:
    """Run steps ``1..steps``, printing the book's step lines, then save the final checkpoint.

    Reseeds with 42 first, so the batch sequence is independent of the model's initialisation.
    Checkpoints carry the training state (``training_state``) next to the book's keys.
    ``progress=True`` shows a live bar on stderr; stdout is the same either way.
    ``fast=True`` trains through the fast path (``fast.prepare_fast``): same function, not bit-exact.
    """
    forward = prepare_fast(model, precision=precision) if fast else model
    train_step = make_train_step(forward, optimizer, precision, max_grad_norm)
    bar = Progress(steps, batch_size * seq_len, enabled=progress)
    set_seed(42)
    try:
        for step in range(1, steps + 1):
            if schedule == "cosine":
                lr_t = cosine_warmup_lr(step, warmup, steps, lr)
                for group in optimizer.param_groups:
                    group["lr"] = lr_t
            x, y = get_batch(train_data, batch_size, seq_len)
            loss = train_step(x, y)
            bar.update(loss)

            is_print = step == 1 or step % print_every == 0 or step == steps
            is_val = val_data is not None and val_every > 0 and (step % val_every == 0 or step == steps)
            if is_print or is_val:
                line = f"step {step:>5}: loss = {loss.item():.4f}"
                if is_val:
                    line += f"  val = {estimate_val_loss(model, val_data, batch_size, seq_len):.4f}"
                if schedule == "cosine":
                    line += f"  lr = {lr_t:.2e}"
                bar.print(line)
            if checkpoint_every > 0 and step % checkpoint_every == 0 and step != steps:
                save_checkpoint(model, tokenizer, output, training_state(step, optimizer))
                bar.print(f"  [checkpoint saved at step {step}]")
    finally:
        bar.close()
    save_checkpoint(model, tokenizer, output, training_state(steps, optimizer))
