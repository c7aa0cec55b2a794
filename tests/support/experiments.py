"""Run the book's experiment scripts in-process and capture their stdout.

In-process (``runpy``) instead of one interpreter per script saves a torch import per script; each
script seeds the generator itself, so the outputs are those of ``python experiments/NN_name.py``.
"""

import contextlib
import io
import runpy
from pathlib import Path

import torch

EXPERIMENTS_DIR = Path(__file__).resolve().parents[2] / "experiments"
NAMES = sorted(p.stem for p in EXPERIMENTS_DIR.glob("[0-9][0-9]_*.py"))
# Scripts that read what an earlier one wrote: 29-33 read 28's trained_gpt.pt, 40 reads 39's model and
# tokenizer, 43 and 44 read 42's shakespeare.bpe.json.
PREREQUISITES = {"29": "28", "30": "28", "31": "28", "32": "28", "33": "28",
                 "40": "39", "43": "42", "44": "42"}


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


class Workspace:
    """A working directory plus the outputs of the scripts already run in it (each runs once)."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.outputs: dict[str, str] = {}

    def output(self, name: str) -> str:
        """The stdout of experiment ``name`` (``"28"`` or ``"28_train_gpt"``), running its prerequisites first."""
        number = name[:2]
        if number not in self.outputs:
            if number in PREREQUISITES:
                self.output(PREREQUISITES[number])
            self.outputs[number] = run_script(experiment_path(number), self.directory)
        return self.outputs[number]
