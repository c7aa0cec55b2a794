"""Benchmarks of the scale features: ``mygpt prepare`` throughput, training from shards, several processes.

    python benchmarks/scale.py prepare [--mb 1000]     # MB/s and peak RSS, 1 worker vs every core
    python benchmarks/scale.py shards [--rounds 5]     # tokens/s from shards vs from an in-memory tensor
    python benchmarks/scale.py ddp [--nproc 2]         # N processes vs 1 at the same global batch

Each prints one JSON object per line (machine-readable); progress goes to stderr. The corpus is
generated (random words) in a temporary folder. On a GPU machine, ``ddp --device cuda --nproc N``
compares N GPUs with one.
"""

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

WORDS = np.array(["the", "of", "and", "to", "in", "a", "is", "that", "for", "it", "as", "was", "with", "be",
                  "by", "on", "not", "he", "I", "this", "are", "or", "his", "from", "at", "which", "but",
                  "have", "an", "had", "they", "you", "were", "their", "one", "all", "we", "can", "her", "has",
                  "there", "been", "if", "more", "when", "will", "would", "who", "so", "no", "café", "naïve",
                  "ROMEO:", "JULIET:", "thee,", "thou", "doth.", "\n"])
# One measured process: runs ``mygpt ARGS`` (timed after the imports) and reports its own and its
# largest child's peak RSS.
_MEASURE = ("import re, resource, sys, time\nfrom mygpt.cli import main\nstart = time.perf_counter()\n"
            "main(sys.argv[1:])\nseconds = time.perf_counter() - start\n"
            "hwm = re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1)\n"
            "print('peak_rss_kb', hwm, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, seconds, "
            "file=sys.stderr)\n")


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def emit(**result) -> None:
    print(json.dumps(result), flush=True)


def cpu_name() -> str:
    try:
        return re.search(r"model name\s*:\s*(.*)", Path("/proc/cpuinfo").read_text()).group(1)
    except (OSError, AttributeError):
        return "unknown"


def write_corpus(path: Path, megabytes: float, seed: int = 0) -> int:
    """Random words until ``megabytes`` MB; returns the bytes written."""
    rng = np.random.default_rng(seed)
    written, target = 0, int(megabytes * 1e6)
    with open(path, "w", encoding="utf-8") as f:
        while written < target:
            piece = " ".join(WORDS[rng.integers(0, len(WORDS), 1_000_000)]) + " "
            written += f.write(piece[: target - written])
    return path.stat().st_size


