"""Exact resume and clean stops: a run killed (SIGKILL) or stopped (SIGTERM, Ctrl-C) at any step and
resumed ends with the same weights, bit for bit, as the run that was never interrupted."""

import os
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from support.cli import TEXT, TINY, fails_cleanly

from mygpt import GPT, CharTokenizer, save_checkpoint, set_seed
from mygpt.checkpoint import read_checkpoint
from mygpt.cli import resume_command
from mygpt.config import TrainConfig
from mygpt.errors import CheckpointError, ConfigError, TrainingStopped
from mygpt.train import train

# Small enough to be quick, slow enough (a few ms a step) to be interrupted mid-run; validation and
# dropout on, so that the resumed run must restore every use of the random generators.
RUN = ["text.txt", "--steps", "120", "--print-every", "20", "--batch-size", "4", "--seq-len", "16",
       "--max-seq-len", "16", "--embed-dim", "16", "--num-heads", "2", "--num-layers", "2", "--dropout", "0.1",
       "--val-split", "0.2", "--val-every", "30", "--schedule", "cosine", "--warmup", "10", "--device", "cpu"]


def _env() -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "80", "PYTHONIOENCODING": "utf-8"}


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mygpt", "train", *args], cwd=cwd, env=_env(),
                          capture_output=True, text=True, check=False)


def _start(args: list[str], cwd: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "mygpt", "train", *args], cwd=cwd, env=_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_for(proc: subprocess.Popen, fragment: str) -> list[str]:
    """Read the child's stdout up to the first line containing ``fragment``."""
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if fragment in line:
            return lines
    raise AssertionError(f"{fragment!r} never printed: {lines}")


def _weights(path: Path) -> dict:
    return read_checkpoint(str(path))["model_state_dict"]


def _same_weights(a: Path, b: Path) -> bool:
    wa, wb = _weights(a), _weights(b)
    return list(wa) == list(wb) and all(torch.equal(wa[k], wb[k]) for k in wa)


def _step_lines(stdout: str, after: int) -> list[str]:
    return [line for line in stdout.splitlines() if line.startswith("step") and int(line.split()[1][:-1]) > after]


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> tuple[Path, str]:
    """The uninterrupted run: its directory (with the text) and its stdout."""
    directory = tmp_path_factory.mktemp("resume")
    (directory / "text.txt").write_text(TEXT * 3, encoding="utf-8")
    result = _run([*RUN, "--output", "reference.ckpt"], directory)
    assert result.returncode == 0, result.stderr
    return directory, result.stdout


def test_sigkill_then_resume_is_bit_identical(reference):
    directory, expected = reference
    proc = _start([*RUN, "--checkpoint-every", "20", "--output", "killed.ckpt"], directory)
    _wait_for(proc, "[checkpoint saved at step 40]")
    proc.kill()
    proc.wait()
    done = read_checkpoint(str(directory / "killed.ckpt"))["training_state"]["step"]
    assert 40 <= done < 120
    resumed = _run([*RUN, "--checkpoint-every", "20", "--output", "killed.ckpt", "--resume", "killed.ckpt"],
                   directory)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming:     killed.ckpt after step {done}" in resumed.stdout
    assert _step_lines(resumed.stdout, done) == _step_lines(expected, done)
    assert _same_weights(directory / "killed.ckpt", directory / "reference.ckpt")
    assert not list(directory.glob("*.tmp")) and not list(directory.glob("*.lock"))


@pytest.mark.parametrize("signum, status", [(signal.SIGTERM, 143),
                                            pytest.param(signal.SIGINT, 130, marks=pytest.mark.slow)])
