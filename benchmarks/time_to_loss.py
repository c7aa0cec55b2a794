"""Validation loss against wall-clock time: nanoGPT's CPU recipe and mygpt's recipes, side by side.

    python benchmarks/time_to_loss.py NANOGPT_DIR TEXT [--runs nanogpt,fast-cpu] [--every 10]

Runs, one after the other on this machine, each a fresh process:

* ``nanogpt``: the CPU command of nanoGPT's README, unchanged (``train.py
  config/train_shakespeare_char.py --device=cpu --compile=False --eval_iters=20 --log_interval=1
  --block_size=64 --batch_size=12 --n_layer=4 --n_head=4 --n_embd=128 --max_iters=2000
  --lr_decay_iters=2000 --dropout=0.0``) from a local checkout, on data prepared as its
  ``prepare.py`` does (nothing of nanoGPT is copied here);
* each mygpt recipe named in ``--runs``: ``mygpt train TEXT --recipe NAME --val-split 0.1``.

Every run's clock (the wall clock, or with ``--clock cpu`` the process's CPU time) starts when its
model has been built and stops after its last optimizer step. Its
weights are copied every ``--every`` seconds of training (between steps; the copying is not counted)
and at the end, at nanoGPT's end time too for the mygpt runs; after training, each copy is evaluated
on the whole validation split (the last 10% of the text, identical for both programs) in consecutive
windows of the model's context. Prints one JSON line per copy, the table of losses at common times,
and a last line that sums it up: each program's loss at nanoGPT's end time and mygpt's time to 1.60
and to 1.47. Writes ``RUN.metrics.jsonl`` per run and ``time_to_loss.png`` (``mygpt plot --x
time``) into ``--out``. Threads: every run gets the environment this script has (set
``OMP_NUM_THREADS`` to fix them).
"""

import argparse
import json
import os
import runpy
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from nanogpt_side_by_side import link_checkout, prepare_data

NANOGPT_CPU_RECIPE = ["config/train_shakespeare_char.py", "--device=cpu", "--compile=False", "--eval_iters=20",
                      "--log_interval=1", "--block_size=64", "--batch_size=12", "--n_layer=4", "--n_head=4",
                      "--n_embd=128", "--max_iters=2000", "--lr_decay_iters=2000", "--dropout=0.0"]
TARGETS = (1.60, 1.47)


class Snapshots:
    """Copies of a model's weights at training-time marks, taken between optimizer steps.

    ``watch(model_class)`` records the first model built (its clock starts then); every optimizer
    step ends a step (``torch.optim`` post-hooks); a copy is taken before the first forward pass in
    training mode after each mark. The time spent copying is left out of the clock.
    """

    def __init__(self, every: float, marks: list[float], clock=time.perf_counter):
        self.every, self.marks, self.clock = every, sorted(marks), clock
        self.model, self.start, self.paused, self.last_step = None, None, 0.0, None
        self.copies: list[tuple[float, dict]] = []
        self.next_mark = every

    def elapsed(self, now: float | None = None) -> float:
        return (self.clock() if now is None else now) - self.start - self.paused

    def watch(self, model_class) -> None:

        original_init = model_class.__init__

        def init(model, *args, **kwargs):
            original_init(model, *args, **kwargs)
            if self.model is None:
                self.model, self.start = model, self.clock()
                model.register_forward_pre_hook(self._before_forward)

        model_class.__init__ = init
        from torch.optim.optimizer import register_optimizer_step_post_hook

        register_optimizer_step_post_hook(self._after_step)

    def _after_step(self, optimizer, args, kwargs) -> None:
        self.last_step = self.clock()

    def _due(self, elapsed: float) -> bool:
        return elapsed >= self.next_mark or any(m <= elapsed for m in self.marks)

    def _before_forward(self, model, args) -> None:
        if not model.training or self.last_step is None:
            return
        elapsed = self.elapsed(self.last_step)
        if self._due(elapsed):
            started = self.clock()
            self.copies.append((elapsed, {k: v.detach().clone() for k, v in model.state_dict().items()}))
            while self.next_mark <= elapsed:
                self.next_mark += self.every
            self.marks = [m for m in self.marks if m > elapsed]
            self.paused += self.clock() - started

    def finish(self) -> float:
        """Copy the final weights; returns the training time (to the end of the last step)."""
        end = self.elapsed(self.last_step)
        self.copies.append((end, {k: v.detach().clone() for k, v in self.model.state_dict().items()}))
        return end


