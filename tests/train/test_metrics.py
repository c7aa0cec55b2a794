"""Run metrics: every training run leaves its step lines' numbers as JSON Lines beside its checkpoint."""

import json
import re

import pytest

from mygpt import GPT, CharTokenizer, cosine_warmup_lr, set_seed
from mygpt.config import TrainConfig
from mygpt.train import train
from mygpt.train.metrics import MetricsWriter, metrics_path, read_metrics

TEXT = "I love AI ! " * 40
LINE = re.compile(r"step +(\d+): loss = ([\d.]+)(?:  val = ([\d.]+))?(?:  lr = (\S+))?$")


def _train(tmp_path, capsys, **settings) -> tuple[list[str], list[dict]]:
    tok = CharTokenizer.from_text(TEXT)
    data = tok.encode(TEXT)
    set_seed(0)
    model = GPT(tok.vocab_size, 8, 2, 1, max_seq_len=16)
    config = TrainConfig(batch_size=2, seq_len=8, **settings)
    train(model, tok, data[:400], data[400:], config, str(tmp_path / "m.ckpt"))
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("step")]
    return lines, read_metrics(str(tmp_path / "m.metrics.jsonl"))


def test_metrics_file_sits_beside_the_checkpoint():
    assert metrics_path("runs/model.ckpt") == "runs/model.metrics.jsonl"
    assert metrics_path("model") == "model.metrics.jsonl"


def test_one_record_per_printed_line_with_the_printed_numbers(tmp_path, capsys):
    lines, records = _train(tmp_path, capsys, steps=7, print_every=3, val_every=2, schedule="cosine", warmup=2)
    assert [r["step"] for r in records] == [int(LINE.match(line)[1]) for line in lines] == [1, 2, 3, 4, 6, 7]
    for line, record in zip(lines, records):
        _, loss, val, lr = LINE.match(line).groups()
        assert f"{record['loss']:.4f}" == loss
        assert (record["val_loss"] is None) == (val is None)
        assert val is None or f"{record['val_loss']:.4f}" == val
        assert record["lr"] == cosine_warmup_lr(record["step"], 2, 7, 1e-3) and f"{record['lr']:.2e}" == lr
        assert record["tokens_per_s"] > 0
    elapsed = [r["elapsed_s"] for r in records]
    assert elapsed == sorted(elapsed) and elapsed[0] >= 0


def test_constant_schedule_records_the_lr_and_a_new_run_replaces_the_file(tmp_path, capsys):
    _train(tmp_path, capsys, steps=4, print_every=2, lr=3e-3)
    lines, records = _train(tmp_path, capsys, steps=3, print_every=5)
    assert [r["step"] for r in records] == [1, 3] and len(lines) == 2
    assert all(r["lr"] == 1e-3 and r["val_loss"] is None for r in records)


def _write(path, steps):
    writer = MetricsWriter(str(path), tokens_per_step=10)
    for step in steps:
        writer.log(step, 2.0 / step, None, 1e-3)


def test_resume_keeps_the_records_up_to_its_step_and_appends(tmp_path):
    path = tmp_path / "m.metrics.jsonl"
    _write(path, [1, 2, 4, 6])  # the interrupted run logged step 6 after its checkpoint at step 4
    before = read_metrics(str(path))
    writer = MetricsWriter(str(path), tokens_per_step=10, resume_step=4)
    assert read_metrics(str(path)) == before[:3]
    record = writer.log(6, 0.5, 0.6, 5e-4)
    assert record["elapsed_s"] >= before[2]["elapsed_s"]
    assert record["tokens_per_s"] > 0  # two steps of 10 tokens since the resume
    assert read_metrics(str(path)) == [*before[:3], record]


def test_resume_without_a_metrics_file_starts_one(tmp_path):
    path = tmp_path / "m.metrics.jsonl"
    MetricsWriter(str(path), tokens_per_step=10, resume_step=100).log(101, 1.0, None, 1e-3)
    assert [r["step"] for r in read_metrics(str(path))] == [101]


def test_non_finite_numbers_are_null_and_a_torn_last_line_is_skipped(tmp_path):
    path = tmp_path / "m.metrics.jsonl"
    writer = MetricsWriter(str(path), tokens_per_step=10)
    writer.log(1, float("nan"), float("inf"), 1e-3)
    with open(path, "a") as f:
        f.write('{"step": 2, "lo')  # a run killed mid-write
    (record,) = read_metrics(str(path))
    assert record["loss"] is None and record["val_loss"] is None
    assert json.loads(path.read_text().splitlines()[0]) == record


@pytest.mark.parametrize("resume_step", [0, 3])
def test_writer_leaves_no_temp_file(tmp_path, resume_step):
    _write(tmp_path / "m.metrics.jsonl", [1, 2, 3])
    MetricsWriter(str(tmp_path / "m.metrics.jsonl"), 10, resume_step=resume_step)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.metrics.jsonl"]
