"""Run metrics: the numbers behind a training run's step lines, kept as JSON Lines beside its checkpoint.

Each record is one printed (or validated) step: ``step``, ``loss``, ``val_loss`` (``null`` when the
step was not validated), ``lr``, ``tokens_per_s`` (training tokens over the wall-clock time since the
previous record, validation included) and ``elapsed_s`` (since the run started, continued across
resumes). A file written for a checkpoint starts with ``{"metrics_of": NAME}``, the checkpoint's file
name: two checkpoints with one stem (``a.ckpt``, ``a.pt``) would share ``a.metrics.jsonl``, and the
second run is refused instead of wiping the first one's history. The book's stdout is unchanged;
``mygpt plot`` reads the file with ``read_metrics``, which checks every line.
"""

import json
import math
import os
import time
import warnings

from ..errors import MetricsError, MyGPTWarning, OutputError
from ..files.outputs import OutputKind, write_output

# Record fields and the JSON types they may hold (``null`` for the numbers); other keys are kept
# as they are (a newer mygpt may add some).
_NUMBERS = ("loss", "val_loss", "lr", "tokens_per_s", "elapsed_s")
OWNER_KEY = "metrics_of"


def metrics_path(checkpoint: str) -> str:
    """Where the metrics of the run saving ``checkpoint`` go: ``model.ckpt`` -> ``model.metrics.jsonl``."""
    return os.path.splitext(checkpoint)[0] + ".metrics.jsonl"


def _number(value: float | None) -> float | None:
    """JSON has no NaN or infinity: such a value is written as ``null``."""
    return None if value is None or not math.isfinite(value) else value


def _is_number(value) -> bool:
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool))


def _checked(record, path: str, number: int) -> dict | None:
    """``record`` if it is a metrics record, None for the header; anything else raises ``MetricsError``."""
    where = f"{path} line {number}"
    if not isinstance(record, dict):
        raise MetricsError(f"{where} is not a metrics record (a JSON object); pass a metrics file written "
                           "by `mygpt train`")
    if "step" not in record and OWNER_KEY in record:
        if not isinstance(record[OWNER_KEY], str):
            raise MetricsError(f"{where}: {OWNER_KEY} must be a file name")
        return None
    step = record.get("step")
    if not isinstance(step, int) or isinstance(step, bool) or step < 0:
        raise MetricsError(f"{where}: step must be a whole number, 0 or more (got {step!r}); pass a metrics "
                           "file written by `mygpt train`")
    for key in _NUMBERS:
        if not _is_number(record.get(key)):
            raise MetricsError(f"{where}: {key} must be a number or null (got {record[key]!r})")
    return record


def read_metrics_file(path: str) -> tuple[str | None, list[dict]]:
    """``(owner, records)`` of a metrics file: the checkpoint name of its header (None without one) and
    its records in order. A last line cut short by a crash mid-write is skipped; anything else that is
    not a metrics record raises ``MetricsError`` naming the file and the line."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except FileNotFoundError as err:
        raise MetricsError(f"metrics file not found: {path}; metrics are written by `mygpt train`") from err
    except IsADirectoryError as err:
        raise MetricsError(f"{path} is a directory, not a metrics file") from err
    except UnicodeDecodeError as err:
        raise MetricsError(f"{path} is not a metrics file (not UTF-8 text at byte {err.start})") from err
    except OSError as err:
        raise MetricsError(f"cannot read the metrics file {path} ({err.strerror})") from err
    owner, records = None, []
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as err:
            if number == len(lines):  # torn by a crash mid-write: the lines before it are whole
                break
            raise MetricsError(f"{path} line {number} is not JSON; pass a metrics file written by "
                               "`mygpt train`") from err
        checked = _checked(record, path, number)
        if checked is None:
            owner = record[OWNER_KEY]
        else:
            records.append(checked)
    return owner, records


def read_metrics(path: str) -> list[dict]:
    """The records of a metrics file, in order (see ``read_metrics_file``)."""
    return read_metrics_file(path)[1]


def metrics_kind(checkpoint: str | None) -> OutputKind:
    """The metrics file of ``checkpoint`` as an output: mygpt replaces only a metrics file whose header
    names that checkpoint (or, from an older mygpt, has none)."""
    name = None if checkpoint is None else os.path.basename(checkpoint)

    def replaceable(path: str) -> bool:
        try:
            owner, records = read_metrics_file(path)
        except MetricsError:
            return False
        return (owner is not None or bool(records)) and owner in (None, name)

    what = f"the metrics file of {name}" if name else "a mygpt metrics file"
    return OutputKind(what, "metrics files", replaceable, OutputError)


class MetricsWriter:
    """Append one JSON line per logged step to ``path``; each line is written and closed at once, so a
    killed run keeps every line it logged.

    ``resume_step=0`` starts a new run: the file is replaced (only if it is this run's own: see
    ``metrics_kind``). ``resume_step=N`` continues a run resumed from its checkpoint at step ``N``:
    records up to ``N`` are kept, later ones (written after that checkpoint by the interrupted run) are
    dropped, and ``elapsed_s`` continues from the last kept one. ``checkpoint`` names the run's
    checkpoint in the file's first line. A write that fails (a full disk) is a warning, once, and the
    run goes on, as a failed periodic checkpoint save does.
    """

    def __init__(self, path: str, tokens_per_step: int, resume_step: int = 0, checkpoint: str | None = None):
        self.path = path
        self.tokens_per_step = tokens_per_step
        self._warned = False
        kept = []
        if resume_step > 0 and os.path.exists(path):
            kept = [r for r in read_metrics(path) if r["step"] <= resume_step]
        self._elapsed_before = (kept[-1].get("elapsed_s") or 0.0) if kept else 0.0
        header = [] if checkpoint is None else [{OWNER_KEY: os.path.basename(checkpoint)}]
        lines = "".join(json.dumps(record) + "\n" for record in header + kept).encode("utf-8")
        try:  # the kept history is replaced in one rename, never half-written
            write_output(path, metrics_kind(checkpoint), lambda f: f.write(lines))
        except OSError as err:
            self._warn(err)
        self._start = self._last_time = time.perf_counter()
        self._last_step = resume_step

    def _warn(self, err: OSError) -> None:
        if not self._warned:
            self._warned = True
            warnings.warn(f"could not write the metrics file {self.path} ({err.strerror or err}); training "
                          "goes on (the checkpoint is unaffected)", MyGPTWarning, stacklevel=3)

    def log(self, step: int, loss: float, val_loss: float | None, lr: float) -> dict:
        """Append the record of ``step`` and return it."""
        now = time.perf_counter()
        seconds = now - self._last_time
        tokens = (step - self._last_step) * self.tokens_per_step
        record = {"step": step, "loss": _number(loss), "val_loss": _number(val_loss), "lr": float(lr),
                  "tokens_per_s": round(tokens / seconds, 1) if seconds > 0 else None,
                  "elapsed_s": round(self._elapsed_before + now - self._start, 3)}
        try:
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")
        except OSError as err:
            self._warn(err)
        self._last_time, self._last_step = now, step
        return record
