"""Exact resume: what a checkpoint records to continue training, and how a run is restored from it.

Training is a function of the weights, the optimizer's moments, the step (which fixes the schedule's
learning rate) and the random generators (which fix the next batches, dropout masks and validation
batches, Ch.14, Ch.21). A checkpoint stores all of them, with the settings and a fingerprint of the
data, so a resumed run continues bit for bit as if never stopped, and a run that would not (other
shapes, tokenizer, text or settings) is refused with the difference named.
"""

import dataclasses
import hashlib
import warnings

import torch

from ..checkpoint import model_config, saved_tokenizer_kind, saved_tokenizer_state, tokenizer_state
from ..config import GPTConfig, TrainConfig
from ..errors import CheckpointError, ConfigError

# Settings that change nothing about the arithmetic of later steps; any other difference is refused.
FREE_TO_CHANGE = ("steps", "print_every", "checkpoint_every")


def fingerprint(data) -> str | None:
    """A short digest of a token tensor (or prepared shards): resuming on other data would not be a
    continuation."""
    if data is None:
        return None
    if not isinstance(data, torch.Tensor):
        return f"{len(data)}:{data.fingerprint()}"
    digest = hashlib.sha256(data.detach().to("cpu", torch.int64).contiguous().numpy().tobytes())
    return f"{len(data)}:{digest.hexdigest()[:16]}"


def rng_states() -> dict:
    """The generator states that decide the next batches and dropout masks."""
    states = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available():
        states["cuda"] = torch.cuda.get_rng_state_all()
    if torch.backends.mps.is_available():
        states["mps"] = torch.mps.get_rng_state()
    return states


def set_rng_states(states: dict) -> None:
    """Put back what ``rng_states`` recorded, for the devices this machine has."""
    torch.set_rng_state(states["cpu"])
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])
    if "mps" in states and torch.backends.mps.is_available():
        torch.mps.set_rng_state(states["mps"])


def training_state(step: int, optimizer, config: TrainConfig | None = None, model=None,
                   data: tuple[str | None, str | None] | None = None,
                   batches: torch.Generator | None = None) -> dict:
    """What a checkpoint needs beyond the weights to continue training exactly after ``step``.

    The batch position is not stored separately: batches are drawn from the RNG, so its state is it
    (the global CPU generator in one process; ``batches``, the shared batch stream, with several).
    ``data`` holds the fingerprints of the training and validation tokens.
    """
    state = {"step": step, "optimizer_state_dict": optimizer.state_dict(), "rng_state": rng_states()}
    if batches is not None:
        state["batch_rng"] = batches.get_state()
    if config is not None:
        state["train_config"] = dataclasses.asdict(config)
        state["dropout"] = model.config.dropout
        state["data"] = list(data)
    return state


def resumable_state(ckpt: dict, path: str = "the checkpoint") -> dict:
    """The checkpoint's training state, or ``CheckpointError`` if it cannot resume a run."""
    state = ckpt.get("training_state")
    if not isinstance(state, dict) or "train_config" not in state:
        raise CheckpointError(lambda n: f"{path} holds no resumable training state (it was written by an "
                                        f"older mygpt or another program); start a new run without {n('resume')}")
    return state


def check_resume(ckpt: dict, model: GPTConfig, tokenizer, config: TrainConfig,
                 data: tuple[str | None, str | None], path: str = "the checkpoint") -> None:
    """Refuse a resume of a run with ``model``, ``tokenizer``, ``config`` and ``data`` (fingerprints) that
    would not continue the run of ``ckpt`` (a checkpoint ``resumable_state`` accepted), naming the first
    difference."""
    state = ckpt["training_state"]
    _same_tokenizer(ckpt, tokenizer, path)
    saved_model = dataclasses.replace(model_config(ckpt), dropout=state["dropout"])
    _same_settings(saved_model, model, path)
    with warnings.catch_warnings():  # its warnings, if any, were given when that run started
        warnings.simplefilter("ignore")
        saved = TrainConfig.from_dict(state["train_config"])
    _same_settings(saved, config, path, skip=(*FREE_TO_CHANGE, "seed"))
    if saved.seed != config.seed:  # the CLI's --seed is this seed minus 42, so no values are shown
        raise ConfigError(lambda n: f"{n('resume')} {path}: the batch seed differs from the checkpoint's run; "
                                    f"give the same {n('seed')} as that run")
    done = state["step"]
    if config.schedule == "cosine" and config.steps != saved.steps:
        raise ConfigError(lambda n: f"{n('resume')} {path}: the cosine schedule spans {n('steps')} {saved.steps} in "
                                    f"the checkpoint's run but {config.steps} here; give {n('steps')} "
                                    f"{saved.steps}")
    if done >= config.steps:
        raise ConfigError(lambda n: f"{n('resume')} {path}: the checkpoint has already done {done} steps, so "
                                    f"{n('steps')} {config.steps} leaves nothing to do; raise {n('steps')}")
    if list(data) != list(state["data"]):
        which = "training" if data[0] != state["data"][0] else "validation"
        raise ConfigError(lambda n: f"{n('resume')} {path}: the {which} tokens differ from the checkpoint's run; "
                                    f"resume with the same text, {n('val_split')} and tokenizer options")


def restore(ckpt: dict, model, optimizer, batches: torch.Generator | None = None, main: bool = True) -> int:
    """Load weights, optimizer state and generator states from ``ckpt``; return its step.

    With several processes (``batches`` given) every process restores the batch stream, which a
    one-process run kept in the global CPU generator; rank 0 (``main``) also restores its own generators (its
    validation draws), the other ranks keep their fresh dropout seeds.
    """
    state = ckpt["training_state"]
    model.load_state_dict(ckpt["model_state_dict"])
    optimizer.load_state_dict(state["optimizer_state_dict"])
    if batches is None:
        set_rng_states(state["rng_state"])
        return state["step"]
    batches.set_state(state.get("batch_rng", state["rng_state"]["cpu"]))
    if main:
        set_rng_states(state["rng_state"])
    return state["step"]


def _same_settings(saved: GPTConfig | TrainConfig, current: GPTConfig | TrainConfig, path: str,
                   skip: tuple[str, ...] = ()) -> None:
    for field in dataclasses.fields(saved):
        was, now = getattr(saved, field.name), getattr(current, field.name)
        if field.name not in skip and was != now:
            raise ConfigError(lambda n, name=field.name, was=was, now=now:
                              f"{n('resume')} {path}: {n(name)} is {was} in the checkpoint's run but {now} here; "
                              f"give {n(name)} {was} (or start a new run without {n('resume')})")


def _same_tokenizer(ckpt: dict, tokenizer, path: str) -> None:
    saved_kind = saved_tokenizer_kind(ckpt)
    saved = _comparable(saved_tokenizer_state(ckpt))
    kind, current = tokenizer_state(tokenizer)
    current = _comparable(current)
    if (saved_kind, saved) != (kind, current):
        what = "kind" if saved_kind != kind else next(
            _PARTS.get(key, key) for key in current if saved.get(key) != current[key])
        raise ConfigError(lambda n: f"{n('resume')} {path}: the tokenizer's {what} differs from the checkpoint's "
                                    f"({saved_kind} there, {kind} here); resume with the same text and "
                                    f"{n('tokenizer')} options")


_PARTS = {"chars": "alphabet", "merges": "merges", "json": "vocabulary or merges"}


def _comparable(state: dict) -> dict:
    """A tokenizer state with its merges as lists, however they were stored."""
    return {key: [list(m) if isinstance(m, tuple | list) else m for m in value] if isinstance(value, list)
            else value for key, value in state.items()}