def test_signal_stops_after_the_step_saves_and_prints_the_resume_command(reference, signum, status):
    directory, expected = reference
    output = f"stopped-{signum}.ckpt"
    proc = _start([*RUN, "--output", output], directory)
    _wait_for(proc, "step    40:")
    proc.send_signal(signum)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == status, stderr
    message, command = stderr.splitlines()
    done = read_checkpoint(str(directory / output))["training_state"]["step"]
    assert message.startswith(f"mygpt: stopped by {signal.Signals(signum).name} after step {done} of 120")
    assert command.startswith("resume with: mygpt train text.txt --steps 120")
    argv = shlex.split(command.removeprefix("resume with: "))
    assert argv[-2:] == ["--resume", output]
    resumed = _run(argv[2:], directory)
    assert resumed.returncode == 0, resumed.stderr
    assert _step_lines(resumed.stdout, done) == _step_lines(expected, done)
    assert _same_weights(directory / output, directory / "reference.ckpt")


def test_a_second_ctrl_c_stops_at_once(tmp_path):
    """While the first stop's save is running, a second signal ends the program; the old file survives."""
    (tmp_path / "text.txt").write_text(TEXT, encoding="utf-8")
    script = (
        "import os, signal, torch\n"
        "real = torch.save\n"
        "def slow(obj, f):\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"  # the second Ctrl-C arrives mid-save
        "    real(obj, f)\n"
        "def first(*a, **k):\n"
        "    torch.save = slow\n"
        "    os.kill(os.getpid(), signal.SIGINT)\n"
        "from mygpt.cli import main\n"
        "import mygpt.train.loop as t\n"
        "orig = t.get_batch\n"
        "t.get_batch = lambda *a, **k: (first(), orig(*a, **k))[1]\n"
        f"main(['train', 'text.txt', *{TINY!r}, '--output', 'm.ckpt'])\n"
    )
    tok = CharTokenizer.from_text(TEXT)
    save_checkpoint(_tiny(tok.vocab_size), tok, str(tmp_path / "m.ckpt"))
    previous = (tmp_path / "m.ckpt").read_bytes()
    result = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=_env(), capture_output=True,
                            text=True, check=False)
    assert result.returncode == 130, result.stderr
    assert result.stderr.splitlines()[-1].startswith("mygpt: interrupted")
    assert (tmp_path / "m.ckpt").read_bytes() == previous
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.ckpt", "m.metrics.jsonl", "text.txt"]


def test_resume_command_replaces_an_earlier_resume():
    assert resume_command(["train", "t.txt", "--resume", "a.ckpt", "--steps", "5"], "b c.ckpt") == \
        "mygpt train t.txt --steps 5 --resume 'b c.ckpt'"
    assert resume_command(["train", "--resume=a.ckpt"], "m.ckpt") == "mygpt train --resume m.ckpt"


# The library form and the refusals, in-process on a tiny model.

def _tiny(vocab_size: int) -> GPT:
    set_seed(0)
    return GPT(vocab_size, 8, 2, 1, max_seq_len=16, dropout=0.1)


def test_library_resume_is_exact(tmp_path, capsys):
    tok = CharTokenizer.from_text(TEXT)
    data = tok.encode(TEXT)
    train_data, val_data = data[:1400], data[1400:]
    config = TrainConfig(steps=9, batch_size=2, seq_len=8, print_every=1, val_every=2, checkpoint_every=4)
    whole = _tiny(tok.vocab_size)
    train(whole, tok, train_data, val_data, config, str(tmp_path / "whole.ckpt"))
    expected = capsys.readouterr().out.splitlines()

    with pytest.raises(TrainingStopped) as stop:
        _stop_after(5, lambda: train(_tiny(tok.vocab_size), tok, train_data, val_data, config,
                                     str(tmp_path / "half.ckpt")))
    assert (stop.value.step, stop.value.signal_name, stop.value.exit_status) == (5, "SIGINT", 130)
    printed = capsys.readouterr().out.splitlines()
    resumed = _tiny(tok.vocab_size)
    train(resumed, tok, train_data, val_data, config, str(tmp_path / "half.ckpt"),
          resume=read_checkpoint(str(tmp_path / "half.ckpt")))
    assert printed + capsys.readouterr().out.splitlines() == expected
    assert all(torch.equal(a, b) for a, b in zip(whole.state_dict().values(), resumed.state_dict().values()))