def bench_prepare(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        corpus = Path(tmp) / "corpus.txt"
        log(f"writing a {args.mb} MB corpus to {corpus}")
        size = write_corpus(corpus, args.mb)
        for workers in args.workers:
            out = Path(tmp) / f"prepared-{workers}"
            done = subprocess.run([sys.executable, "-c", _MEASURE, "prepare", str(corpus), "--out", str(out),
                                   "--workers", str(workers), "--tokenizer", args.tokenizer],
                                  capture_output=True, text=True, check=True)
            main_kb, child_kb, seconds = (float(v) for v in done.stderr.rsplit("peak_rss_kb", 1)[1].split())
            emit(bench="prepare", tokenizer=args.tokenizer, corpus_mb=size / 1e6, workers=workers,
                 seconds=round(seconds, 2), mb_per_s=round(size / 1e6 / seconds, 2),
                 peak_rss_mb_main=round(main_kb / 1024, 1), peak_rss_mb_worker=round(child_kb / 1024, 1),
                 cpu=cpu_name(), cores=os.cpu_count())
            subprocess.run(["rm", "-rf", str(out)], check=True)


def _steps_per_s(data, setup, batch_size: int, seq_len: int, steps: int) -> float:
    from mygpt.utils import get_batch

    start = time.perf_counter()
    for _ in range(steps):
        setup.step(*get_batch(data, batch_size, seq_len))
    return steps / (time.perf_counter() - start)


def bench_shards(args: argparse.Namespace) -> None:
    from mygpt import GPT
    from mygpt.config import GPTConfig, TrainConfig
    from mygpt.data.prepare import prepare
    from mygpt.data.shards import load_prepared
    from mygpt.train import setup_training
    from mygpt.utils import set_seed

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        write_corpus(Path(tmp) / "corpus.txt", args.mb)
        prepare([str(Path(tmp) / "corpus.txt")], str(Path(tmp) / "p"), workers=1)
        tokenizer, _, shards, _ = load_prepared(Path(tmp) / "p")
        tensor = shards[0:len(shards)]
        B, T = args.batch_size, 64
        set_seed(0)
        model = GPT.from_config(GPTConfig(vocab_size=tokenizer.vocab_size))  # the book's default model
        setup = setup_training(model, TrainConfig(batch_size=B, seq_len=T))
        rates: dict[str, list[float]] = {"tensor": [], "shards": []}
        _steps_per_s(tensor, setup, B, T, 5)  # warm-up
        for round_ in range(args.rounds):  # alternate, so drifting machine load hits both alike
            for name, data in (("tensor", tensor), ("shards", shards)):
                rates[name].append(_steps_per_s(data, setup, B, T, args.steps) * B * T)
            log(f"round {round_ + 1}: tensor {rates['tensor'][-1]:,.0f}, shards {rates['shards'][-1]:,.0f} tok/s")
        ratios = [s / t for s, t in zip(rates["shards"], rates["tensor"])]
        emit(bench="shards_vs_tensor", model="book default (C=64, 4 layers, 4 heads)", batch_size=B, seq_len=T,
             tokens=len(shards), rounds=args.rounds, steps_per_round=args.steps,
             tensor_tokens_per_s=round(statistics.median(rates["tensor"])),
             shards_tokens_per_s=round(statistics.median(rates["shards"])),
             ratio_median=round(statistics.median(ratios), 3), ratio_min=round(min(ratios), 3),
             ratio_max=round(max(ratios), 3), threads=args.threads, cpu=cpu_name())


def ddp_worker(args: argparse.Namespace) -> None:
    """One process of the DDP benchmark (started alone or by torchrun): timed steps at a global batch."""
    from mygpt import GPT
    from mygpt.config import GPTConfig, TrainConfig
    from mygpt.train import setup_training
    from mygpt.train.distributed import close_world, init_world
    from mygpt.utils import get_batch, set_seed

    world, device = init_world(args.device)
    B, T = args.batch_size, 64
    data = torch.randint(0, 65, (1_000_000,), generator=torch.Generator().manual_seed(0)).to(device)
    set_seed(0)
    model = GPT.from_config(GPTConfig(vocab_size=65)).to(device)
    setup = setup_training(model, TrainConfig(batch_size=B, seq_len=T), world)
    stream = world.batch_stream(42)

    def run(steps: int) -> float:
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(steps):
            loss = setup.step(*get_batch(data, B, T, generator=stream))
        loss.item()
        return time.perf_counter() - start

    run(5)
    seconds = run(args.steps)
    if world.is_main:
        emit(processes=world.size, tokens_per_s=round(args.steps * B * T / seconds), threads=torch.get_num_threads())
    close_world(world)


def bench_ddp(args: argparse.Namespace) -> None:
    common = [__file__, "ddp-worker", "--batch-size", str(args.batch_size), "--steps", str(args.steps),
              "--device", args.device]
    cores = os.cpu_count() or 1
    runs = {1: [sys.executable, *common],
            args.nproc: [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node",
                         str(args.nproc), *common]}
    rates: dict[int, list[float]] = {n: [] for n in runs}
    for round_ in range(args.rounds):
        for n, command in runs.items():
            env = {**os.environ, "OMP_NUM_THREADS": str(args.threads)}
            done = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
            rates[n].append(json.loads(done.stdout.strip().splitlines()[-1])["tokens_per_s"])
        log(f"round {round_ + 1}: " + ", ".join(f"{n} proc {r[-1]:,} tok/s" for n, r in rates.items()))
    ratios = [m / s for m, s in zip(rates[args.nproc], rates[1])]
    emit(bench="ddp", device=args.device, processes=args.nproc, batch_size=args.batch_size, seq_len=64,
         model="book default (C=64, 4 layers, 4 heads)",
         one_tokens_per_s=statistics.median(rates[1]), many_tokens_per_s=statistics.median(rates[args.nproc]),
         ratio_median=round(statistics.median(ratios), 3), ratio_min=round(min(ratios), 3),
         ratio_max=round(max(ratios), 3), rounds=args.rounds, threads_per_process=args.threads, cpu=cpu_name(),
         cores=cores)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="bench", required=True)
    p = sub.add_parser("prepare", help="mygpt prepare MB/s and peak RSS, 1 worker vs all cores")
    p.add_argument("--mb", type=float, default=1000, help="Corpus size in MB (default 1000).")
    p.add_argument("--workers", type=int, nargs="+", default=[1, os.cpu_count() or 1])
    p.add_argument("--tokenizer", default="char", help="Tokenizer kind (default char).")
    p.add_argument("--tmp", default=None, help="Folder for the temporary corpus (default: the system's).")
    s = sub.add_parser("shards", help="training tokens/s from shards vs from an in-memory tensor")
    s.add_argument("--mb", type=float, default=50, help="Corpus size in MB (default 50).")
    s.add_argument("--rounds", type=int, default=5)
    s.add_argument("--steps", type=int, default=40, help="Steps per timed round (default 40).")
    s.add_argument("--batch-size", type=int, default=16)
    s.add_argument("--threads", type=int, default=torch.get_num_threads())
    s.add_argument("--tmp", default=None)
    d = sub.add_parser("ddp", help="N processes vs 1 at the same global batch")
    d.add_argument("--nproc", type=int, default=2)
    d.add_argument("--device", default="cpu")
    d.add_argument("--batch-size", type=int, default=32, help="Global batch (default 32).")
    d.add_argument("--steps", type=int, default=30)
    d.add_argument("--rounds", type=int, default=3)
    d.add_argument("--threads", type=int, default=1, help="Torch threads per process (default 1).")
    w = sub.add_parser("ddp-worker", help=argparse.SUPPRESS)
    w.add_argument("--batch-size", type=int, default=32)
    w.add_argument("--steps", type=int, default=30)
    w.add_argument("--device", default="cpu")
    args = parser.parse_args()
    {"prepare": bench_prepare, "shards": bench_shards, "ddp": bench_ddp, "ddp-worker": ddp_worker}[args.bench](args)


if __name__ == "__main__":
    main()
