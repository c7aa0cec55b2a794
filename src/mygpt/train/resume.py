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
                   batches: torch.Generator | None = None, world_size: int = 1) -> dict:
    """What a checkpoint needs beyond the weights to continue training exactly after ``step``.

    The batch position is not stored separately: batches are drawn from the RNG, so its state is it
    (the global CPU generator in one process; ``batches``, the shared batch stream, with several).
    ``data`` holds the fingerprints of the training and validation tokens; ``world_size`` the number
    of processes training (a resume must use as many).
    """
    state = {"step": step, "optimizer_state_dict": optimizer.state_dict(), "rng_state": rng_states(),
             "world_size": world_size}
    if batches is not None:
        state["batch_rng"] = batches.get_state()
    if config is not None:
        state["train_config"] = dataclasses.asdict(config)
        state["dropout"] = model.config.dropout
        state["data"] = list(data)
    return state


def resumable_state(ckpt: dict, path: str = "the checkpoint") -> dict:
    """The checkpoint's training state, checked, or ``CheckpointError`` if it cannot resume a run.

    Checked: its step, settings, optimizer state, generator states and data fingerprints are there
    with the right types. Settings a newer mygpt added are named: this mygpt cannot continue them.
    """
    state = ckpt.get("training_state")
    if not isinstance(state, dict) or "train_config" not in state:
        raise CheckpointError(lambda n: f"{path} holds no resumable training state (it was written by an "
                                        f"older mygpt or another program); start a new run without {n('resume')}")
    step, settings, rng, data = (state.get(k) for k in ("step", "train_config", "rng_state", "data"))
    problems = [what for what, ok in (
        ("step", isinstance(step, int) and not isinstance(step, bool) and step >= 0),
        ("train_config", isinstance(settings, dict)),
        ("optimizer_state_dict", isinstance(state.get("optimizer_state_dict"), dict)),
        ("rng_state", isinstance(rng, dict) and isinstance(rng.get("cpu"), torch.Tensor)),
        ("data", isinstance(data, list | tuple) and len(data) == 2),
        ("dropout", isinstance(state.get("dropout"), int | float))) if not ok]
    if problems:
        raise CheckpointError(f"{path}: its training state is damaged ({', '.join(problems)} missing or of the "
                              "wrong type); resume from another checkpoint or start a new run")
    known = {field.name for field in dataclasses.fields(TrainConfig)}
    unknown = sorted(str(key) for key in settings if key not in known)
    if unknown:
        raise CheckpointError(f"{path} was saved by a newer mygpt: its run has settings this mygpt does not "
                              f"know ({', '.join(unknown[:3])}); resume it with that mygpt, or start a new run")
    return state


def saved_world_size(state: dict) -> int:
    """How many processes trained the checkpoint's run (older files: 1 unless they keep a batch stream)."""
    size = state.get("world_size")
    if isinstance(size, int) and not isinstance(size, bool) and size >= 1:
        return size
    return 2 if "batch_rng" in state else 1  # "several": an older multi-process file did not record how many


def _saved_settings(state: dict, path: str) -> TrainConfig:
    with warnings.catch_warnings():  # its warnings, if any, were given when that run started
        warnings.simplefilter("ignore")
        try:
            return TrainConfig.from_dict(state["train_config"])
        except (TypeError, ValueError) as err:  # ConfigError is a ValueError
            raise CheckpointError(f"{path}: the settings saved with its run are invalid ({err}); resume from "
                                  "another checkpoint or start a new run") from err


def check_resume(ckpt: dict, model: GPTConfig, tokenizer, config: TrainConfig,
                 data: tuple[str | None, str | None], path: str = "the checkpoint", world_size: int = 1) -> None:
    """Refuse a resume of a run with ``model``, ``tokenizer``, ``config`` and ``data`` (fingerprints) on
    ``world_size`` processes that would not continue the run of ``ckpt`` (a checkpoint ``resumable_state``
    accepted), naming the first difference. A run continues exactly only on as many processes as trained
    it (each draws its own slice of the batch and its own dropout masks)."""
    state = ckpt["training_state"]
    _same_tokenizer(ckpt, tokenizer, path)
    try:
        saved_model = dataclasses.replace(model_config(ckpt), dropout=state["dropout"])
    except (KeyError, TypeError, ValueError) as err:
        raise CheckpointError(f"{path}: its model settings are invalid ({err}); resume from another checkpoint "
                              "or start a new run") from err
    _same_settings(saved_model, model, path)
    saved = _saved_settings(state, path)
    _same_settings(saved, config, path, skip=(*FREE_TO_CHANGE, "seed"))
    processes = saved_world_size(state)
    if processes != world_size:
        was = f"{processes} process{'es' * (processes > 1)}" if "world_size" in state or processes == 1 \
            else "several processes"
        raise ConfigError(lambda n: f"{n('resume')} {path}: its run trained on {was} but this one runs on "
                                    f"{world_size}; a resume is exact only on as many processes (torchrun "
                                    "--nproc_per_node N, or no torchrun for 1)")
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
    try:
        model.load_state_dict(ckpt["model_state_dict"])
        optimizer.load_state_dict(state["optimizer_state_dict"])
        if batches is not None:
            batches.set_state(state.get("batch_rng", state["rng_state"]["cpu"]))
        if batches is None or main:
            set_rng_states(state["rng_state"])
    except (KeyError, TypeError, ValueError, RuntimeError) as err:
        raise CheckpointError(f"the checkpoint's training state cannot be restored ({err!s:.120}); resume "
                              "from another checkpoint or start a new run") from err
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