def _stop_after(step: int, run) -> None:
    """Run ``run()``, sending ourselves SIGINT while step ``step`` is being trained."""
    from mygpt.train import loop

    original, calls = loop.get_batch, []

    def batch(*args, **kwargs):
        calls.append(1)
        if len(calls) == step:
            os.kill(os.getpid(), signal.SIGINT)
        return original(*args, **kwargs)

    loop.get_batch = batch
    try:
        run()
    finally:
        loop.get_batch = original


def test_library_resume_refuses_other_settings(tmp_path):
    tok = CharTokenizer.from_text(TEXT)
    data = tok.encode(TEXT)
    path = str(tmp_path / "m.ckpt")
    config = TrainConfig(steps=3, batch_size=2, seq_len=8)
    train(_tiny(tok.vocab_size), tok, data, None, config, path)
    ckpt = read_checkpoint(path)
    with pytest.raises(ConfigError, match="lr is 0.001 in the checkpoint's run but 0.002 here"):
        train(_tiny(tok.vocab_size), tok, data, None, TrainConfig(steps=5, batch_size=2, seq_len=8, lr=2e-3),
              path, resume=ckpt)
    with pytest.raises(ConfigError, match="already done 3 steps"):
        train(_tiny(tok.vocab_size), tok, data, None, config, path, resume=ckpt)
    with pytest.raises(ConfigError, match="training tokens differ"):
        train(_tiny(tok.vocab_size), tok, data[:-1], None, TrainConfig(steps=5, batch_size=2, seq_len=8), path,
              resume=ckpt)
    other = CharTokenizer.from_text(TEXT + "z")
    with pytest.raises(ConfigError, match="tokenizer's alphabet differs"):
        train(_tiny(other.vocab_size), other, data, None, TrainConfig(steps=5, batch_size=2, seq_len=8), path,
              resume=ckpt)
    ckpt["training_state"].pop("train_config")
    with pytest.raises(CheckpointError, match="no resumable training state"):
        train(_tiny(tok.vocab_size), tok, data, None, TrainConfig(steps=5, batch_size=2, seq_len=8), path,
              resume=ckpt)


@pytest.fixture
def trained(tmp_path, monkeypatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "text.txt").write_text(TEXT, encoding="utf-8")
    from mygpt.cli import main

    main(["train", "text.txt", *TINY, "--output", "m.ckpt"])
    return tmp_path


@pytest.mark.parametrize("change, fragments", [
    (["--embed-dim", "16"], ["--embed-dim is 8 in the checkpoint's run but 16 here", "give --embed-dim 8"]),
    (["--lr", "0.01"], ["--lr is 0.001 in the checkpoint's run but 0.01 here"]),
    (["--steps", "2"], ["already done 2 steps", "raise --steps"]),
    (["--val-split", "0.5"], ["training tokens differ", "--val-split"]),
    (["--seed", "1"], ["the batch seed differs", "give the same --seed"]),
])
def test_cli_resume_refuses_contradicting_flags(trained, capsys, change, fragments):
    capsys.readouterr()
    before = (trained / "m.ckpt").read_bytes()
    fails_cleanly(["train", "text.txt", *TINY, "--output", "m.ckpt", "--resume", "m.ckpt", "--steps", "4",
                   *change], capsys, *fragments)
    assert (trained / "m.ckpt").read_bytes() == before


def test_cli_resume_refuses_another_text(trained, capsys):
    (trained / "other.txt").write_text(TEXT + "xyz", encoding="utf-8")
    fails_cleanly(["train", "other.txt", *TINY, "--steps", "4", "--output", "m.ckpt", "--resume", "m.ckpt"],
                  capsys, "tokenizer's alphabet differs", "same text")


def test_cli_resume_of_a_file_without_training_state(trained, capsys):
    torch.save({"model_state_dict": {}, "config": {}}, trained / "bare.ckpt")
    fails_cleanly(["train", "text.txt", *TINY, "--resume", "bare.ckpt"], capsys, "no resumable training state")
