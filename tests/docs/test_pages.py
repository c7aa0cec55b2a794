"""The README and every docs/ page run as written: their Python blocks execute, their ``mygpt`` commands
parse.

Each page's Python blocks run in order in one namespace, in a scratch directory holding a small
``my_text.txt`` (the pages' own example file). Shell lines that call ``mygpt`` are parsed by the real
argument parser, so a renamed or misspelt flag fails here; running them all would mean hours of
training.
"""

import contextlib
import re
import shlex
from pathlib import Path

import pytest

from mygpt.cli import _build_parser
from mygpt.data.corpus import builtin_text

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
# What a page's Python prints when its blocks ran to the end (pages without Python blocks are absent).
PRINTS = {"README.md": ["To "], "python.md": ["parameters", "step   500: loss = ", "positions cached", "bpe "]}


def _blocks(page: Path, language: str) -> list[str]:
    text = page.read_text(encoding="utf-8")
    return re.findall(rf"^```{language}\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)


def _name(page: Path) -> str:
    return page.name


def test_every_page_with_python_is_run():
    assert sorted(page.name for page in PAGES if _blocks(page, "python")) == sorted(PRINTS)


@pytest.mark.parametrize("page", [ROOT / "README.md"], ids=_name)
def test_readme_python_runs(page, tmp_path, capsys):
    _run_python(page, tmp_path, capsys)


@pytest.mark.slow
@pytest.mark.parametrize("page", [p for p in PAGES if p.name in PRINTS and p.name != "README.md"], ids=_name)
def test_docs_python_runs_in_order(page, tmp_path, capsys):
    _run_python(page, tmp_path, capsys)


def _run_python(page: Path, tmp_path: Path, capsys) -> None:
    (tmp_path / "my_text.txt").write_text(builtin_text()[:60_000], encoding="utf-8")
    namespace: dict = {}
    with contextlib.chdir(tmp_path):
        for block in _blocks(page, "python"):
            exec(compile(block, page.name, "exec"), namespace)  # noqa: S102 - running the page is the point
    out = capsys.readouterr().out
    assert all(fragment in out for fragment in PRINTS[page.name]), out[-2000:]


def _mygpt_commands() -> list[tuple[str, list[str]]]:
    commands = []
    for page in PAGES:
        for block in _blocks(page, "bash"):
            for line in block.replace("\\\n", " ").splitlines():
                line = line.split(" #")[0].strip()
                if line.startswith(("mygpt ", "torchrun ")) and "--nproc" not in line:
                    commands.append((page.name, shlex.split(line)[1:]))
    return commands


@pytest.mark.parametrize("page, argv", _mygpt_commands(), ids=lambda x: " ".join(x)[:60] if isinstance(x, list) else x)
def test_shell_commands_parse(page, argv):
    _build_parser().parse_args(argv)
