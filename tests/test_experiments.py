"""Every experiment script of the book prints its golden (golden/COMMANDS.md §1).

The scripts share one working directory per module, as in the book: 29-33 read ``trained_gpt.pt``
from 28, 40 reads 39's model and tokenizer, 43 and 44 read 42's ``shakespeare.bpe.json``. A test
runs its prerequisites first if they have not run yet, so any subset can be selected. 45 and 46 run
on Tiny Shakespeare standing in for ``wikipedia.txt`` (the ``.substitute`` goldens).
"""

import shutil
from pathlib import Path

import pytest
from conftest import shakespeare_path
from experiment_scripts import EXPERIMENTS_DIR, run_script
from goldens import assert_matches_golden

NAMES = sorted(p.stem for p in EXPERIMENTS_DIR.glob("[0-9][0-9]_*.py"))
PREREQUISITES = {"29": "28", "30": "28", "31": "28", "32": "28", "33": "28",
                 "40": "39", "43": "42", "44": "42"}
NEEDS_SHAKESPEARE = {"38", "39", "40", "42", "43", "44", "45", "46"}
SLOW = {"39", "40"}  # the 2000-step Shakespeare training (~75 s on 2 cores) and its sample


class Workspace:
    """A working directory plus the outputs of the scripts already run in it."""

    def __init__(self, directory: Path):
        self.directory = directory
        self.outputs: dict[str, str] = {}

    def output(self, name: str) -> str:
        number = name[:2]
        if number not in self.outputs:
            if number in PREREQUISITES:
                self.output(PREREQUISITES[number])
            self.outputs[number] = run_script(EXPERIMENTS_DIR / f"{_full_name(number)}.py", self.directory)
        return self.outputs[number]


def _full_name(number: str) -> str:
    return next(n for n in NAMES if n.startswith(number))


@pytest.fixture(scope="module")
def book_dir(tmp_path_factory) -> Workspace:
    directory = tmp_path_factory.mktemp("experiments")
    source = shakespeare_path()
    if source is not None:
        shutil.copy(source, directory / "tinyshakespeare.txt")
    return Workspace(directory)


@pytest.fixture(scope="module")
def wiki_dir(tmp_path_factory) -> Workspace:
    directory = tmp_path_factory.mktemp("wikipedia")
    source = shakespeare_path()
    if source is not None:
        shutil.copy(source, directory / "wikipedia.txt")
    return Workspace(directory)


def _param(name: str):
    marks = [pytest.mark.slow] if name[:2] in SLOW else []
    return pytest.param(name, marks=marks, id=name)


def test_all_46_experiments_exist():
    assert [n[:2] for n in NAMES] == [f"{i:02d}" for i in range(1, 47)]


@pytest.mark.parametrize("name", [_param(n) for n in NAMES])
def test_experiment_matches_golden(name, book_dir, wiki_dir):
    if name[:2] in NEEDS_SHAKESPEARE and shakespeare_path() is None:
        pytest.skip("Tiny Shakespeare not found: set MYGPT_SHAKESPEARE=/path/to/tinyshakespeare.txt")
    if name[:2] in ("45", "46"):
        assert_matches_golden(wiki_dir.output(name), f"experiments/{name}.substitute.txt")
    else:
        assert_matches_golden(book_dir.output(name), f"experiments/{name}.txt")


def test_files_written_along_the_way(book_dir):
    """COMMANDS.md §1: tokenizer.json 51 bytes; shakespeare.bpe.json 7,167 bytes."""
    book_dir.output("36")
    assert (book_dir.directory / "tokenizer.json").stat().st_size == 51
    if shakespeare_path() is not None:
        book_dir.output("42")
        assert (book_dir.directory / "shakespeare.bpe.json").stat().st_size == 7167
