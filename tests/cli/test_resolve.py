"""Every verb reads its arguments once: the ``Namespace`` argparse made is never written to afterwards.

Each command runs in-process with a ``Namespace`` sealed once parsing is over; a verb that stored a
default, a derived value or a rewritten option on it would fail here. Whatever the verb then decides
(it may refuse the tiny inputs in one line) is not the point: only that it never writes.
"""

import argparse

import pytest
from support.cli import TEXT, TINY

from mygpt import cli


class SealedNamespace(argparse.Namespace):
    """An ``argparse.Namespace`` that refuses every write once ``seal`` was called."""

    def seal(self) -> None:
        self.__dict__["_sealed"] = True

    def __setattr__(self, name, value):
        if self.__dict__.get("_sealed"):
            raise AssertionError(f"the command wrote args.{name} = {value!r} after parsing")
        super().__setattr__(name, value)

    def __delattr__(self, name):
        raise AssertionError(f"the command deleted args.{name} after parsing")


def _run_sealed(argv: list[str], monkeypatch) -> None:
    """``mygpt ARGV`` with a sealed ``Namespace``; a refusal (exit 2) is fine, a write is not."""
    build = cli._build_parser

    def sealed_parser() -> argparse.ArgumentParser:
        parser = build()
        parse = parser.parse_args

        def parse_sealed(args=None, namespace=None):
            namespace = parse(args, SealedNamespace())
            namespace.seal()
            return namespace

        parser.parse_args = parse_sealed
        return parser

    monkeypatch.setattr(cli, "_build_parser", sealed_parser)
    try:
        cli.main(argv)
    except SystemExit as exit_info:
        assert exit_info.code == 2


# One command line per verb (the files are made by the fixture); together they cover every verb.
COMMAND_LINES = {
    "train": [["train", "text.txt", *TINY, "--output", "a.ckpt"],
              ["train", "text.txt", *TINY[:6], "--init", "tiny.ckpt", "--device", "cpu", "--output", "b.ckpt"],
              ["train", "text.txt", *TINY, "--steps", "3", "--resume", "tiny.ckpt", "--output", "c.ckpt"]],
    "generate": [["generate", "--checkpoint", "tiny.ckpt", "--prompt", "To", "--max-new-tokens", "3",
                  "--num-samples", "2", "--stop", r"\n", "--fast", "--device", "cpu"]],
    "prepare": [["prepare", "text.txt", "--out", "prepared", "--workers", "1"]],
    "demo": [["demo", "--chapter", "5"]],
    "bench": [["bench", "--quick", "--json"]],
    "import-hf": [["import-hf", "hf", "--output", "imported.ckpt"]],
    "export-hf": [["export-hf", "tiny.ckpt", "hf2"]],
    "eval": [["eval", "text.txt", "--checkpoint", "tiny.ckpt"]],
    "info": [["info", "tiny.ckpt"]],
    "plot": [["plot", "tiny.ckpt", "--out", "loss.png"]],
    "attention": [["attention", "--checkpoint", "tiny.ckpt", "--prompt", "To be", "--out", "att.png"]],
}


def test_every_verb_has_a_command_line_here():
    assert set(COMMAND_LINES) == set(cli.COMMANDS)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("sealed")
    (folder / "text.txt").write_text(TEXT, encoding="utf-8")
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)
        cli.main(["train", "text.txt", *TINY, "--output", "tiny.ckpt"])
        cli.main(["export-hf", "tiny.ckpt", "hf"])
    return folder


@pytest.mark.parametrize("argv", [argv for lines in COMMAND_LINES.values() for argv in lines],
                         ids=lambda argv: " ".join(argv[:2]))
def test_no_verb_writes_to_its_namespace(argv, files, monkeypatch, capsys):
    monkeypatch.chdir(files)
    if argv[0] == "bench":  # the measurement itself is tests/bench's; here only how the verb reads its flags
        monkeypatch.setattr("mygpt.cli.bench.run", lambda **options: {"options": sorted(options)})
    _run_sealed(argv, monkeypatch)