def whole_split_loss(model, ids, context: int, batch_size: int = 64) -> float:
    """Mean next-token loss over consecutive windows of ``context`` tokens covering ``ids``."""
    import torch
    import torch.nn.functional as F

    n = (len(ids) - 1) // context
    x, y = ids[:n * context].view(n, context), ids[1:n * context + 1].view(n, context)
    total = 0.0
    with torch.no_grad():
        for i in range(0, n, batch_size):
            logits, _ = model(x[i:i + batch_size], y[i:i + batch_size])
            total += F.cross_entropy(logits.flatten(0, 1).float(), y[i:i + batch_size].flatten(),
                                     reduction="sum").item()
    return total / (n * context)


def worker(args: argparse.Namespace) -> None:
    """Train one run in this process with snapshots, then evaluate them; print JSON lines."""
    import torch

    snapshots = Snapshots(args.every, args.marks, time.process_time if args.clock == "cpu" else time.perf_counter)
    work = Path.cwd()
    if args.worker == "nanogpt":
        sys.path.insert(0, str(work))
        import model as nanogpt_model  # the checkout's model.py, linked into the work directory

        snapshots.watch(nanogpt_model.GPT)
        steps = [f"--max_iters={args.steps}", f"--lr_decay_iters={args.steps}"] if args.steps else []
        sys.argv = ["train.py", *NANOGPT_CPU_RECIPE, *steps, f"--out_dir={work / 'out'}"]
        runpy.run_path("train.py", run_name="__main__")
        context = 64
    else:
        from mygpt.cli import main
        from mygpt.model import GPT

        snapshots.watch(GPT)
        main(["train", str(args.text), "--recipe", args.worker, "--val-split", "0.1",
              "--output", str(work / f"{args.worker}.ckpt"), *(["--steps", str(args.steps)] if args.steps else [])])
        context = snapshots.model.max_seq_len
    end = snapshots.finish()
    model = snapshots.model
    model.eval()
    val = torch.from_numpy(np.fromfile(work / "data" / "shakespeare_char" / "val.bin", dtype=np.uint16)
                           .astype(np.int64))
    for elapsed, state in snapshots.copies:
        model.load_state_dict(state)
        loss = whole_split_loss(model, val, context)
        print("SNAPSHOT " + json.dumps({"run": args.worker, "elapsed_s": round(elapsed, 2),
                                        "val_loss": round(loss, 4)}), flush=True)
    print("END " + json.dumps({"run": args.worker, "train_s": round(end, 2), "threads": torch.get_num_threads()}),
          flush=True)


