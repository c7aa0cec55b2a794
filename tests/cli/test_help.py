"""``--help`` keeps every option line of the book, and says what every option means and defaults to."""

import re
import sys

import pytest
from support.goldens import golden_text

from mygpt import __version__
from mygpt.cli import main


def _help(monkeypatch, capsys, *args: str) -> str:
    """``mygpt ARGS --help`` as the goldens were captured (80 columns)."""
    monkeypatch.setenv("COLUMNS", "80")
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "--help"])
    assert exit_info.value.code == 0
    out, err = capsys.readouterr()
    assert err == ""
    return out


def _option_lines(help_text: str) -> list[str]:
    """The help's lines after the usage block, minus the sub-command choice list (new commands grow it)."""
    lines = help_text.split("\n")
    body = lines[lines.index("") + 1:]
    return [line for line in body if not line.strip().startswith("{")]


def _assert_in_order(expected: list[str], actual: list[str]) -> None:
    position = 0
    for line in expected:
        assert line in actual[position:], f"help line missing or out of order: {line!r}"
        position = actual.index(line, position) + 1


@pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="help goldens are Python 3.11 argparse output")
@pytest.mark.parametrize("args, golden", [([], "help.txt"), (["train"], "train_help.txt"),
                                          (["generate"], "generate_help.txt")])
def test_help_keeps_every_option_line_of_the_book(args, golden, monkeypatch, capsys):
    expected, actual = _option_lines(golden_text(f"cli/{golden}")), _help(monkeypatch, capsys, *args).split("\n")
    if golden == "help.txt":  # a new sub-command widens the command column: compare words only
        expected, actual = [" ".join(x.split()) for x in expected], [" ".join(x.split()) for x in actual]
    _assert_in_order(expected, actual)


@pytest.mark.parametrize("command", ["train", "generate", "demo", "bench", "prepare", "eval", "info", "plot",
                                     "attention"])
def test_every_option_says_what_it_does(command, monkeypatch, capsys):
    text = _help(monkeypatch, capsys, command)
    blocks = re.split(r"\n(?=  -)", text.split("options:\n", 1)[1])
    for block in blocks:
        assert len(block.split()) > 2, f"{command}: option without help: {block!r}"


def test_defaults_and_the_difference_between_the_two_lengths_are_explained(monkeypatch, capsys):
    train = " ".join(_help(monkeypatch, capsys, "train").split())
    assert "--steps STEPS Optimisation steps to run" in train and "Default: 2000" in train
    assert "context window --max-seq-len" in train and "Context window: the most tokens" in train
    assert "--seed SEED" in train
    generate = " ".join(_help(monkeypatch, capsys, "generate").split())
    assert "k most likely tokens. Default: 10." in generate
    bench = " ".join(_help(monkeypatch, capsys, "bench").split())
    assert "minutes" in bench and "exact, fast and fast+bf16" in bench


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0 and capsys.readouterr().out == f"mygpt {__version__}\n"

