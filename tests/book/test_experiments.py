"""Every experiment script of the book prints its golden (the book's outputs, wall-clock seconds masked).

The scripts share one working directory per session (``book_dir``), as in the book: a test runs its
prerequisites first if they have not run yet, so any subset can be selected. 45 and 46 run on Tiny
Shakespeare standing in for ``wikipedia.txt`` (the ``.substitute`` goldens).
"""

import shutil

import pytest
from support.data import SKIP_NO_SHAKESPEARE, shakespeare_path
from support.experiments import NAMES, Workspace
from support.goldens import assert_matches_golden

NEEDS_SHAKESPEARE = {"38", "39", "40", "42", "43", "44", "45", "46"}
SLOW = {"39", "40"}  # the 2000-step Shakespeare training and its sample


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
        pytest.skip(SKIP_NO_SHAKESPEARE)
    if name[:2] in ("45", "46"):
        assert_matches_golden(wiki_dir.output(name), f"experiments/{name}.substitute.txt")
    else:
        assert_matches_golden(book_dir.output(name), f"experiments/{name}.txt")


def test_files_written_along_the_way(book_dir):
    """tokenizer.json is 51 bytes; shakespeare.bpe.json 7,167 bytes (the book's sizes)."""
    book_dir.output("36")
    assert (book_dir.directory / "tokenizer.json").stat().st_size == 51
    if shakespeare_path() is not None:
        book_dir.output("42")
        assert (book_dir.directory / "shakespeare.bpe.json").stat().st_size == 7167
