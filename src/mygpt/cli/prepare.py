"""``mygpt prepare``: tokenize text files or folders once into token shards that ``mygpt train DIR`` reads."""

import argparse
import contextlib
import os
import signal
import sys
import threading
import time

from tqdm import tqdm

from ..data.prepare import DEFAULT_BPE_TRAIN_BYTES, check_workers, prepare
from ..tokenizer import TOKENIZERS
from .common import BPE_TRAIN_UNIT

DESCRIPTION = ("Reads the inputs as one stream (files in the order given, folders' files in sorted "
               "order), builds the tokenizer, encodes on all cores and writes tokenizer.json, "
               "train-*.bin and val-*.bin token shards and meta.json into --out. Memory stays flat "
               "however big the corpus is. Then: mygpt train DIR.")


def add_parser(sub) -> None:
    """Register ``mygpt prepare``."""
    p = sub.add_parser("prepare", help="Tokenize a corpus bigger than memory into shards for training.",
                       description=DESCRIPTION)
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="UTF-8 text files or folders of them.")
    p.add_argument("--out", required=True, help="New (or empty) folder to write the prepared data into.")
    kinds = [f"'{kind}' ({cls.about}{', needs ' + cls.extra if cls.extra else ''})"
             for kind, cls in TOKENIZERS.items()]
    p.add_argument("--tokenizer", default="char", choices=list(TOKENIZERS),
                   help=f"Tokenizer: {', '.join(kinds[:-1])} or {kinds[-1]}. Default: char.")
    merging = " and ".join(f"'{kind}'" for kind, cls in TOKENIZERS.items() if cls.learns_merges)
    p.add_argument("--num-merges", type=int, default=1024,
                   help=f"Number of BPE merges, for the kinds that learn merges ({merging}). Default: 1024.")
    p.add_argument("--bpe-train-bytes", type=int, default=DEFAULT_BPE_TRAIN_BYTES,
                   help=f"Learn the BPE merges from the first N of the corpus. {BPE_TRAIN_UNIT} Default: "
                        f"{DEFAULT_BPE_TRAIN_BYTES:,} (10 MB of ASCII), where mygpt train's is 0: the whole "
                        "corpus would be held in memory while the merges are learned, and prepare is for "
                        "corpora bigger than memory.")
    p.add_argument("--val-split", type=float, default=0.0,
                   help="Fraction of the tokens (the last ones) held out for validation, as in mygpt "
                        "train. Default: 0.0.")
    p.add_argument("--workers", type=int, default=0,
                   help="Processes that encode (0 = one per CPU core, default).")
    p.set_defaults(func=_prepare_command)


def _prepare_command(args: argparse.Namespace) -> None:
    check_workers(args.workers)
    workers = args.workers or os.cpu_count() or 1
    start = time.perf_counter()
    try:
        with tqdm(desc="encode", unit="char", unit_scale=True, file=sys.stderr,
                  disable=not sys.stderr.isatty()) as bar, _sigterm_interrupts() as received:

            def show(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            meta = prepare(args.inputs, args.out, args.tokenizer, args.num_merges, args.bpe_train_bytes,
                           args.val_split, workers, progress=show)
    except KeyboardInterrupt:
        name = "SIGTERM" if received else "SIGINT"
        print(f"mygpt: prepare stopped by {name}; nothing was written to {args.out} (the workers have ended)",
              file=sys.stderr)
        sys.exit(143 if received else 130)
    seconds = time.perf_counter() - start
    val = sum(s["tokens"] for s in meta["val"])
    print(f"inputs:       {len(meta['inputs'])} file(s), {meta['chars']:,} chars")
    print(f"tokenizer:    {meta['tokenizer']} (vocab_size {meta['vocab_size']}, {meta['dtype']} shards)")
    print(f"train tokens: {meta['tokens'] - val:,} in {len(meta['train'])} shard(s)")
    print(f"val tokens:   {val:,} in {len(meta['val'])} shard(s)")
    print(f"workers:      {workers}")
    print(f"time:         {seconds:.1f}s ({_total_bytes(meta['inputs']) / 1e6 / max(seconds, 1e-9):.1f} MB/s)")
    print(f"wrote {args.out}; train with: mygpt train {args.out}")


@contextlib.contextmanager
def _sigterm_interrupts():
    """SIGTERM interrupts like Ctrl-C, so that the workers are stopped and the temporary folder removed;
    the yielded list is non-empty once SIGTERM came."""
    received = []

    def interrupt(signum, frame):
        received.append(signum)
        raise KeyboardInterrupt

    if threading.current_thread() is not threading.main_thread():
        yield received
        return
    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield received
    finally:
        signal.signal(signal.SIGTERM, previous)


def _total_bytes(files: list[str]) -> int:
    return sum(os.path.getsize(f) for f in files)
