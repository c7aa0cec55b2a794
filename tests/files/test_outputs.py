"""One guarded way out: what mygpt writes never replaces a file that is not its own, is locked per
path and written atomically, from the library and the command line alike."""

import os
from pathlib import Path

import pytest
import torch
from support.cli import TEXT, TINY, fails_cleanly

from mygpt import GPT, CharTokenizer, save_checkpoint
from mygpt.cli import main
from mygpt.cli.common import flag
from mygpt.config import TrainConfig
from mygpt.data.prepare import prepare
from mygpt.errors import CheckpointError, CorpusError, OutputError
from mygpt.files.outputs import LOCK_MARK, fcntl, output_lock
from mygpt.train import train

needs_flock = pytest.mark.skipif(fcntl is None, reason="no flock on this platform")


@pytest.fixture
def workdir(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "text.txt").write_text(TEXT, encoding="utf-8")
    (tmp_path / "notes.txt").write_text("my notes")
    return tmp_path


def _listing(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def _tiny():
    tokenizer = CharTokenizer.from_text(TEXT)
    torch.manual_seed(0)
    return GPT(tokenizer.vocab_size, 8, 2, 1, max_seq_len=8), tokenizer


def test_train_in_python_refuses_a_foreign_output_before_training(workdir, capsys):
    model, tokenizer = _tiny()
    before = _listing(workdir)
    with pytest.raises(CheckpointError, match="notes.txt exists and is not a mygpt checkpoint"):
        train(model, tokenizer, tokenizer.encode(TEXT), None, TrainConfig(steps=2, batch_size=2, seq_len=8),
              "notes.txt")
    assert "step" not in capsys.readouterr().out and _listing(workdir) == before


def test_a_metrics_file_never_replaces_the_training_text(workdir, capsys):
    (workdir / "corpus.metrics.jsonl").write_text(TEXT)
    fails_cleanly(["train", "corpus.metrics.jsonl", *TINY, "--output", "corpus.ckpt"], capsys,
                  "the metrics file corpus.metrics.jsonl is the training text")
    (workdir / "other.metrics.jsonl").write_text("my numbers\n")
    fails_cleanly(["train", "text.txt", *TINY, "--output", "other.ckpt"], capsys,
                  "other.metrics.jsonl exists and is not the metrics file of other.ckpt")
    assert (workdir / "corpus.metrics.jsonl").read_text() == TEXT
    assert (workdir / "other.metrics.jsonl").read_text() == "my numbers\n"
    assert not (workdir / "corpus.ckpt").exists() and not (workdir / "other.ckpt").exists()


def test_two_outputs_with_one_stem_do_not_share_a_metrics_file(workdir, capsys):
    main(["train", "text.txt", *TINY, "--output", "a.ckpt"])
    history = (workdir / "a.metrics.jsonl").read_text()
    capsys.readouterr()
    fails_cleanly(["train", "text.txt", *TINY, "--output", "a.pt"], capsys,
                  "a.metrics.jsonl exists and is not the metrics file of a.pt")
    assert (workdir / "a.metrics.jsonl").read_text() == history and not (workdir / "a.pt").exists()
    main(["train", "text.txt", *TINY, "--output", "a.ckpt"])  # its own run may replace it
    assert (workdir / "a.metrics.jsonl").read_text().startswith('{"metrics_of": "a.ckpt"}')


@needs_flock
def test_a_users_lock_named_file_is_refused_and_kept(workdir, capsys):
    (workdir / "m.ckpt.lock").write_text("mine")
    fails_cleanly(["train", "text.txt", *TINY, "--output", "m.ckpt"], capsys,
                  "m.ckpt.lock exists and is not a mygpt lock file")
    assert (workdir / "m.ckpt.lock").read_text() == "mine" and not (workdir / "m.ckpt").exists()
    model, tokenizer = _tiny()
    with pytest.raises(CheckpointError, match="not a mygpt lock file"):
        save_checkpoint(model, tokenizer, "m.ckpt")
    assert (workdir / "m.ckpt.lock").read_text() == "mine"


@needs_flock
def test_a_lock_left_by_a_killed_run_is_taken_over(workdir):
    (workdir / "m.ckpt.lock").write_bytes(LOCK_MARK + b"pid 1\n")  # flock died with its process
    (workdir / ".m.ckpt.abc123.tmp").write_bytes(b"half a checkpoint")
    main(["train", "text.txt", *TINY, "--output", "m.ckpt"])
    assert sorted(os.listdir(workdir)) == ["m.ckpt", "m.metrics.jsonl", "notes.txt", "text.txt"]


@needs_flock
def test_locks_nest_in_one_process_and_are_removed(workdir):
    with output_lock("x.bin"), output_lock("x.bin"):
        assert (workdir / "x.bin.lock").read_bytes().startswith(LOCK_MARK)
    assert not (workdir / "x.bin.lock").exists()


@needs_flock
def test_prepare_into_a_folder_another_prepare_is_writing_is_refused(workdir):
    fd = os.open("out.lock", os.O_RDWR | os.O_CREAT)  # another process's prepare into out
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        with pytest.raises(CorpusError, match="^out out is in use by another mygpt process") as refused:
            prepare(["text.txt"], "out", workers=1)
        assert refused.value.worded(flag).startswith("--out out is in use")  # as the CLI says it
    finally:
        os.close(fd)
        os.remove("out.lock")
    assert not (workdir / "out").exists()


def test_prepare_appears_whole_or_not_at_all(workdir, monkeypatch):
    import mygpt.data.prepare as prepare_module

    def broken(*args, **kwargs):
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as patch:
        patch.setattr(prepare_module, "_split_shards", broken)
        with pytest.raises(OSError):
            prepare(["text.txt"], "out", workers=1)
    assert sorted(os.listdir(workdir)) == ["notes.txt", "text.txt"]
    os.mkdir("out")  # an empty folder may be filled
    meta = prepare(["text.txt"], "out", workers=1)
    assert (workdir / "out" / "meta.json").exists() and meta["tokens"] == len(TEXT)
    with pytest.raises(CorpusError, match="not an empty folder"):
        prepare(["text.txt"], "out", workers=1)


def test_import_hf_never_writes_over_a_foreign_file_or_its_own_input(workdir, capsys):
    pytest.importorskip("safetensors")
    main(["train", "text.txt", *TINY, "--output", "m.ckpt"])
    main(["export-hf", "m.ckpt", "hf"])
    capsys.readouterr()
    before = _listing(workdir)
    fails_cleanly(["import-hf", "hf", "--output", "notes.txt"], capsys, "notes.txt exists and is not a mygpt")
    fails_cleanly(["import-hf", "hf", "--output", "hf/config.json"], capsys,
                  "hf/config.json exists and is not a mygpt checkpoint")
    fails_cleanly(["import-hf", "hf", "--output", "hf/model.safetensors"], capsys, "is not a mygpt checkpoint")
    fails_cleanly(["export-hf", "m.ckpt", "hf"], capsys, "already holds a model")
    fails_cleanly(["export-hf", "m.ckpt", "notes.txt"], capsys, "notes.txt is a file")
    assert _listing(workdir) == before


def test_figures_replace_only_figures_mygpt_drew(workdir, capsys):
    pytest.importorskip("matplotlib")
    main(["train", "text.txt", *TINY, "--output", "m.ckpt"])
    (workdir / "photo.png").write_bytes(b"\x89PNG\r\n\x1a\n not mine")
    capsys.readouterr()
    fails_cleanly(["plot", "m.ckpt", "--out", "photo.png"], capsys,
                  "--out photo.png exists and is not a figure drawn by mygpt")
    assert (workdir / "photo.png").read_bytes() == b"\x89PNG\r\n\x1a\n not mine"
    main(["plot", "m.ckpt", "--out", "loss.svg"])
    main(["plot", "m.ckpt", "--out", "loss.svg"])  # its own figure is replaced
    assert sorted(p.name for p in workdir.iterdir() if p.name.startswith(("loss", "."))) == ["loss.svg"]


def test_the_errors_are_the_projects(workdir):
    from mygpt.analysis.plots import FIGURE
    from mygpt.files.outputs import check_output

    with pytest.raises(OutputError, match="not a figure drawn by mygpt"):
        check_output("notes.txt", FIGURE)
