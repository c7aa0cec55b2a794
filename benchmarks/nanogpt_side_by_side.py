"""Training speed of mygpt and nanoGPT side by side, at nanoGPT's documented CPU recipe shape.

    python benchmarks/nanogpt_side_by_side.py /path/to/nanoGPT tinyshakespeare.txt [--compile]

nanoGPT's README trains Tiny Shakespeare (char level) on a CPU with C=128, 4 layers, 4 heads, B=12,
T=64, dropout 0 (its ``train.py config/train_shakespeare_char.py --device=cpu --compile=False ...``).
This script runs that exact command from the given checkout (nothing of nanoGPT is copied here) on
data prepared as nanoGPT's ``prepare.py`` does, and the same shape and recipe (cosine schedule with
100 warm-up steps, gradient clipping at 1.0) through mygpt's exact and fast paths. Every run is a
fresh process; the runners alternate in rounds, so a busy machine slows them alike.

An iteration is what nanoGPT's ``train.py`` times (batch drawing, forward, backward, clipping,
optimizer step and the loss read-out). Two figures per run, start-up excluded from both: wall
ms/iteration (the median of the printed per-iteration times after ``--skip``) and CPU ms/iteration
(the process CPU time of a long run minus a short one, over the iterations between them; on a shared
machine this is the steadier one, and with one thread it is the work itself). Prints one JSON object
per runner and round, then a JSON summary: medians over rounds, and each mygpt runner's speed relative
to each nanoGPT runner as the median and range of same-round ratios. Set OMP_NUM_THREADS to fix the
threads of every run alike.
"""

import argparse
import json
import os
import pickle
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SHAPE = {"n_embd": 128, "n_layer": 4, "n_head": 4, "batch_size": 12, "block_size": 64}
NANOGPT_FLAGS = ["--device=cpu", "--eval_iters=20", "--log_interval=1", "--block_size=64", "--batch_size=12",
                 "--n_layer=4", "--n_head=4", "--n_embd=128", "--dropout=0.0", "--dtype=float32"]
ITER_LINE = re.compile(r"^iter (\d+): loss [-\d.naninf]+, time ([\d.]+)ms")


def prepare_data(text_path: Path, work: Path) -> Path:
    """``data/shakespeare_char/{train,val}.bin, meta.pkl`` under ``work``, as nanoGPT's prepare.py writes them."""
    text = text_path.read_text(encoding="utf-8")
    chars = sorted(set(text))
    stoi = {ch: i for i, ch in enumerate(chars)}
    ids = np.array([stoi[c] for c in text], dtype=np.uint16)
    n = int(0.9 * len(ids))
    out = work / "data" / "shakespeare_char"
    out.mkdir(parents=True, exist_ok=True)
    ids[:n].tofile(out / "train.bin")
    ids[n:].tofile(out / "val.bin")
    with open(out / "meta.pkl", "wb") as f:
        pickle.dump({"vocab_size": len(chars), "itos": dict(enumerate(chars)), "stoi": stoi}, f)
    return out


def nanogpt_command(iters: int, compiled: bool, work: Path) -> list[str]:
    """nanoGPT's README CPU command (run in ``work``), shortened to ``iters`` with one evaluation at start."""
    return [sys.executable, "train.py", "config/train_shakespeare_char.py", *NANOGPT_FLAGS,
            f"--compile={compiled}", f"--max_iters={iters}", f"--lr_decay_iters={iters}",
            "--eval_interval=100000", f"--out_dir={work / 'out'}"]


def mygpt_worker(data_dir: Path, iters: int, fast: bool, precision: str) -> None:
    """Train mygpt at the recipe's shape, printing nanoGPT-style ``iter N: loss L, time Tms`` lines."""
    import torch

    from mygpt import GPT, cosine_warmup_lr, get_batch, set_seed
    from mygpt.config import TrainConfig
    from mygpt.train import setup_training

    with open(data_dir / "meta.pkl", "rb") as f:
        vocab_size = pickle.load(f)["vocab_size"]
    data = torch.from_numpy(np.fromfile(data_dir / "train.bin", dtype=np.uint16).astype(np.int64))
    set_seed(0)
    model = GPT(vocab_size, SHAPE["n_embd"], SHAPE["n_head"], SHAPE["n_layer"], max_seq_len=SHAPE["block_size"])
    B, T = SHAPE["batch_size"], SHAPE["block_size"]
    setup = setup_training(model, TrainConfig(steps=iters, batch_size=B, seq_len=T, lr=1e-3, max_grad_norm=1.0,
                                              schedule="cosine", warmup=100, fast=fast, precision=precision))
    set_seed(42)
    start = time.time()
    for step in range(1, iters + 1):
        for group in setup.optimizer.param_groups:
            group["lr"] = cosine_warmup_lr(step, 100, iters, 1e-3)
        loss = setup.step(*get_batch(data, B, T))
        lossf = loss.item()
        now = time.time()
        print(f"iter {step - 1}: loss {lossf:.4f}, time {(now - start) * 1000:.2f}ms", flush=True)
        start = now


