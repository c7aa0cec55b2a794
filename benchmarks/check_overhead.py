"""Per-step cost of training's safety checks (issue 8) on the book's default model, exact fp32 path.

The checks are the forward pass's input checks (shape, dtype, id range of ids and targets) and the
NaN/inf watch on the loss. Blocks of steps with the checks on and off alternate in one process, so
machine load affects both alike; the median of the block-time ratios (on / off) is reported, with
its quartiles, as one JSON line. Usage: python benchmarks/check_overhead.py [TEXT] [ROUNDS]
"""

import json
import os
import platform
import statistics
import sys
import time

import torch

import mygpt.model as model_module
from mygpt import GPT, CharTokenizer, set_seed
from mygpt.config import TrainConfig
from mygpt.train import setup_training
from mygpt.train.guards import LossWatch, RunSaver
from mygpt.utils import get_batch

STEPS_PER_BLOCK = 10


def main() -> None:
    path = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("MYGPT_SHAKESPEARE", "tinyshakespeare.txt")
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 30
    with open(path, encoding="utf-8") as f:
        text = f.read()
    tokenizer = CharTokenizer.from_text(text)
    data = tokenizer.encode(text)
    set_seed(0)
    model = GPT(tokenizer.vocab_size, 64, 4, 4)
    config = TrainConfig()
    setup = setup_training(model, config)
    watch = LossWatch(torch.device("cpu"), config, RunSaver(None, None, "unused", None, config, (None, None)))
    checks = (model_module._check_shape, model_module._check_range)
    no_checks = (lambda *args, **kwargs: None,) * 2

    def block(on: bool) -> float:
        model_module._check_shape, model_module._check_range = checks if on else no_checks
        start = time.perf_counter()
        for step in range(STEPS_PER_BLOCK):
            loss = setup.step(*get_batch(data, config.batch_size, config.seq_len))
            if on:
                watch.observe(step, loss)
        return (time.perf_counter() - start) / STEPS_PER_BLOCK

    block(True), block(False)  # warm-up
    ratios, on_times, off_times = [], [], []
    for _ in range(rounds):  # on-off then off-on, so neither always goes first
        a, b, c, d = block(True), block(False), block(False), block(True)
        ratios += [a / b, d / c]
        on_times += [a, d]
        off_times += [b, c]
    model_module._check_shape, model_module._check_range = checks
    quartiles = statistics.quantiles(ratios, n=4)
    print(json.dumps({"benchmark": "check_overhead", "cpu": platform.processor() or platform.machine(),
                      "threads": torch.get_num_threads(), "blocks": len(ratios),
                      "ms_per_step_on": round(statistics.median(on_times) * 1e3, 3),
                      "ms_per_step_off": round(statistics.median(off_times) * 1e3, 3),
                      "ratio_median": round(statistics.median(ratios), 4),
                      "ratio_q1": round(quartiles[0], 4), "ratio_q3": round(quartiles[2], 4)}))


if __name__ == "__main__":
    main()
