"""The README's code runs as written: its Python blocks execute, its ``mygpt`` commands parse.

The Python blocks run in order in one namespace, in a scratch directory holding a small
``my_text.txt`` (the README's own example file). Shell lines that call ``mygpt`` are parsed by the
real argument parser, so a renamed or misspelt flag fails here; running them all would mean hours
of training.
"""

import contextlib
import re
import shlex
from pathlib import Path

import pytest

from mygpt.cli import _build_parser
from mygpt.data.corpus import builtin_text

README = Path(__file__).resolve().parents[2] / "README.md"


def _blocks(language: str) -> list[str]:
    text = README.read_text(encoding="utf-8")
    return re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)


@pytest.mark.slow
def test_python_blocks_run_in_order(tmp_path, capsys):
    (tmp_path / "my_text.txt").write_text(builtin_text()[:60_000], encoding="utf-8")
    namespace: dict = {}
    with contextlib.chdir(tmp_path):
        for block in _blocks("python"):
            exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102 - running the README is the point
    out = capsys.readouterr().out
    assert "parameters" in out and "step   500: loss = " in out and "positions cached" in out


def _mygpt_commands() -> list[list[str]]:
    commands = []
    for block in _blocks("bash"):
        for line in block.replace("\\\n", " ").splitlines():
            line = line.split(" #")[0].strip()
            if line.startswith(("mygpt ", "torchrun ")) and "--nproc" not in line:
                words = shlex.split(line)
                commands.append(words[1:])
    return commands


@pytest.mark.parametrize("argv", _mygpt_commands(), ids=lambda argv: " ".join(argv)[:60])
def test_shell_commands_parse(argv):
    _build_parser().parse_args(argv)