def _child_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_once(runner: str, args: argparse.Namespace, work: Path, iters: int) -> tuple[list[float], float]:
    """One fresh process of ``runner`` for ``iters`` iterations: its printed ms/iteration and CPU seconds."""
    if runner.startswith("nanogpt"):
        command = nanogpt_command(iters, runner == "nanogpt-compiled", work)
    else:
        command = [sys.executable, __file__, "--worker", runner, str(args.nanogpt), str(args.text),
                   "--iters", str(iters)]
    env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": str(work / "inductor")}
    cpu = _child_cpu_s()
    done = subprocess.run(command, cwd=work, env=env, capture_output=True, text=True, check=False)
    cpu = _child_cpu_s() - cpu
    times = [float(m.group(2)) for line in done.stdout.splitlines() if (m := ITER_LINE.match(line))]
    if done.returncode != 0 or len(times) <= args.skip:
        sys.exit(f"{runner} failed (exit {done.returncode}):\n{done.stderr[-3000:]}")
    return times[args.skip:], cpu


def measure(runner: str, args: argparse.Namespace, work: Path) -> dict:
    """Wall ms/iteration (median of the printed times after ``--skip``) and CPU ms/iteration.

    CPU time is the difference between a run of ``--iters`` and one of a third as many iterations,
    so start-up (imports, data, the first evaluation, compilation) cancels out; it is what a busy
    machine disturbs least.
    """
    short = max(args.skip + 1, args.iters // 3)
    _, cpu_short = run_once(runner, args, work, short)
    times, cpu_long = run_once(runner, args, work, args.iters)
    return {"runner": runner, "wall_ms_per_iter": statistics.median(times),
            "cpu_ms_per_iter": (cpu_long - cpu_short) / (args.iters - short) * 1000}


def link_checkout(nanogpt: Path, work: Path) -> None:
    """nanoGPT's train.py reads ``configurator.py`` and ``data/`` from its working directory: link them."""
    for name in ("train.py", "model.py", "configurator.py", "config"):
        target = work / name
        if not target.exists():
            target.symlink_to(nanogpt / name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("nanogpt", type=Path, help="Path of a local nanoGPT checkout (karpathy/nanoGPT).")
    parser.add_argument("text", type=Path, help="Tiny Shakespeare (input.txt of char-rnn).")
    parser.add_argument("--iters", type=int, default=150, help="Iterations per run. Default: 150.")
    parser.add_argument("--skip", type=int, default=20, help="Leading iterations left out. Default: 20.")
    parser.add_argument("--rounds", type=int, default=3, help="Alternating rounds. Default: 3.")
    parser.add_argument("--compile", action="store_true", help="Also run nanoGPT with --compile=True.")
    parser.add_argument("--runners", default="", help="Comma-separated subset of the runners to run.")
    parser.add_argument("--bf16", action="store_true",
                        help="Also run mygpt --fast --precision bf16 (bf16 where native and faster, else fp32).")
    parser.add_argument("--worker", choices=["mygpt-exact", "mygpt-fast", "mygpt-fast-bf16"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        mygpt_worker(Path.cwd() / "data" / "shakespeare_char", args.iters, fast=args.worker != "mygpt-exact",
                     precision="bf16" if args.worker.endswith("bf16") else "fp32")
        return
    args.nanogpt = args.nanogpt.resolve()
    args.text = args.text.resolve()
    if not (args.nanogpt / "train.py").is_file():
        sys.exit(f"nanogpt_side_by_side: no train.py in {args.nanogpt}; pass a nanoGPT checkout")
    runners = ["nanogpt", *(["nanogpt-compiled"] if args.compile else []), "mygpt-exact", "mygpt-fast",
               *(["mygpt-fast-bf16"] if args.bf16 else [])]
    if args.runners:
        runners = [r for r in runners if r in args.runners.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        prepare_data(args.text, work)
        link_checkout(args.nanogpt, work)
        if "nanogpt-compiled" in runners:  # fill the compile cache first, so both runs of a pair start warm
            run_once("nanogpt-compiled", args, work, args.skip + 1)
        results = {r: [] for r in runners}
        for round_ in range(args.rounds):
            for runner in runners:
                row = {"round": round_, **measure(runner, args, work)}
                results[runner].append(row)
                print(json.dumps(row), flush=True)
    summary = {"shape": SHAPE, "iters": args.iters, "skipped": args.skip, "rounds": args.rounds,
               "torch_threads_env": os.environ.get("OMP_NUM_THREADS"),
               "load_average_1min": round(os.getloadavg()[0], 2), "runners": {}, "speedup": {}}
    for runner, rows in results.items():
        summary["runners"][runner] = {key: statistics.median(row[key] for row in rows)
                                      for key in ("cpu_ms_per_iter", "wall_ms_per_iter")}
    for mine in (r for r in runners if r.startswith("mygpt")):
        for theirs in (r for r in runners if r.startswith("nanogpt")):
            for key in ("cpu_ms_per_iter", "wall_ms_per_iter"):
                ratios = [t[key] / m[key] for t, m in zip(results[theirs], results[mine])]
                summary["speedup"][f"{mine} vs {theirs} ({key.split('_')[0]})"] = {
                    "median": round(statistics.median(ratios), 3),
                    "range": [round(min(ratios), 3), round(max(ratios), 3)]}
    print(json.dumps({"summary": summary}))


if __name__ == "__main__":
    main()
