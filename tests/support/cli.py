"""What the command-line tests share: a small text, tiny-model flags, and ways to run ``mygpt``."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mygpt.cli import main

TEXT = "To be, or not to be, that is the question.\n" * 40
TINY = ["--steps", "2", "--print-every", "1", "--batch-size", "2", "--seq-len", "8", "--max-seq-len", "8",
        "--embed-dim", "8", "--num-heads", "2", "--num-layers", "1", "--device", "cpu"]


def run_mygpt(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """``python -m mygpt ARGS`` as the goldens were captured: 80 columns, UTF-8, stdout to a pipe."""
    env = {**os.environ, "COLUMNS": "80", "LANG": "C.UTF-8", "PYTHONIOENCODING": "utf-8"}
    return subprocess.run([sys.executable, "-m", "mygpt", *args], check=False, cwd=cwd, env=env,
                          capture_output=True, text=True, encoding="utf-8")


def fails_cleanly(argv: list[str], capsys, *fragments: str) -> str:
    """Run ``mygpt ARGV`` in-process; assert exit 2, nothing on stdout, one stderr line; return it."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    out, err = capsys.readouterr()
    assert exit_info.value.code == 2
    assert out == ""
    assert err.startswith("mygpt: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, err
    return err
