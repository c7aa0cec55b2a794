"""The live progress bar: on a terminal's stderr only, and never a byte of difference on stdout."""

import io
import subprocess
import sys

import pytest

from mygpt.cli import main

TEXT = "To be, or not to be, that is the question.\n" * 40
TINY = ["--steps", "12", "--print-every", "4", "--batch-size", "2", "--seq-len", "8", "--max-seq-len", "8",
        "--embed-dim", "8", "--num-heads", "2", "--num-layers", "1", "--device", "cpu",
        "--checkpoint-every", "5"]


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def text_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "text.txt").write_text(TEXT, encoding="utf-8")
    return "text.txt"


def test_bar_on_a_terminal_leaves_stdout_unchanged(text_file, monkeypatch, capsys):
    main(["train", text_file, *TINY])
    plain_out, plain_err = capsys.readouterr()
    assert plain_err == ""

    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    main(["train", text_file, *TINY])
    assert capsys.readouterr().out == plain_out
    shown = terminal.getvalue()
    assert "train:" in shown and "12/12" in shown and "tok/s" in shown and "loss " in shown


def test_no_progress_output_on_a_pipe(text_file):
    result = subprocess.run([sys.executable, "-m", "mygpt", "train", text_file, *TINY],
                            check=False, capture_output=True, text=True)
    assert result.returncode == 0 and result.stderr == ""
    assert [line[:10] for line in result.stdout.splitlines() if line.startswith("step ")] == [
        "step     1", "step     4", "step     8", "step    12"]
    assert "  [checkpoint saved at step 10]\n" in result.stdout
