"""``benchmarks/time_to_loss.py``'s machinery (weight copies by training time, whole-split evaluation,
table, summary, plot) on a stand-in for a nanoGPT checkout; says nothing about speed or loss."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
from support.cli import TEXT

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"

# The parts of a nanoGPT checkout the benchmark runs: train.py reads the recipe's flags, builds
# model.GPT (forward(idx, targets) -> (logits, loss)) and steps a torch optimizer.
STAND_IN = {
    "model.py": """
import torch
import torch.nn.functional as F
from torch import nn


class GPT(nn.Module):
    def __init__(self, vocab_size):
        super().__init__()
        self.table = nn.Embedding(vocab_size, vocab_size)

    def forward(self, idx, targets=None):
        logits = self.table(idx)
        return logits, F.cross_entropy(logits.flatten(0, 1), targets.flatten())
""",
    "train.py": """
import pickle, sys
import numpy as np
import torch
from model import GPT

flags = dict(arg[2:].split("=", 1) for arg in sys.argv[2:])
data = torch.from_numpy(np.fromfile("data/shakespeare_char/train.bin", dtype=np.uint16).astype(np.int64))
model = GPT(pickle.load(open("data/shakespeare_char/meta.pkl", "rb"))["vocab_size"])
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
for _ in range(int(flags["max_iters"]) + 1):
    ix = torch.randint(len(data) - 65, (12,))
    x = torch.stack([data[i:i + 64] for i in ix])
    y = torch.stack([data[i + 1:i + 65] for i in ix])
    optimizer.zero_grad()
    model(x, y)[1].backward()
    optimizer.step()
""",
    "configurator.py": "",
    "config/train_shakespeare_char.py": "",
}


@pytest.mark.slow
def test_time_to_loss_runs_both_programs_and_sums_up(tmp_path):
    checkout = tmp_path / "nanoGPT"
    for name, text in STAND_IN.items():
        (checkout / name).parent.mkdir(parents=True, exist_ok=True)
        (checkout / name).write_text(text)
    (tmp_path / "text.txt").write_text(TEXT * 3)
    done = subprocess.run([sys.executable, str(BENCHMARKS / "time_to_loss.py"), str(checkout),
                           str(tmp_path / "text.txt"), "--runs", "nanogpt,fast-cpu", "--steps", "3",
                           "--every", "0.01", "--out", str(tmp_path / "out")],
                          capture_output=True, text=True, timeout=600, check=False, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    ends = [json.loads(line)["end"] for line in lines if line.startswith('{"end"')]
    assert [e["run"] for e in ends] == ["nanogpt", "fast-cpu"] and all(e["train_s"] > 0 for e in ends)
    points = [json.loads(line) for line in lines if line.startswith('{"run"')]
    assert {p["run"] for p in points} == {"nanogpt", "fast-cpu"} and all(p["val_loss"] > 0 for p in points)
    assert lines[-1].startswith("summary: at nanoGPT's end (") and "fast-cpu: 1.60 in" in lines[-1]
    for name in ("nanogpt", "fast-cpu"):
        records = [json.loads(r) for r in (tmp_path / "out" / f"{name}.metrics.jsonl").read_text().splitlines()]
        assert records and all(set(r) == {"step", "val_loss", "elapsed_s"} for r in records)
