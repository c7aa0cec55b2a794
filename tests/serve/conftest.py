"""One pair of tiny checkpoints per session for the tests of ``mygpt serve`` (char and BPE tokenizers)."""

import contextlib
import io
from pathlib import Path

import pytest
import torch
from support.cli import TEXT

from mygpt.cli import main

# Two layers and a 16-token window: enough for layer choices and a window that crops.
SHAPE = ["--steps", "12", "--print-every", "12", "--batch-size", "4", "--seq-len", "16", "--max-seq-len", "16",
         "--embed-dim", "16", "--num-heads", "2", "--num-layers", "2", "--device", "cpu"]


@pytest.fixture(scope="session")
def checkpoints(tmp_path_factory) -> Path:
    """A folder with ``text.txt`` and two trained checkpoints of it: ``char.ckpt`` and ``bpe.ckpt``."""
    pytest.importorskip("starlette", reason="mygpt[serve] is not installed")
    folder = tmp_path_factory.mktemp("serve")
    (folder / "text.txt").write_text(TEXT, encoding="utf-8")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: a second thread only costs time, a lot on a busy machine
    try:
        with contextlib.chdir(folder), contextlib.redirect_stdout(io.StringIO()):
            main(["train", "text.txt", *SHAPE, "--output", "char.ckpt"])
            main(["train", "text.txt", *SHAPE, "--tokenizer", "bpe", "--num-merges", "12", "--output", "bpe.ckpt"])
    finally:
        torch.set_num_threads(threads)
    return folder
