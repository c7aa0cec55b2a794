"""``--help`` keeps every option line of the book, and says what every option means and defaults to."""

import argparse
import re
import sys

import pytest
from support.goldens import golden_text

from mygpt import __version__
from mygpt.cli import COMMANDS, _build_parser, main
from mygpt.tokenizer import TOKENIZERS


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


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_option_says_what_it_does(command, monkeypatch, capsys):
    text = _help(monkeypatch, capsys, command)
    blocks = re.split(r"\n(?=  -)", text.split("options:\n", 1)[1])
    for block in blocks:
        assert len(block.split()) > 2, f"{command}: option without help: {block!r}"


def _command_parsers() -> dict[str, argparse.ArgumentParser]:
    parser = _build_parser()
    return next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices


def _rendered(parser: argparse.ArgumentParser, action: argparse.Action) -> str:
    """The lines ``--help`` shows for one option (its option line and its help), on one line."""
    formatter = parser._get_formatter()
    formatter.add_arguments(parser._actions)  # the column widths of the whole help
    return " ".join(formatter._format_action(action).split())


def _shown(value) -> set[str]:
    return {str(value), f"{value:,}"} if isinstance(value, int) else {str(value)}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_every_option_of_every_command_states_its_default_or_that_it_has_none(command, monkeypatch):
    """Walks every option of every command in ``COMMANDS`` (new ones included the day they are added): its
    help says its default ("Default: X", "(default)", "Default: none") or that it is required; a value
    argparse falls back on is the one shown; every choice (a word) is named."""
    monkeypatch.setenv("COLUMNS", "80")
    parser = _command_parsers()[command]
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
            continue
        if not action.option_strings and action.nargs not in ("?", "*"):
            continue  # a positional that must be given has no default
        name = f"mygpt {command} {(action.option_strings or [action.dest])[0]}"
        text = _rendered(parser, action)
        assert re.search(r"\bdefault|\brequired", text, re.IGNORECASE), f"{name}: no default stated: {text!r}"
        if not action.required and action.default not in (None, False, [], argparse.SUPPRESS):
            assert any(shown in text for shown in _shown(action.default)), f"{name}: default {action.default!r} " \
                f"not shown: {text!r}"
        for choice in [c for c in action.choices or () if isinstance(c, str)]:  # numbers: a range, e.g. 2-13
            assert choice in text, f"{name}: choice {choice!r} not shown: {text!r}"


def test_tokenizer_kinds_and_the_bpe_options_read_the_same_in_train_and_prepare(monkeypatch, capsys):
    train, prepare = (" ".join(_help(monkeypatch, capsys, command).split()) for command in ("train", "prepare"))
    for kind in TOKENIZERS:
        assert f"'{kind}'" in train and f"'{kind}'" in prepare
    merging = " and ".join(f"'{k}'" for k, cls in TOKENIZERS.items() if cls.learns_merges)
    assert f"Every kind that learns merges uses it: {merging}." in train and merging in prepare
    unit = "N counts the text's characters (the book's text[:N]), which are its bytes when it is ASCII"
    assert unit in train and unit in prepare
    assert "about a minute" not in train


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

