"""``mygpt demo [--chapter N]`` prints the book's chapter demos exactly (golden/demo/chNN.txt)."""

import sys

import pytest
from support.goldens import assert_matches_golden

from mygpt.cli import main


def _run_cli(monkeypatch, capsys, *args: str) -> str:
    monkeypatch.setattr(sys, "argv", ["mygpt", *args])
    main()
    return capsys.readouterr().out


@pytest.mark.parametrize("chapter", range(2, 14))
def test_chapter_demo(chapter, monkeypatch, capsys):
    out = _run_cli(monkeypatch, capsys, "demo", "--chapter", str(chapter))
    assert_matches_golden(out, f"demo/ch{chapter:02d}.txt")


def test_default_demo_is_chapter_13(monkeypatch, capsys):
    assert_matches_golden(_run_cli(monkeypatch, capsys, "demo"), "demo/ch13.txt")


def test_unknown_chapter_is_a_usage_error(monkeypatch, capsys):
    with pytest.raises(SystemExit) as exit_info:
        _run_cli(monkeypatch, capsys, "demo", "--chapter", "14")
    assert exit_info.value.code == 2
    assert "invalid choice" in capsys.readouterr().err
