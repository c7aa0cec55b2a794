"""Each model option and the optimizer on its own: whole-split validation loss at equal CPU time.

    OMP_NUM_THREADS=1 python benchmarks/model_options.py TEXT [--budget 30] [--variants ...] [--seeds 0]

Starts from the ``fast-cpu`` recipe (``mygpt.train.recipes``) and changes one thing per variant:

* ``recipe``: the recipe as it is (Muon on the blocks' matrices, AdamW on the rest, untied head);
* ``adamw``: AdamW on every weight at the recipe's ``lr`` (Muon against AdamW);
* ``tied_head``: the recipe with the book's tied head (what its untied head gains);
* ``qk_norm``, ``relu_squared``, ``zero_init``, ``logit_softcap`` (cap 15): the speedruns' other
  model options (``GPTConfig``), each added alone.

Every variant gets the same CPU-time budget (``--budget`` seconds of ``time.process_time``; with one
thread that is the work itself, and other programs on a shared machine disturb it far less than the
wall clock): its per-step CPU time is measured first on a throwaway copy (20 steps after a warm-up),
its step count is the budget over that, and the cosine schedule spans those steps. Training is
``mygpt.train.loop.train`` on the first 90% of the text (the fast path, compilation off so no
variant pays or skips it); the loss is over the whole last 10% (``mygpt.analysis.evaluate``, windows
of the context). Variants alternate within each seed. Prints one JSON line per run, then a summary: each
variant's median loss and its difference from ``recipe`` (median and range over seeds; negative
helps). Set ``OMP_NUM_THREADS`` to fix the threads.
"""

import argparse
import contextlib
import dataclasses
import io
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch

from mygpt import GPT, set_seed
from mygpt.analysis.evaluate import evaluate
from mygpt.fast.hardware import cpu_name
from mygpt.tokenizer import CharTokenizer, encode_corpus
from mygpt.train.loop import setup_training, train
from mygpt.train.recipes import RECIPES

VARIANTS = {
    "recipe": ({}, {}),
    "adamw": ({}, {"optimizer": "adamw"}),
    "tied_head": ({"untied_head": False}, {}),
    "qk_norm": ({"qk_norm": True}, {}),
    "relu_squared": ({"relu_squared": True}, {}),
    "zero_init": ({"zero_init": True}, {}),
    "logit_softcap": ({"logit_softcap": 15.0}, {}),
}


def configs(name: str, vocab_size: int, seed: int, steps: int):
    model_changes, train_changes = VARIANTS[name]
    model, training = RECIPES["fast-cpu"].configs(vocab_size, **train_changes, steps=steps, seed=42 + seed,
                                                  compile=False, print_every=10**9, val_every=0)
    return dataclasses.replace(model, **model_changes), training


def cpu_s_per_step(name: str, vocab_size: int, data: torch.Tensor) -> float:
    """CPU seconds of one training step of variant ``name`` (20 steps after 3 warm-up ones)."""
    model_config, training = configs(name, vocab_size, 0, 1000)
    set_seed(0)
    setup = setup_training(GPT.from_config(model_config), training)
    B, T = training.batch_size, training.seq_len
    starts = torch.randint(0, len(data) - T - 1, (23, B), generator=torch.Generator().manual_seed(0))
    times = []
    for i in range(23):
        x = torch.stack([data[s:s + T] for s in starts[i]])
        y = torch.stack([data[s + 1:s + T + 1] for s in starts[i]])
        start = time.process_time()
        setup.step(x, y)
        times.append(time.process_time() - start)
    return statistics.mean(times[3:])


def run(name: str, seed: int, budget: float, tokenizer, train_ids, val_ids, work: str) -> dict:
    per_step = cpu_s_per_step(name, tokenizer.vocab_size, train_ids)
    steps = max(1, int(budget / per_step))
    model_config, training = configs(name, tokenizer.vocab_size, seed, steps)
    set_seed(seed)
    model = GPT.from_config(model_config)
    start = time.process_time()
    with contextlib.redirect_stdout(io.StringIO()):
        train(model, tokenizer, train_ids, None, training, os.path.join(work, f"{name}.ckpt"), handle_signals=False)
    cpu_s = time.process_time() - start
    model.set_fast(False)  # the exact path: no weight copies that an optimizer step could leave stale
    return {"variant": name, "seed": seed, "steps": steps, "cpu_ms_per_step": round(per_step * 1e3, 2),
            "train_cpu_s": round(cpu_s, 1), "val_loss": round(evaluate(model, val_ids, model.max_seq_len, 64).loss, 4),
            "load_average_1min": round(os.getloadavg()[0], 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("text", type=Path, help="Tiny Shakespeare (or any text; char level, last 10% held out).")
    parser.add_argument("--budget", type=float, default=30.0, help="CPU seconds of training per run. Default: 30.")
    parser.add_argument("--variants", default=",".join(VARIANTS), help="Comma-separated subset of the variants.")
    parser.add_argument("--seeds", default="0", help="Comma-separated seeds (one round each). Default: 0.")
    args = parser.parse_args()
    text = args.text.read_text(encoding="utf-8")
    tokenizer = CharTokenizer.from_text(text)
    ids = encode_corpus(tokenizer, text)
    split = int(0.9 * len(ids))
    train_ids, val_ids = ids[:split], ids[split:]
    names, seeds = args.variants.split(","), [int(s) for s in args.seeds.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as work:
        for seed in seeds:
            for name in names:
                rows.append(run(name, seed, args.budget, tokenizer, train_ids, val_ids, work))
                print(json.dumps(rows[-1]), flush=True)
    summary = {"cpu": cpu_name(), "torch_threads": torch.get_num_threads(),
               "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"), "budget_cpu_s": args.budget, "variants": {}}
    for name in names:
        losses = {r["seed"]: r["val_loss"] for r in rows if r["variant"] == name}
        entry = {"val_loss": statistics.median(losses.values()),
                 "steps": statistics.median(r["steps"] for r in rows if r["variant"] == name)}
        if "recipe" in names and name != "recipe":
            base = {r["seed"]: r["val_loss"] for r in rows if r["variant"] == "recipe"}
            diffs = [round(losses[s] - base[s], 4) for s in seeds]
            entry["minus_recipe"] = {"median": statistics.median(diffs), "range": [min(diffs), max(diffs)]}
        summary["variants"][name] = entry
    summary["load_average_1min"] = round(os.getloadavg()[0], 2)
    print(json.dumps({"summary": summary}))


if __name__ == "__main__":
    main()
