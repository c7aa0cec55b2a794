"""What ``mygpt train`` refuses or survives, each in one line: failed saves, unwritable or foreign
outputs, a second run on the same output, shapes that cannot fit, a diverging loss, silent options."""

import contextlib
import errno
import os
import warnings
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from support.cli import TEXT, TINY, fails_cleanly

import mygpt.files.outputs
import mygpt.train.loop
from mygpt import GPT, CharTokenizer, save_checkpoint
from mygpt.checkpoint import read_checkpoint
from mygpt.cli import main
from mygpt.config import GPTConfig, TrainConfig
from mygpt.errors import MyGPTWarning, TrainingError
from mygpt.files.outputs import LOCK_MARK, fcntl, output_lock
from mygpt.train.guards import LossWatch, RunSaver
from mygpt.train.memory import count_parameters


@pytest.fixture
def workdir(tmp_path, monkeypatch) -> Path:
    """A text file and a real checkpoint of an earlier run, ``old.ckpt``."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "text.txt").write_text(TEXT, encoding="utf-8")
    tokenizer = CharTokenizer.from_text(TEXT)
    torch.manual_seed(0)
    save_checkpoint(GPT(tokenizer.vocab_size, 8, 2, 1, max_seq_len=8), tokenizer, str(tmp_path / "old.ckpt"))
    return tmp_path


def fails_after_training(argv: list[str], capsys, *fragments: str) -> str:
    """Like ``fails_cleanly``, for failures that come after the step lines: exit 2, one stderr line."""
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    _, err = capsys.readouterr()
    assert exit_info.value.code == 2
    assert err.startswith("mygpt: error: ") and err.count("\n") == 1 and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in err, err
    return err


def _no_temporary_files(directory: Path) -> bool:
    return not [p for p in directory.iterdir() if p.name.endswith((".tmp", ".lock"))]


# Saves

def _disk_full(obj, f):
    """A ``torch.save`` that writes part of the file, then fails as a full disk does."""
    f.write(b"partial")
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_disk_full_at_the_final_save_keeps_the_previous_checkpoint(workdir, capsys, monkeypatch):
    before = (workdir / "old.ckpt").read_bytes()
    monkeypatch.setattr(torch, "save", _disk_full)
    fails_after_training(["train", "text.txt", *TINY, "--output", "old.ckpt"], capsys,
                         "could not save the checkpoint old.ckpt: No space left on device",
                         "previous file there (if any) is intact")
    assert (workdir / "old.ckpt").read_bytes() == before and _no_temporary_files(workdir)


def test_disk_full_at_a_periodic_save_warns_and_training_goes_on(workdir, capsys, monkeypatch):
    monkeypatch.setattr(torch, "save", _fails_once())
    main(["train", "text.txt", *TINY, "--steps", "3", "--checkpoint-every", "1", "--output", "new.ckpt"])
    out, err = capsys.readouterr()
    assert err.splitlines() == [("mygpt: warning: could not save the checkpoint new.ckpt: No space left on "
                                "device; the previous file there (if any) is intact; training goes on")]
    assert "[checkpoint saved at step 1]" not in out and "[checkpoint saved at step 2]" in out
    assert read_checkpoint("new.ckpt")["training_state"]["step"] == 3 and _no_temporary_files(workdir)


def _fails_once():
    """A ``torch.save`` whose first call fails with ENOSPC."""
    real, calls = torch.save, []

    def save(obj, f):
        calls.append(1)
        if len(calls) == 1:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(obj, f)

    return save


def test_unwritable_output_directory_is_found_before_training(workdir, capsys, monkeypatch):
    def refuse(*args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES))

    monkeypatch.setattr(mygpt.files.outputs.tempfile, "mkstemp", refuse)
    fails_cleanly(["train", "text.txt", *TINY, "--output", "new.ckpt"], capsys,
                  "cannot create files in", "Permission denied", "choose another --output")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root may write anywhere")
def test_read_only_directory(workdir, capsys):
    (workdir / "ro").mkdir(mode=0o500)
    fails_cleanly(["train", "text.txt", *TINY, "--output", "ro/m.ckpt"], capsys, "not writable")


def test_too_little_disk_space_is_found_before_training(workdir, capsys, monkeypatch):
    monkeypatch.setattr(mygpt.files.outputs.shutil, "disk_usage", lambda path: SimpleNamespace(free=1000))
    fails_cleanly(["train", "text.txt", *TINY, "--output", "new.ckpt"], capsys, "MiB are free")


@contextlib.contextmanager
def held_by_another_process(path: str):
    """``<path>.lock`` held as another process holds it: flock on an open file of its own."""
    fd = os.open(path + ".lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    os.write(fd, LOCK_MARK)
    try:
        yield
    finally:
        os.remove(path + ".lock")
        os.close(fd)


@pytest.mark.skipif(fcntl is None, reason="no flock")
def test_a_second_run_on_the_same_output_is_refused(workdir, capsys):
    with held_by_another_process("old.ckpt"):
        fails_cleanly(["train", "text.txt", *TINY, "--output", "old.ckpt"], capsys,
                      "--output old.ckpt is in use by another training run")
    with held_by_another_process("old.metrics.jsonl"):
        fails_cleanly(["train", "text.txt", *TINY, "--output", "old.pt"], capsys,
                      "old.metrics.jsonl is in use by another training run")
    main(["train", "text.txt", *TINY, "--output", "old.ckpt"])  # free again once the first run ends
    assert _no_temporary_files(workdir)


@pytest.mark.skipif(fcntl is None, reason="no flock")
def test_a_lock_held_by_this_process_nests(workdir):
    with output_lock("old.ckpt"):
        main(["train", "text.txt", *TINY, "--output", "old.ckpt"])
        assert (workdir / "old.ckpt.lock").exists()
    assert _no_temporary_files(workdir)


def test_temporary_files_of_a_killed_save_are_removed_by_the_next_run(workdir):
    (workdir / ".old.ckpt.k2j3h4.tmp").write_bytes(b"half a checkpoint")
    (workdir / ".other.ckpt.k2j3h4.tmp").write_bytes(b"not ours")
    main(["train", "text.txt", *TINY, "--output", "old.ckpt"])
    assert sorted(p.name for p in workdir.iterdir()) == [".other.ckpt.k2j3h4.tmp", "old.ckpt", "old.metrics.jsonl", "text.txt"]


def test_saves_are_readable_by_others_as_before(workdir):
    main(["train", "text.txt", *TINY, "--output", "new.ckpt"])
    mask = os.umask(0)
    os.umask(mask)
    assert (workdir / "new.ckpt").stat().st_mode & 0o777 == 0o666 & ~mask


# Never overwrite what is not ours

def test_output_that_is_the_training_text_is_refused(workdir, capsys):
    fails_cleanly(["train", "text.txt", *TINY, "--output", "text.txt"], capsys, "is the training text")
    assert (workdir / "text.txt").read_text(encoding="utf-8") == TEXT


def test_output_that_is_another_file_is_refused(workdir, capsys):
    (workdir / "notes.md").write_text("my notes")
    fails_cleanly(["train", "text.txt", *TINY, "--output", "notes.md"], capsys,
                  "notes.md exists and is not a mygpt checkpoint")
    assert (workdir / "notes.md").read_text() == "my notes"


def test_an_earlier_checkpoint_may_be_replaced(workdir, capsys):
    main(["train", "text.txt", *TINY, "--output", "old.ckpt"])
    assert read_checkpoint("old.ckpt")["training_state"]["step"] == 2


# Resources

@pytest.mark.parametrize("options", [["--batch-size", "100000000"],
                                     ["--embed-dim", "1000000", "--num-heads", "1"]])
def test_shapes_that_cannot_fit_are_refused_before_allocating(workdir, capsys, options):
    err = fails_cleanly(["train", "text.txt", *TINY, *options], capsys, "needs about", "GiB available")
    assert "lower --batch-size" in err


@pytest.mark.parametrize("error", [torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2 GiB"),
                                   RuntimeError("DefaultCPUAllocator: can't allocate memory: you tried"),
                                   MemoryError()])
def test_out_of_memory_during_training_is_one_line(workdir, capsys, monkeypatch, error):
    def no_memory(*args, **kwargs):
        raise error

    monkeypatch.setattr(mygpt.train.loop, "get_batch", no_memory)
    fails_after_training(["train", "text.txt", *TINY, "--output", "new.ckpt"], capsys, "out of memory")
    assert not (workdir / "new.ckpt").exists()


# Numbers

def test_a_diverging_loss_stops_naming_the_step_and_keeps_the_last_good_checkpoint(workdir, capsys):
    err = fails_after_training(["train", "text.txt", *TINY, "--steps", "20", "--lr", "1e30",
                                "--checkpoint-every", "1", "--output", "new.ckpt"], capsys,
                               "the loss became NaN or infinite at step", "lower --lr (now 1e+30)",
                               "--max-grad-norm 1.0")
    step = int(err.split("at step ")[1].split(";")[0])
    assert f"new.ckpt (step {step - 1}), is kept" in err
    assert read_checkpoint("new.ckpt")["training_state"]["step"] == step - 1


def test_accelerator_loss_watch_reports_the_first_bad_step():
    """Off the CPU the loss is not read every step: the first bad step is kept on the device."""
    saver = RunSaver(None, None, "m.ckpt", None, TrainConfig(), (None, None))
    watch = LossWatch(torch.device("meta"), TrainConfig(max_grad_norm=1.0), saver)
    for step, loss in enumerate([1.0, 2.0, float("inf"), float("nan"), 3.0], start=1):
        watch.observe(step, torch.tensor(loss))
    with pytest.raises(TrainingError, match="at step 3; .*lower lr .now 0.001.; no checkpoint"):
        watch.check()


# Options that would be silently ignored

def test_val_every_without_a_validation_split_is_an_error(workdir, capsys):
    fails_cleanly(["train", "text.txt", *TINY, "--val-every", "5"], capsys,
                  "--val-every 5 needs a validation split", "--val-split")


def test_warmup_as_long_as_the_run_warns(workdir, capsys):
    main(["train", "text.txt", *TINY, "--schedule", "cosine", "--warmup", "2", "--output", "new.ckpt"])
    assert capsys.readouterr().err.splitlines() == [
        ("mygpt: warning: --warmup 2 is not shorter than --steps 2: the learning rate never reaches --lr 0.001 "
        "(it peaks at 5.00e-04)")]
    with pytest.warns(MyGPTWarning, match="warmup 10 is not shorter than steps 5"):
        TrainConfig(steps=5, schedule="cosine", warmup=10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        TrainConfig(steps=5, warmup=10)  # the constant schedule has no warm-up to reach


def test_a_one_character_vocabulary_warns(workdir, capsys):
    (workdir / "a.txt").write_text("a" * 50)
    main(["train", "a.txt", *TINY, "--output", "new.ckpt"])
    err = capsys.readouterr().err
    assert err.startswith("mygpt: warning: the training text has a single distinct token ('a')")
    assert err.count("\n") == 1


@pytest.mark.parametrize("shape", [{}, {"norm_type": "rms"}, {"position_type": "rope"}, {"num_kv_heads": 1},
                                   {"norm_type": "rms", "position_type": "rope", "num_kv_heads": 2,
                                    "num_layers": 3, "max_seq_len": 32}])
def test_the_memory_estimate_counts_the_models_parameters(shape):
    config = GPTConfig(**{"vocab_size": 65, "embed_dim": 16, "num_heads": 4, "num_layers": 2, **shape})
    assert count_parameters(config) == GPT.from_config(config).num_params()
