"""``mygpt train DIR`` checks a prepared folder before training: meta.json, every shard's size, where the
shards are, and that tokenizer.json is the one the shards were made with; one line for each problem."""

import json
import shutil
from pathlib import Path

import pytest
from support.cli import TEXT, TINY, fails_cleanly

from mygpt.data.prepare import prepare
from mygpt.data.shards import load_prepared
from mygpt.errors import CorpusError


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("prepared")
    (root / "text.txt").write_text(TEXT, encoding="utf-8")
    prepare([str(root / "text.txt")], str(root / "p"), val_split=0.2, workers=1)
    prepare([str(root / "text.txt")], str(root / "other"), tokenizer="bpe", num_merges=3, workers=1)
    return root


@pytest.fixture
def folder(prepared, tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    shutil.copytree(prepared / "p", tmp_path / "p")
    (tmp_path / "secret.txt").write_text("not a shard")
    return tmp_path / "p"


def _meta(folder: Path, **changes) -> None:
    meta = json.loads((folder / "meta.json").read_text())
    meta.update(changes)
    (folder / "meta.json").write_text(json.dumps(meta))


def _train_fails(capsys, *fragments) -> None:
    fails_cleanly(["train", "p", *TINY, "--val-every", "1", "--output", "m.ckpt"], capsys, *fragments)
    assert not Path("m.ckpt").exists()


@pytest.mark.parametrize("damage, fragment", [
    (lambda f: (f / "val-00000.bin").write_bytes(b""), "val shard val-00000.bin has 0 bytes"),
    (lambda f: (f / "train-00000.bin").write_bytes((f / "train-00000.bin").read_bytes()[:100]),
     "train shard train-00000.bin has 100 bytes"),
    (lambda f: (f / "train-00000.bin").unlink(), "train shard train-00000.bin is missing"),
    (lambda f: (f / "meta.json").write_text('{"format": 1'), "cannot read meta.json"),
    (lambda f: (f / "meta.json").write_bytes(b"\xff\xfe\x00"), "cannot read meta.json"),
    (lambda f: (f / "meta.json").write_text("[]"), "meta.json is not a JSON object"),
    (lambda f: _meta(f, format=99), "written by a newer mygpt"),
    (lambda f: _meta(f, tokenizer="words"), "names the tokenizer 'words'"),
    (lambda f: _meta(f, dtype="float64"), "dtype of uint16 or uint32"),
    (lambda f: _meta(f, vocab_size="17"), "vocab_size of 1 or more"),
    (lambda f: _meta(f, tokens=5), "tokens 5 is not the sum"),
    (lambda f: _meta(f, train=[{"file": "../secret.txt", "tokens": 11}]), "'../secret.txt', which is not a shard"),
    (lambda f: _meta(f, train=[{"file": "/etc/passwd", "tokens": 11}]), "'/etc/passwd', which is not a shard"),
    (lambda f: _meta(f, train=[{"file": "x.bin", "tokens": "many"}]), "train must be a list"),
    (lambda f: (f / "tokenizer.json").write_text('{"chars": ["a", "a"]}'), "tokenizer.json"),
])
def test_a_damaged_folder_is_one_line(folder, capsys, damage, fragment):
    damage(folder)
    _train_fails(capsys, "is not a usable `mygpt prepare` folder", fragment)


def test_another_folders_tokenizer_is_caught(folder, prepared, capsys):
    shutil.copy(prepared / "other" / "tokenizer.json", folder / "tokenizer.json")  # a BPE one
    _train_fails(capsys, "cannot read its tokenizer.json as a char tokenizer")


def test_another_folders_tokenizer_of_the_same_size_is_caught(folder, capsys):
    meta = json.loads((folder / "meta.json").read_text())
    chars = json.loads((folder / "tokenizer.json").read_text())["chars"]
    (folder / "tokenizer.json").write_text(json.dumps({"chars": chars[::-1]}))  # same size, other ids
    assert meta["vocab_size"] == len(chars)
    _train_fails(capsys, "tokenizer.json is not the one its shards were made with", "SHA-256 differs")


def test_a_shard_symlinked_out_of_the_folder_is_refused(folder, capsys):
    target = folder.parent / "elsewhere.bin"
    shutil.move(folder / "train-00000.bin", target)
    (folder / "train-00000.bin").symlink_to(target)
    _train_fails(capsys, "train shard train-00000.bin is missing or not a file inside the folder")


def test_ids_outside_the_vocabulary_are_caught_when_read(folder):
    path = folder / "train-00000.bin"
    path.write_bytes(b"\xff\xff" * (path.stat().st_size // 2))
    _, _, train, _ = load_prepared(folder)
    with pytest.raises(CorpusError, match="token id 65535, outside its vocabulary"):
        train.windows(__import__("torch").tensor([0]), 4)
