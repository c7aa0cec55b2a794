"""The live progress bar: on a terminal's stderr only, and never a byte of difference on stdout."""

import io
import sys

import pytest
from support.cli import TEXT

from mygpt.cli import main
from mygpt.train import progress

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


def test_a_terminal_that_reports_zero_columns_still_shows_the_bar(text_file, monkeypatch, capsys):
    """``script -qc ...`` terminals report 0 columns; the bar falls back to 80 instead of vanishing."""
    monkeypatch.setattr(progress, "_terminal_width", lambda stream: 0)
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    main(["train", text_file, *TINY])
    shown = terminal.getvalue()
    assert "12/12" in shown and "tok/s" in shown


def test_no_progress_output_off_a_terminal(text_file, capsys):
    """stderr that is not a terminal (a pipe, a file, a test's capture) gets no bar at all."""
    main(["train", text_file, *TINY])
    out, err = capsys.readouterr()
    assert err == ""
    assert [line[:10] for line in out.splitlines() if line.startswith("step ")] == [
        "step     1", "step     4", "step     8", "step    12"]
    assert "  [checkpoint saved at step 10]\n" in out
