"""Figures of what a model does: loss curves of runs, and attention maps (needs ``mygpt[plot]``).

matplotlib is an optional extra: it is imported only when a figure is drawn, and its absence is a
``MissingExtraError`` that says how to install it. Figures are drawn without pyplot (no GUI backend,
no global state) and written in the format the output's extension names (``.png``, ``.svg``, ``.pdf``).
"""

import math
import os

import torch

from ..errors import MissingExtraError, OutputError
from ..files.outputs import OutputKind, write_output

PLOT_EXTRA_HINT = "plotting needs matplotlib: pip install 'mygpt[plot]'"
FIGURE_FORMATS = (".png", ".svg", ".pdf")
# Every figure mygpt draws names it as its creator (PNG text chunk, SVG metadata, PDF info), which is
# how it recognises a figure it may replace.
FIGURE_MARK = "mygpt figure"
_MARK_SEARCH_BYTES = 64 << 20


def _is_our_figure(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return FIGURE_MARK.encode() in f.read(_MARK_SEARCH_BYTES)
    except OSError:
        return False


FIGURE = OutputKind("a figure drawn by mygpt", "figures", _is_our_figure, OutputError)


def save_figure(fig, out: str) -> None:
    """Write ``fig`` to ``out`` in the format its extension names, the guarded way (``files.outputs``):
    never over a file that is not a mygpt figure, atomically, marked as mygpt's."""
    ext = os.path.splitext(out)[1].lower()
    if ext not in FIGURE_FORMATS:
        raise ValueError(f"a figure must end in {', '.join(FIGURE_FORMATS)} (got {out})")
    write_output(out, FIGURE, lambda f: fig.savefig(f, format=ext[1:], metadata={"Creator": FIGURE_MARK}))


def _figure(**kwargs):
    """A new matplotlib ``Figure``; a missing matplotlib raises ``MissingExtraError`` with the hint."""
    try:
        from matplotlib.figure import Figure
    except ImportError as err:
        raise MissingExtraError(PLOT_EXTRA_HINT) from err
    return Figure(**kwargs)


def _wants_log_scale(values: list[float]) -> bool:
    """Log-scale a loss axis when its values span more than a factor of 5 (e.g. the book's 41 -> 1.5)."""
    positive = [v for v in values if v is not None and v > 0]
    return bool(positive) and max(positive) / min(positive) > 5


def plot_runs(runs: dict[str, list[dict]], out: str) -> None:
    """Loss (solid), validation loss (dashed) and learning rate against steps, one colour per run.

    ``runs`` maps a label to the records of its metrics file (``mygpt.metrics.read_metrics``).
    """
    fig = _figure(figsize=(11, 4.2), dpi=100, layout="constrained")
    loss_ax, lr_ax = fig.subplots(1, 2, width_ratios=[2, 1])
    all_losses = []
    for i, (label, records) in enumerate(runs.items()):
        color = f"C{i % 10}"
        steps = [r["step"] for r in records]
        losses = [r.get("loss") for r in records]
        loss_ax.plot(steps, losses, color=color, label=f"{label} loss")
        validated = [(r["step"], r["val_loss"]) for r in records if r.get("val_loss") is not None]
        if validated:
            loss_ax.plot(*zip(*validated), color=color, linestyle="--", marker=".", label=f"{label} val loss")
        lr_ax.plot(steps, [r.get("lr") for r in records], color=color, label=label)
        all_losses += losses + [v for _, v in validated]
    if _wants_log_scale(all_losses):
        from matplotlib.ticker import FuncFormatter

        loss_ax.set_yscale("log")
        for set_formatter in (loss_ax.yaxis.set_major_formatter, loss_ax.yaxis.set_minor_formatter):
            set_formatter(FuncFormatter(lambda value, _: f"{value:g}"))  # 2, 3, 40 rather than 4 x 10^1
    lr_ax.set_ylim(bottom=0)
    lr_ax.ticklabel_format(axis="y", style="sci", scilimits=(0, 0))
    loss_ax.set(title="Loss", xlabel="step", ylabel="cross-entropy loss (nats/token)")
    lr_ax.set(title="Learning rate", xlabel="step", ylabel="lr")
    for ax in (loss_ax, lr_ax):
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize="small")
    save_figure(fig, out)


def token_label(text: str) -> str:
    """A token as an axis label: whitespace made visible (``␣``, ``\\n``, ``\\t``)."""
    return text.replace(" ", "␣").replace("\n", "\\n").replace("\t", "\\t")


def plot_attention(weights: torch.Tensor, tokens: list[str], out: str, title: str,
                   head_names: list[str]) -> None:
    """Heatmaps of ``weights`` ``(panels, T, T)``, one panel per head, ``tokens`` on both axes.

    Rows are the attending (query) positions, columns the attended (key) positions; the masked
    future above the diagonal is left blank. One colour scale (0 to 1) serves every panel.
    """
    panels, T, _ = weights.shape
    cols = math.ceil(math.sqrt(panels))  # a near-square grid: 4 heads in 2 x 2
    rows = math.ceil(panels / cols)
    side = min(max(3.0, 0.12 * T + 1.5), 8.0)
    fig = _figure(figsize=(side * cols + 1.0, side * rows + 0.6), dpi=100, layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).flatten()
    future = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
    labels = [token_label(t) for t in tokens]
    fontsize = max(5.0, min(10.0, 300 / T))
    image = None
    for i, (ax, head, name) in enumerate(zip(axes, weights, head_names)):
        image = ax.imshow(head.masked_fill(future, float("nan")).numpy(), cmap="viridis", vmin=0.0, vmax=1.0)
        ax.set_title(name)
        ax.set_xticks(range(T), labels, rotation=90, fontsize=fontsize)
        ax.set_yticks(range(T), labels, fontsize=fontsize)
        if i + cols >= panels:  # the lowest panel of its column
            ax.set_xlabel("attended-to token (key)")
        if i % cols == 0:
            ax.set_ylabel("attending token (query)")
    for ax in axes[panels:]:
        ax.set_visible(False)
    fig.colorbar(image, ax=axes[:panels].tolist(), shrink=0.8, label="attention weight")
    fig.suptitle(title)
    save_figure(fig, out)
