"""What watches over a training run: its outputs, its checkpoint saves and its loss (Ch.14's loop, made safe).

``check_run_outputs`` checks the files a run writes before it starts and ``run_outputs`` locks them; ``RunSaver`` writes the
run's checkpoints with their resumable state and remembers the last good one; ``LossWatch`` stops the
run at the first NaN or infinite loss. ``train`` uses all three; a loop of one's own can too.
"""

import contextlib
import math
from collections.abc import Iterator, Mapping

import torch

from ..checkpoint import CHECKPOINT, save_checkpoint
from ..config import TrainConfig
from ..errors import CheckpointError, MyGPTWarning, OutputError, TrainingError, notify
from ..files.outputs import check_output, output_lock
from .metrics import metrics_kind, metrics_path
from .resume import training_state


def check_run_outputs(checkpoint: str, inputs: Mapping[str | None, str] | None = None,
                      setting: str | None = "output") -> None:
    """Refuse, before any training, what a run must not write: ``checkpoint`` or its metrics file being
    one of ``inputs`` (path -> what it is), a file that is not mygpt's own checkpoint (or that
    checkpoint's metrics file), a folder that takes no file. ``setting`` names the checkpoint's argument."""
    metrics = metrics_path(checkpoint)
    check_output(checkpoint, CHECKPOINT, inputs, setting)
    check_output(metrics, metrics_kind(checkpoint), inputs, label=f"the metrics file {metrics}",
                 choose=setting or "output")


@contextlib.contextmanager
def run_outputs(checkpoint: str, setting: str | None = "output", enabled: bool = True) -> Iterator[None]:
    """Hold, for the block, the locks of what a training run writes (``checkpoint`` and its metrics
    file), which ``check_run_outputs`` checked: another run holding either stops in one line.
    ``enabled=False`` (ranks other than 0) does nothing."""
    if not enabled:
        yield
        return
    with output_lock(checkpoint, setting, "training run", CheckpointError), \
            output_lock(metrics_path(checkpoint), None, "training run", OutputError):
        yield


# The first-bad-step marker of a loss that stayed finite.
_NEVER = 2**62


class RunSaver:
    """Writes this run's checkpoints (each with its resumable training state) and remembers the last one.

    Only an ``enabled`` saver writes: of several training processes, rank 0 alone saves. ``batches``
    is the batch stream's own generator when there is one (several processes, ``world_size``).
    """

    def __init__(self, model, tokenizer, output: str, optimizer, config: TrainConfig, data_ids: tuple,
                 batches: torch.Generator | None = None, enabled: bool = True, world_size: int = 1):
        self.model, self.tokenizer, self.output, self.world_size = model, tokenizer, output, world_size
        self.optimizer, self.config, self.data_ids, self.batches = optimizer, config, data_ids, batches
        self.enabled = enabled
        self.last_step: int | None = None

    def save(self, step: int) -> None:
        if not self.enabled:
            return
        state = training_state(step, self.optimizer, self.config, self.model, self.data_ids, self.batches,
                               self.world_size)
        save_checkpoint(self.model, self.tokenizer, self.output, state)
        self.last_step = step

    def save_periodic(self, step: int) -> bool:
        """A save during the run: a failure is a warning (the previous file is intact), not the end."""
        if not self.enabled:
            return False
        try:
            self.save(step)
        except CheckpointError as err:
            notify(lambda n, err=err: f"{err.worded(n)}; training goes on", MyGPTWarning)
            return False
        return True

    def kept(self) -> str:
        """Which checkpoint file holds the last good state, for the message that ends a failed run."""
        if self.last_step is None:
            return f"no checkpoint of this run was saved (any earlier file at {self.output} is untouched)"
        return f"the last good checkpoint, {self.output} (step {self.last_step}), is kept"


class LossWatch:
    """Stops training at the first NaN or infinite loss, naming its step and the likely cause.

    On the CPU each loss is read as it comes (no cost); on an accelerator the first bad step is
    recorded on the device and read only at the loop's existing sync points (printed lines, saves).
    """

    def __init__(self, device: torch.device, config: TrainConfig, saver: RunSaver):
        self.eager, self.config, self.saver = device.type == "cpu", config, saver
        self.first_bad: torch.Tensor | None = None

    def observe(self, step: int, loss: torch.Tensor) -> None:
        if self.eager:
            if not math.isfinite(loss.item()):
                self._fail(step)
            return
        mark = torch.where(torch.isfinite(loss.detach()), _NEVER, step)
        self.first_bad = mark if self.first_bad is None else torch.minimum(self.first_bad, mark)

    def check(self) -> None:
        if self.first_bad is not None and (step := int(self.first_bad)) != _NEVER:
            self._fail(step)

    def _fail(self, step: int) -> None:
        lr, clip, kept = self.config.lr, self.config.max_grad_norm, self.saver.kept()

        def describe(n) -> str:
            advice = f"lower {n('lr')} (now {lr:g})"
            if not clip:
                advice += f" or clip gradients with {n('max_grad_norm')} 1.0"
            return (f"the loss became NaN or infinite at step {step}; likely cause: a learning rate too "
                    f"high for this model: {advice}; {kept}")

        raise TrainingError(describe)
