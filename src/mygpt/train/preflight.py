"""Checking a training run once, before it starts: configs, output, data, memory, resume.

A ``Plan`` is a run as its caller describes it: the model's shape, the training settings, the data
(``data.sources``), the output file and the run it resumes, if any. ``check_run`` checks all of it,
loading the data on the way, and returns a ``CheckedRun``, which ``loop.train_checked`` runs. The
command line calls ``check_run`` before it prints anything (a tokenizer learning merges prints its
progress while the data loads); ``train()`` calls it for library callers. Every check of a run lives
here or in the function it calls; none is made twice.

The order fails fastest: what needs no data (shapes, processes, whether the output can be written, the
resumed file) before the data is loaded, then the rest: an output that is the text or another file
(the text's own problems come first), and what the tokens decide (their number, the vocabulary, so the
memory and disk a run needs, and whether a resume continues the same run).
"""

import dataclasses
from dataclasses import dataclass

import torch

from ..config import GPTConfig, TrainConfig
from ..data.sources import Source, TrainingData
from ..errors import MyGPTWarning, notify
from ..files.outputs import check_disk_space, check_new_file
from ..utils import Log, silent
from .distributed import SINGLE, World
from .guards import check_run_outputs
from .memory import check_training_memory, count_parameters
from .resume import check_resume, fingerprint, resumable_state

# Weights plus AdamW's two moments, in fp32: what a checkpoint with its training state holds per parameter.
CHECKPOINT_BYTES_PER_PARAM = 12


@dataclass(frozen=True)
class Plan:
    """A training run as described, before anything is checked or loaded.

    ``model`` is the shape to train; with ``vocab_from_data`` its vocabulary is the data's tokenizer's
    (a new model), otherwise it is the model's own (a model that exists, or fine-tuning). ``resume`` is
    the payload (``checkpoint.read_checkpoint``) of the run this one continues, read from
    ``resume_path``.
    """

    model: GPTConfig
    training: TrainConfig
    data: Source
    output: str
    resume: dict | None = None
    resume_path: str = "the checkpoint"
    vocab_from_data: bool = False


@dataclass(frozen=True)
class CheckedRun:
    """A plan that passed ``check_run``, with what it found: the final model config, the loaded data and
    its fingerprints (what a checkpoint records to refuse a resume on other data), the parameter count,
    and where it runs."""

    plan: Plan
    model: GPTConfig
    data: TrainingData
    fingerprints: tuple[str | None, str | None]
    n_params: int
    device: torch.device
    world: World = SINGLE

    @property
    def training(self) -> TrainConfig:
        return self.plan.training


def check_run(plan: Plan, device: torch.device, world: World = SINGLE, log: Log = silent) -> CheckedRun:
    """Check ``plan`` for a run on ``device`` by ``world``'s processes, loading its data; raise the first
    problem as a ``MyGPTError`` worded by field name (the CLI words it with its flags).

    ``log`` receives the data's progress lines (a tokenizer learning merges says how long it takes).
    """
    training = plan.training
    if world.size > 1:  # one process was checked when the config was made
        training.check_parts(world.size)
    training.check_model(plan.model)  # the context window does not depend on the vocabulary
    check_new_file(plan.output)
    if plan.resume is not None:
        resumable_state(plan.resume, plan.resume_path)

    data = plan.data.load(log)
    check_run_outputs(plan.output, run_inputs(plan))
    model = dataclasses.replace(plan.model, vocab_size=data.tokenizer.vocab_size) if plan.vocab_from_data \
        else plan.model
    training.check_data(len(data.train), None if data.val is None else len(data.val))
    _warn_pointless(data.tokenizer)
    n_params = count_parameters(model)
    check_training_memory(model, training, device, n_params)
    check_disk_space(plan.output, CHECKPOINT_BYTES_PER_PARAM * n_params)
    fingerprints = (fingerprint(data.train), fingerprint(data.val))
    if plan.resume is not None:
        check_resume(plan.resume, model, data.tokenizer, training, fingerprints, plan.resume_path, world.size)
    return CheckedRun(plan, model, data, fingerprints, n_params, device, world)


def run_inputs(plan: Plan) -> dict[str | None, str]:
    """What the run reads that its outputs must never replace (path -> what it is)."""
    return {plan.data.text_path: "the training text"}


def _warn_pointless(tokenizer) -> None:
    if tokenizer.vocab_size == 1:
        notify(f"the training text has a single distinct token ({tokenizer.chars[0]!r}): the model can only "
               "learn to repeat it and its loss goes to 0; use a richer text", MyGPTWarning, stacklevel=4)