def run_worker(name: str, args: argparse.Namespace, work: Path, marks: list[float]) -> tuple[list[dict], dict]:
    command = [sys.executable, __file__, str(args.nanogpt), str(args.text), "--worker", name,
               "--every", str(args.every), "--clock", args.clock, *(["--marks", *map(str, marks)] if marks else []),
               *(["--steps", str(args.steps)] if args.steps else [])]
    started = time.perf_counter()
    done = subprocess.run(command, cwd=work, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"time_to_loss: {name} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    lines = done.stdout.splitlines()
    points = [json.loads(line[len("SNAPSHOT "):]) for line in lines if line.startswith("SNAPSHOT ")]
    end = next(json.loads(line[len("END "):]) for line in lines if line.startswith("END "))
    end["process_s"] = round(time.perf_counter() - started, 2)
    end["load_average_1min"] = round(os.getloadavg()[0], 2)
    return points, end


def loss_at(points: list[dict], t: float) -> float | None:
    """The loss of the last copy taken at or before ``t`` (None before the first)."""
    before = [p for p in points if p["elapsed_s"] <= t + 1e-6]
    return before[-1]["val_loss"] if before else None


def time_to(points: list[dict], target: float) -> float | None:
    """The first copy's time whose loss is at most ``target`` (None if never)."""
    return next((p["elapsed_s"] for p in points if p["val_loss"] <= target), None)


def write_metrics(points: list[dict], path: Path) -> None:
    """The curve as a metrics file ``mygpt plot`` reads (validation loss only, x = ``elapsed_s``)."""
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(json.dumps({"step": i, "val_loss": p["val_loss"], "elapsed_s": p["elapsed_s"]}) + "\n" for i, p in enumerate(points))


def report(curves: dict[str, list[dict]], ends: dict[str, dict], every: float) -> None:
    """The table at common times, then the one-line summary."""
    horizon = max(e["train_s"] for e in ends.values())
    times = [every * k for k in range(1, int(horizon // every) + 1)]
    if "nanogpt" in ends:
        times = sorted({*times, ends["nanogpt"]["train_s"]})
    print(f"{'time (s)':>9}  " + "  ".join(f"{name:>10}" for name in curves))
    for t in times:
        cells = [loss_at(points, t) for points in curves.values()]
        print(f"{t:>9.1f}  " + "  ".join(f"{'-' if c is None else f'{c:.4f}':>10}" for c in cells))
    parts = []
    if "nanogpt" in ends:
        e = ends["nanogpt"]["train_s"]
        parts.append(f"at nanoGPT's end ({e:.1f} s): " + ", ".join(
            f"{name} {loss_at(points, e):.4f}" for name, points in curves.items() if loss_at(points, e) is not None))
    for name, points in curves.items():
        if name != "nanogpt":
            reached = [f"{target:.2f} in {'never' if (t := time_to(points, target)) is None else f'{t:.1f} s'}"
                       for target in TARGETS]
            parts.append(f"{name}: " + ", ".join(reached))
    print("summary: " + "; ".join(parts))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("nanogpt", type=Path, help="Path of a local nanoGPT checkout (karpathy/nanoGPT).")
    parser.add_argument("text", type=Path, help="Tiny Shakespeare (input.txt of char-rnn).")
    parser.add_argument("--runs", default="nanogpt,fast-cpu",
                        help="Comma-separated: nanogpt and/or mygpt recipe names. Default: nanogpt,fast-cpu.")
    parser.add_argument("--every", type=float, default=10.0, help="Seconds between weight copies. Default: 10.")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall",
                        help="Training time as the wall clock (default; the targets' measure, for a quiet machine) or "
                             "the process's CPU time (with OMP_NUM_THREADS=1 the work itself: steadier on a busy machine).")
    parser.add_argument("--out", type=Path, default=Path("time_to_loss"), help="Folder for the curves and plot.")
    parser.add_argument("--steps", type=int, default=None,
                        help="Cut every run to this many steps (a quick check of the machinery, not the recipes).")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--marks", type=float, nargs="*", default=[], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return
    args.nanogpt, args.text = args.nanogpt.resolve(), args.text.resolve()
    if not (args.nanogpt / "train.py").is_file():
        sys.exit(f"time_to_loss: no train.py in {args.nanogpt}; pass a nanoGPT checkout")
    args.out.mkdir(parents=True, exist_ok=True)
    curves, ends = {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        prepare_data(args.text, work)
        link_checkout(args.nanogpt, work)
        for name in args.runs.split(","):
            marks = [ends["nanogpt"]["train_s"]] if "nanogpt" in ends else []
            curves[name], ends[name] = run_worker(name, args, work, marks)
            for point in curves[name]:
                print(json.dumps(point), flush=True)
            print(json.dumps({"end": ends[name]}), flush=True)
            write_metrics(curves[name], args.out / f"{name}.metrics.jsonl")
    report(curves, ends, args.every)
    plot = args.out / "time_to_loss.png"
    subprocess.run([sys.executable, "-m", "mygpt", "plot", *(str(args.out / f"{n}.metrics.jsonl") for n in curves),
                    "--x", "time", "--out", str(plot)], check=False, stdout=subprocess.DEVNULL)


if __name__ == "__main__":
    main()
