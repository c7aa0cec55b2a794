"""Run metrics: the numbers behind a training run's step lines, kept as JSON Lines beside its checkpoint.

Each record is one printed (or validated) step: ``step``, ``loss``, ``val_loss`` (``null`` when the
step was not validated), ``lr``, ``tokens_per_s`` (training tokens over the wall-clock time since the
previous record, validation included) and ``elapsed_s`` (since the run started, continued across
resumes). The book's stdout is unchanged; ``mygpt plot`` reads the file.
"""

import json
import math
import os
import time


def metrics_path(checkpoint: str) -> str:
    """Where the metrics of the run saving ``checkpoint`` go: ``model.ckpt`` -> ``model.metrics.jsonl``."""
    return os.path.splitext(checkpoint)[0] + ".metrics.jsonl"


def _number(value: float | None) -> float | None:
    """JSON has no NaN or infinity: such a value is written as ``null``."""
    return None if value is None or not math.isfinite(value) else value


def read_metrics(path: str) -> list[dict]:
    """The records of a metrics file, in order; a line cut short by a crash mid-write is skipped."""
    records = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict) and "step" in record:
                records.append(record)
    return records


class MetricsWriter:
    """Append one JSON line per logged step to ``path``; each line is written and closed at once, so a
    killed run keeps every line it logged.

    ``resume_step=0`` starts a new run: the file is replaced. ``resume_step=N`` continues a run resumed
    from its checkpoint at step ``N``: records up to ``N`` are kept, later ones (written after that
    checkpoint by the interrupted run) are dropped, and ``elapsed_s`` continues from the last kept one.
    """

    def __init__(self, path: str, tokens_per_step: int, resume_step: int = 0):
        self.path = path
        self.tokens_per_step = tokens_per_step
        kept = []
        if resume_step > 0 and os.path.exists(path):
            kept = [r for r in read_metrics(path) if r["step"] <= resume_step]
        self._elapsed_before = (kept[-1].get("elapsed_s") or 0.0) if kept else 0.0
        tmp = path + ".tmp"  # the kept history is replaced in one rename, never half-written
        with open(tmp, "w", encoding="utf-8") as f:
            f.writelines(json.dumps(record) + "\n" for record in kept)
        os.replace(tmp, path)
        self._start = self._last_time = time.perf_counter()
        self._last_step = resume_step

    def log(self, step: int, loss: float, val_loss: float | None, lr: float) -> dict:
        """Append the record of ``step`` and return it."""
        now = time.perf_counter()
        seconds = now - self._last_time
        tokens = (step - self._last_step) * self.tokens_per_step
        record = {"step": step, "loss": _number(loss), "val_loss": _number(val_loss), "lr": float(lr),
                  "tokens_per_s": round(tokens / seconds, 1) if seconds > 0 else None,
                  "elapsed_s": round(self._elapsed_before + now - self._start, 3)}
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        self._last_time, self._last_step = now, step
        return record
