"""Run the book's experiment scripts in-process and capture their stdout.

In-process (``runpy``) instead of one interpreter per script saves a torch import per script; each
script seeds the generator itself, so the outputs are those of ``python experiments/NN_name.py``.
"""

import contextlib
import io
import runpy
from pathlib import Path

import torch

EXPERIMENTS_DIR = Path(__file__).resolve().parent.parent / "experiments"


def experiment_path(name: str) -> Path:
    """``"28"`` or ``"28_train_gpt"`` -> the script's path."""
    (path,) = EXPERIMENTS_DIR.glob(f"{name.split('_')[0]}_*.py")
    return path


def run_script(path: Path, workdir: Path) -> str:
    """Run ``path`` as ``__main__`` with ``workdir`` as the working directory; return its stdout."""
    out = io.StringIO()
    try:
        with contextlib.chdir(workdir), contextlib.redirect_stdout(out):
            runpy.run_path(str(path), run_name="__main__")
    finally:
        torch.set_printoptions(profile="default")
    return out.getvalue()
