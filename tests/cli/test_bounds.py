"""Bounded work for any input, and one line (or a warning) for what the machine refuses: sizes checked
before allocating, a vanishing temperature, a missing accelerator, stdout closed or full, a metrics file
that cannot be written mid-run, a corrupt compile-cost cache."""

import errno
import io
import os
import subprocess
import sys
import warnings

import pytest
import torch
from support.cli import TEXT, TINY, fails_cleanly

from mygpt.cli import main
from mygpt.errors import MyGPTWarning
from mygpt.generate import sample_next
from mygpt.train import metrics as metrics_module
from mygpt.train.metrics import read_metrics


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "text.txt").write_text(TEXT)
    main(["train", "text.txt", *TINY, "--output", "m.ckpt"])
    return tmp_path


def test_a_vanishing_temperature_is_greedy_not_nan(workdir, capsys):
    logits = torch.tensor([[1.0, 3.0, 3.0, -2.0], [0.0, 0.0, 5.0, 1.0]])
    ids, probs = sample_next(logits, 1e-39)
    assert torch.equal(probs, torch.tensor([[0.0, 0.5, 0.5, 0.0], [0.0, 0.0, 1.0, 0.0]]))
    assert ids[0, 0] in (1, 2) and ids[1, 0] == 2
    torch.manual_seed(0)
    book = torch.multinomial(torch.softmax(logits / 0.7, dim=-1), 1)
    torch.manual_seed(0)
    assert torch.equal(sample_next(logits, 0.7)[0], book)  # ordinary temperatures: the book's draw, bit for bit
    capsys.readouterr()
    main(["generate", "--checkpoint", "m.ckpt", "--prompt", "To", "--temperature", "1e-39", "--device", "cpu",
          "--max-new-tokens", "5"])
    greedy = capsys.readouterr().out
    main(["generate", "--checkpoint", "m.ckpt", "--prompt", "To", "--temperature", "0", "--device", "cpu",
          "--max-new-tokens", "5"])
    assert capsys.readouterr().out == greedy


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_bench_on_a_missing_device_is_one_line(capsys):
    fails_cleanly(["bench", "--device", "cuda", "--quick"], capsys, "--device cuda was requested but no CUDA")


@pytest.mark.parametrize("workers", ["10000000000", "-1"])
def test_prepare_workers_are_bounded(workdir, capsys, workers):
    fails_cleanly(["prepare", "text.txt", "--out", "p", "--workers", workers], capsys, "--workers must be")
    assert not (workdir / "p").exists()


def test_a_byte_level_bpe_with_a_billion_merges_learns_what_the_text_holds(workdir, capsys):
    pytest.importorskip("tokenizers")
    from mygpt.tokenizer import ByteBPETokenizer

    text = TEXT[:300]
    assert ByteBPETokenizer.from_text(text, 10**9).to_json() == ByteBPETokenizer.from_text(text, 300).to_json()
    main(["train", "text.txt", *TINY, "--tokenizer", "bytebpe", "--num-merges", "1000000000", "--output", "b.ckpt"])
    assert "saved checkpoint to b.ckpt" in capsys.readouterr().out


class _FullDisk(io.StringIO):
    def write(self, text):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


@pytest.mark.parametrize("argv", [["info", "m.ckpt"], ["generate", "--checkpoint", "m.ckpt", "--prompt", "To",
                                                         "--device", "cpu"]])
def test_a_full_stdout_is_one_line(workdir, capsys, monkeypatch, argv):
    capsys.readouterr()
    monkeypatch.setattr(sys, "stdout", _FullDisk())
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and err.count("\n") == 1
    assert err.startswith("mygpt: error: cannot write to stdout (No space left on device)")


def test_stdout_closed_is_written_nowhere(workdir):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    done = subprocess.run(f'"{sys.executable}" -m mygpt info m.ckpt >&-', shell=True, cwd=workdir, env=env,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0 and done.stderr == ""


def test_a_metrics_write_that_fails_mid_run_warns_and_training_goes_on(workdir, capsys, monkeypatch):
    real_open, calls = open, []

    def failing_open(path, mode="r", *args, **kwargs):
        if str(path).endswith(".metrics.jsonl") and "a" in mode:
            calls.append(path)
            if len(calls) == 2:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(metrics_module, "open", failing_open, raising=False)
    main(["train", "text.txt", *TINY, "--steps", "4", "--output", "n.ckpt"])
    out, err = capsys.readouterr()
    assert err.splitlines() == [("mygpt: warning: could not write the metrics file n.metrics.jsonl (No space "
                                 "left on device); training goes on (the checkpoint is unaffected)")]
    assert "saved checkpoint to n.ckpt" in out and [r["step"] for r in read_metrics("n.metrics.jsonl")] == [1, 3, 4]


@pytest.mark.parametrize("ledger", ['{"k": {"saving": "x", "cold_s": 1}}', "not json", "[1, 2]"])
def test_a_corrupt_compile_cost_cache_is_a_warning_and_is_rewritten(tmp_path, monkeypatch, ledger):
    from mygpt.fast import compile as compile_module
    from mygpt.fast.compile import CompileCosts, load_costs, record_costs

    monkeypatch.setenv("MYGPT_CACHE", str(tmp_path))
    monkeypatch.setattr(compile_module, "_warned", set())
    (tmp_path / "compile-costs.json").write_text(ledger)
    with pytest.warns(MyGPTWarning, match="compile-costs.json is not a ledger mygpt wrote"):
        assert load_costs("k", torch.device("cpu")) == compile_module.PRIOR_COSTS["cpu"]
    record_costs("k", CompileCosts(0.5, 10.0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert load_costs("k", torch.device("cpu")) == CompileCosts(0.5, 10.0)
