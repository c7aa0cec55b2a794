"""Bad input ends ``mygpt`` with one line on stderr, exit status 2, no traceback, no file overwritten."""

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from support.cli import TEXT, TINY, fails_cleanly

from mygpt import GPT, CharTokenizer, save_checkpoint

SENTINEL = b"an existing checkpoint that must survive"


@pytest.fixture
def workdir(tmp_path, monkeypatch) -> Path:
    """A directory with a small text file, a sentinel 'checkpoint' and a real tiny checkpoint."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "text.txt").write_text(TEXT, encoding="utf-8")
    (tmp_path / "keep.ckpt").write_bytes(SENTINEL)
    tokenizer = CharTokenizer.from_text(TEXT)
    torch.manual_seed(0)
    model = GPT(tokenizer.vocab_size, 8, 2, num_layers=1, max_seq_len=8)
    save_checkpoint(model, tokenizer, str(tmp_path / "tiny.ckpt"))
    return tmp_path


@pytest.mark.parametrize("options, fragments", [
    (["--embed-dim", "10", "--num-heads", "4"], ["--embed-dim 10", "--num-heads 4", "multiple"]),
    (["--num-layers", "0"], ["--num-layers must be at least 1"]),
    (["--schedule", "cosine", "--warmup", "-2"], ["--warmup must be 0 or more"]),
    (["--num-merges", "-1"], ["--num-merges must be 0 or more"]),
    (["--num-heads", "4", "--embed-dim", "16", "--num-kv-heads", "3"], ["--num-kv-heads 3", "1, 2, 4"]),
    (["--position", "rope", "--embed-dim", "6", "--num-heads", "2"], ["even head dimension", "= 3"]),
    (["--seq-len", "16"], ["--seq-len 16 exceeds --max-seq-len 8"]),
    (["--steps", "0"], ["--steps must be at least 1"]),
    (["--steps", "-3"], ["--steps must be at least 1"]),
    (["--batch-size", "0"], ["--batch-size must be at least 1"]),
    (["--val-split", "1.0"], ["--val-split must be in [0, 1)"]),
    (["--val-split", "-0.1"], ["--val-split must be in [0, 1)"]),
    (["--print-every", "0"], ["--print-every must be at least 1"]),
    (["--num-kv-heads", "0"], ["--num-kv-heads must be at least 1"]),
    (["--lr", "0"], ["--lr must be a positive number"]),
    (["--dropout", "1.0"], ["--dropout must be in [0, 1)"]),
    (["--warmup", "-1"], ["--warmup must be 0 or more"]),
])
def test_impossible_hyper_parameters(workdir, capsys, options, fragments):
    fails_cleanly(["train", "text.txt", *TINY, *options, "--output", "keep.ckpt"], capsys, *fragments)
    assert (workdir / "keep.ckpt").read_bytes() == SENTINEL


def test_missing_text_file(workdir, capsys):
    before = (workdir / "tiny.ckpt").read_bytes()
    fails_cleanly(["train", "missing.txt", *TINY, "--output", "tiny.ckpt"], capsys, "not found: missing.txt")
    assert (workdir / "tiny.ckpt").read_bytes() == before


def test_empty_text_file(workdir, capsys):
    (workdir / "empty.txt").write_text("")
    before = (workdir / "tiny.ckpt").read_bytes()
    fails_cleanly(["train", "empty.txt", *TINY, "--output", "tiny.ckpt"], capsys, "empty.txt is empty")
    assert (workdir / "tiny.ckpt").read_bytes() == before


def test_text_file_that_is_not_utf8(workdir, capsys):
    (workdir / "latin1.txt").write_bytes("café ".encode("latin-1") * 50)
    fails_cleanly(["train", "latin1.txt", *TINY], capsys, "not UTF-8", "convert it")


def test_text_shorter_than_one_window(workdir, capsys):
    (workdir / "short.txt").write_text("abc")
    fails_cleanly(["train", "short.txt", *TINY, "--output", "new.ckpt"], capsys, "has 3 tokens", "--seq-len")
    assert not (workdir / "new.ckpt").exists()


def test_validation_split_too_small_for_one_window(workdir, capsys):
    fails_cleanly(["train", "text.txt", *TINY, "--val-split", "0.001", "--val-every", "1"], capsys,
                  "validation data has", "raise --val-split")


def test_output_in_missing_directory(workdir, capsys):
    fails_cleanly(["train", "text.txt", *TINY, "--output", "nowhere/model.ckpt"], capsys, "does not exist")


def test_output_that_is_a_directory(workdir, capsys):
    (workdir / "adir").mkdir()
    fails_cleanly(["train", "text.txt", *TINY, "--output", "adir"], capsys, "is a directory")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_unavailable_device(workdir, capsys):
    fails_cleanly(["train", "text.txt", *TINY, "--device", "cuda"], capsys, "no CUDA device")
    fails_cleanly(["generate", "--checkpoint", "tiny.ckpt", "--prompt", "To", "--device", "cuda"], capsys,
                  "--device auto")


def test_prompt_with_unknown_characters(workdir, capsys):
    fails_cleanly(["generate", "--checkpoint", "tiny.ckpt", "--prompt", "To bez€"], capsys, "'z€'",
                  "characters from the training text")


def test_empty_prompt(workdir, capsys):
    fails_cleanly(["generate", "--checkpoint", "tiny.ckpt", "--prompt", ""], capsys, "--prompt is empty")


@pytest.mark.parametrize("options, fragment", [(["--temperature", "-1"], "--temperature"),
                                               (["--top-k", "0"], "--top-k"),
                                               (["--max-new-tokens", "-1"], "--max-new-tokens")])
def test_impossible_sampling_settings(workdir, capsys, options, fragment):
    fails_cleanly(["generate", "--checkpoint", "tiny.ckpt", "--prompt", "To", *options], capsys, fragment)


def test_missing_checkpoint(workdir, capsys):
    fails_cleanly(["generate", "--checkpoint", "nope.ckpt", "--prompt", "To"], capsys,
                  "checkpoint not found: nope.ckpt", "mygpt train")


def test_corrupt_checkpoint(workdir, capsys):
    fails_cleanly(["generate", "--checkpoint", "keep.ckpt", "--prompt", "To"], capsys,
                  "cannot read checkpoint keep.ckpt", "corrupt")


def test_truncated_checkpoint(workdir, capsys):
    data = (workdir / "tiny.ckpt").read_bytes()
    (workdir / "cut.ckpt").write_bytes(data[: len(data) // 2])
    fails_cleanly(["generate", "--checkpoint", "cut.ckpt", "--prompt", "To"], capsys, "truncated")


def test_checkpoint_with_wrong_contents(workdir, capsys):
    torch.save({"hello": torch.zeros(1)}, workdir / "other.ckpt")
    fails_cleanly(["generate", "--checkpoint", "other.ckpt", "--prompt", "To"], capsys,
                  "not a mygpt checkpoint")


def test_real_process_exit_status_and_stderr(workdir):
    """The same contract seen from outside: a real process, exit status 2, one line, no traceback."""
    result = subprocess.run([sys.executable, "-m", "mygpt", "train", "text.txt", "--num-kv-heads", "3",
                             "--output", "keep.ckpt"], check=False, cwd=workdir, capture_output=True, text=True)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.splitlines() == [("mygpt: error: --num-heads 4 is not divisible by --num-kv-heads 3; "
                                           "use a --num-kv-heads that divides it (1, 2, 4)")]
    assert (workdir / "keep.ckpt").read_bytes() == SENTINEL


# Every hint names options the command has: a flag in an error line (outside a quoted `mygpt OTHER ...`)
# must be one of that command's. The cases cover each command's refusals of files, values and checkpoints.
HINT_CASES = [
    ["train", "missing.txt"], ["train", "text.txt", *TINY, "--seq-len", "16"],
    ["train", "text.txt", *TINY, "--val-every", "2"], ["train", "text.txt", *TINY, "--output", "keep.ckpt"],
    ["train", "text.txt", "--init", "tiny.ckpt", "--seq-len", "64", "--steps", "1"],
    ["train", "text.txt", "--init", "tiny.ckpt", "--max-seq-len", "64", "--steps", "1"],
    ["train", "text.txt", *TINY, "--resume", "tiny.ckpt"], ["train", "text.txt", *TINY, "--init", "missing.ckpt"],
    ["generate", "--checkpoint", "missing.ckpt", "--prompt", "To"],
    ["generate", "--checkpoint", "tiny.ckpt", "--prompt", "Zebra"],
    ["generate", "--checkpoint", "tiny.ckpt", "--prompt", "To", "--top-k", "0"],
    ["generate", "--checkpoint", "tiny.ckpt", "--prompt", "To", "--max-new-tokens", "-1"],
    ["eval", "--checkpoint", "missing.ckpt", "text.txt"], ["eval", "--checkpoint", "tiny.ckpt", "missing.txt"],
    ["eval", "--checkpoint", "tiny.ckpt", "text.txt", "--seq-len", "9"],
    ["eval", "--checkpoint", "tiny.ckpt", "text.txt", "--batch-size", "0"],
    ["info", "missing.ckpt"], ["info", "text.txt"], ["export-hf", "missing.ckpt", "out"],
    ["import-hf", "missing-dir", "--output", "x.ckpt"], ["plot", "missing.ckpt"],
    ["attention", "--checkpoint", "missing.ckpt", "--prompt", "To"],
    ["attention", "--checkpoint", "tiny.ckpt", "--prompt", "To be, or not"],
    ["prepare", "missing.txt", "--out", "prepared"], ["prepare", "text.txt", "--out", "p", "--val-split", "2"],
    ["prepare", "text.txt", "--out", "p", "--workers", "-1"],
]


def _named_flags(line: str) -> set[str]:
    """The --flags an error line names, leaving out those inside a quoted command of another verb."""
    import re

    line = re.sub(r"`mygpt [^`]*`", "", line)
    return set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", line))


@pytest.mark.parametrize("argv", HINT_CASES, ids=lambda argv: " ".join(argv)[:50])
def test_error_hints_name_only_options_the_command_has(workdir, capsys, argv):
    from mygpt.cli import _build_parser, command_options

    with pytest.raises(SystemExit) as exit_info:
        from mygpt.cli import main

        main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.startswith("mygpt: error: "), err
    unknown = _named_flags(err) - command_options(_build_parser(), argv[0])
    assert not unknown, f"mygpt {argv[0]} suggests {sorted(unknown)}, which it does not have: {err}"
