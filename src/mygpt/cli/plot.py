"""``mygpt plot``: loss, validation loss and learning rate of one or more training runs, as a figure."""

import argparse
import os

from ..analysis.plots import plot_runs
from ..errors import MyGPTError
from ..train.metrics import metrics_path, read_metrics
from .checks import check_figure_path

DESCRIPTION = ("Plot the training loss, validation loss and learning rate of one or more runs against "
               "steps (or training time, --x time), from the metrics file (NAME.metrics.jsonl) that `mygpt train` writes beside its "
               "checkpoint. Several runs are drawn side by side in one figure. Needs matplotlib "
               "(pip install 'mygpt[plot]').")


def add_parser(sub) -> None:
    """Register ``mygpt plot``."""
    p = sub.add_parser("plot", help="Plot loss and learning-rate curves of training runs.",
                       description=DESCRIPTION)
    p.add_argument("runs", nargs="+", metavar="RUN",
                   help="A run: its checkpoint (the metrics file beside it is read) or its .metrics.jsonl file.")
    p.add_argument("--out", default="loss.png",
                   help="Figure to write (.png, .svg or .pdf). Default: loss.png.")
    p.add_argument("--x", choices=["step", "time"], default="step",
                   help="What the x-axis shows: the step (default) or the training time in seconds "
                        "(the records' elapsed_s).")
    p.add_argument("--label", action="append", default=None,
                   help="Legend name of a run, once per RUN in order. Default: the file names.")
    p.set_defaults(func=_plot_command)


def resolve_metrics(run: str) -> str:
    """The metrics file of ``run``: the file itself if it is one, else the one beside the checkpoint."""
    path = run if run.endswith(".jsonl") else metrics_path(run)
    if not os.path.isfile(path):
        hint = "" if path == run else f" (expected {path} beside the checkpoint)"
        raise MyGPTError(f"no metrics file for {run}{hint}; metrics are written by `mygpt train`")
    return path


def _label(run: str) -> str:
    """``runs/rms.ckpt`` and ``runs/rms.metrics.jsonl`` are both ``rms``."""
    name = os.path.basename(run)
    return name.removesuffix(".metrics.jsonl") if name.endswith(".metrics.jsonl") else os.path.splitext(name)[0]


def _plot_command(args: argparse.Namespace) -> None:
    check_figure_path(args.out)
    labels = args.label or [_label(run) for run in args.runs]
    if len(labels) != len(args.runs):
        raise MyGPTError(f"{len(labels)} --label for {len(args.runs)} runs; give one --label per RUN")
    runs = {}
    for run, label in zip(args.runs, labels):
        records = read_metrics(resolve_metrics(run))
        if not records:
            raise MyGPTError(f"the metrics file of {run} has no records yet")
        runs[label if label not in runs else run] = records
    plot_runs(runs, args.out, x=args.x)
    print(f"wrote {args.out} ({len(runs)} run{'s' * (len(runs) > 1)})")
