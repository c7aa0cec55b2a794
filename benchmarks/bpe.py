"""The book's BPE beside mygpt's: same merges and ids, how much faster; how time grows with the text.

    python benchmarks/bpe.py speed [--rounds 3] [--chars N] [--encoders-only] [--slice-mb 100]  # book vs fast
    python benchmarks/bpe.py shapes [--sizes 100000 200000 400000]  # near-linear whatever the text's shape
    python benchmarks/bpe.py prepare [--mb 100]                     # mygpt prepare MB/s per tokenizer + HF
    python benchmarks/bpe.py ch28                                   # prepare 516.7 MB: time, peak RSS

"The book" is tests/support/book_bpe.py: the book's algorithms exactly as NUMERICS.md §12 specifies them,
written plainly (the book's own package is not available here). ``speed`` times book and fast in
alternating rounds in one process (CPU time, ``time.process_time``, so that a busy machine slows them
alike), checks that they give the same merges and ids, and reports per-round ratios. Every command
prints one JSON object per line; progress goes to stderr. Set ``OMP_NUM_THREADS`` (recorded).
Tiny Shakespeare comes from ``$MYGPT_SHAKESPEARE`` (or ``--shakespeare``); larger corpora are made from
it with variations (benchmarks/shakespeare_variations.py), as no Wikipedia dump is available.
"""

import argparse
import copy
import gc
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # support.book_bpe: the reference

import shakespeare_variations  # benchmarks/ is the script's folder
from scale import _MEASURE, cpu_name
from support import book_bpe

from mygpt.tokenizer import BPETokenizer


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def machine() -> dict:
    flags = re.search(r"^flags\s*:\s*(.*)$", Path("/proc/cpuinfo").read_text(), re.MULTILINE) if Path(
        "/proc/cpuinfo").exists() else None
    simd = [f for f in (flags.group(1).split() if flags else []) if f in ("sse4_2", "avx", "avx2", "avx512f",
                                                                          "avx512bw", "fma", "neon")]
    return {"cpu": cpu_name(), "cores": os.cpu_count(), "flags": " ".join(simd),
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS", "unset"), "load_avg": os.getloadavg()[0]}


def emit(**result) -> None:
    print(json.dumps({**result, **machine()}), flush=True)


def cpu_seconds(fn):
    gc.collect()  # so that neither side pays for the other's garbage
    start = time.process_time()
    result = fn()
    return time.process_time() - start, result


def side_by_side(name: str, book, fast, same, rounds: int, chars: int, **info) -> None:
    """Time ``book()`` and ``fast()`` alternately for ``rounds`` rounds; check ``same(book, fast)``."""
    times: dict[str, list[float]] = {"book": [], "fast": []}
    for r in range(rounds):
        order = [("book", book), ("fast", fast)] if r % 2 == 0 else [("fast", fast), ("book", book)]
        results = {}
        for who, fn in order:
            seconds, results[who] = cpu_seconds(fn)
            times[who].append(seconds)
        if not same(results["book"], results["fast"]):
            raise SystemExit(f"{name}: the fast path's result differs from the book's")
        log(f"{name} round {r + 1}: book {times['book'][-1]:.3f}s fast {times['fast'][-1]:.4f}s "
            f"({times['book'][-1] / times['fast'][-1]:.1f}x)")
    ratios = [b / f for b, f in zip(times["book"], times["fast"], strict=True)]
    emit(bench="bpe_speed", op=name, chars=chars, rounds=rounds, same_result=True,
         book_cpu_s=round(statistics.median(times["book"]), 4), fast_cpu_s=round(statistics.median(times["fast"]), 4),
         ratio_median=round(statistics.median(ratios), 2), ratio_min=round(min(ratios), 2),
         ratio_max=round(max(ratios), 2), **info)


def speed_on(text: str, label: str, rounds: int, teaching: bool, merges_text: int, merges_words: int,
             trainers: bool = True) -> None:
    """from_text/encode (the teaching pair) and from_corpus/encode_corpus (the word pair) on ``text``;
    ``trainers`` False: the encoders only (the fast trainer makes their tokenizers)."""
    n = len(text)
    if teaching and trainers:
        side_by_side(f"from_text {merges_text} merges", lambda: book_bpe.from_text(text, merges_text),
                     lambda: BPETokenizer.from_text(text, merges_text).merges, lambda b, f: b == f, rounds, n,
                     text=label)
    if teaching:
        tok = BPETokenizer.from_text(text, merges_text)
        side_by_side(f"encode ({merges_text}-merge from_text tokenizer)",
                     lambda: book_bpe.encode(tok.chars, tok.merges, text),
                     lambda: BPETokenizer(tok.chars, tok.merges).encode(text).tolist(), lambda b, f: b == f,
                     rounds, n, text=label)
    trained = BPETokenizer.from_corpus(text, merges_words)
    distinct = len(set(book_bpe.WORD_RE.findall(text)))
    book_enc, fast_tok = [], []

    def book_first():
        book_enc[:] = [book_bpe.WordEncoder(trained.chars, trained.merges)]
        return book_enc[0].encode_corpus(text)

    def same(b, f):
        return b == f.tolist() and book_enc[0].word_cache == fast_tok[0]._word_cache

    for how, fresh in (("as from_corpus returned it", lambda: copy.deepcopy(trained)),
                       ("loaded from its file", lambda: BPETokenizer(trained.chars, trained.merges))):
        def fast_first(fresh=fresh):
            fast_tok[:] = [fresh()]
            return fast_tok[0].encode_corpus(text)

        side_by_side(f"encode_corpus, empty cache, {merges_words}-merge tokenizer {how}", book_first,
                     fast_first, same, rounds, n, text=label, distinct_words=distinct)
    side_by_side(f"encode_corpus, cache filled ({merges_words}-merge tokenizer)",
                 lambda: book_enc[0].encode_corpus(text), lambda: fast_tok[0].encode_corpus(text),
                 lambda b, f: b == f.tolist(), rounds, n, text=label)
    del book_enc[:], fast_tok[:]
    if not trainers:
        return
    # last: on a large corpus the book's trainer takes longest (it rewrites every distinct word per merge)
    side_by_side(f"from_corpus {merges_words} merges", lambda: book_bpe.from_corpus(text, merges_words),
                 lambda: BPETokenizer.from_corpus(text, merges_words).merges, lambda b, f: b == f,
                 max(1, rounds if n < 5e6 else 1), n, text=label)


def shakespeare(args: argparse.Namespace) -> str:
    path = args.shakespeare or os.environ.get("MYGPT_SHAKESPEARE")
    if not path or not Path(path).is_file():
        raise SystemExit("Tiny Shakespeare needed: --shakespeare FILE or MYGPT_SHAKESPEARE=FILE")
    return Path(path).read_text(encoding="utf-8")


def bench_speed(args: argparse.Namespace) -> None:
    text = shakespeare(args)
    if not args.slice_only:  # --chars: a bounded run on the first CHARS characters only
        label = f"Tiny Shakespeare, first {args.chars:,} characters" if args.chars else "Tiny Shakespeare"
        speed_on(text[:args.chars or None], label, args.rounds, True, 512, 1024, not args.encoders_only)
    if args.slice_mb:
        log(f"making a {args.slice_mb} MB corpus from Tiny Shakespeare with variations")
        big = "".join(shakespeare_variations.generate(text, args.slice_mb))
        log("from_text/encode are not run on it: the book's take hours there (every merge rescans the text)")
        speed_on(big, f"{args.slice_mb} MB of Tiny Shakespeare with variations", 1, False, 0, 1024,
                 not args.encoders_only)


def shapes(text: str, size: int, rng: np.random.Generator) -> dict[str, str]:
    """Texts of ``size`` characters of several shapes."""
    body = (text * (size // len(text) + 1))
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    lengths = rng.integers(3, 12, size // 4)
    many = " ".join("".join(w) for w in np.split(letters[rng.integers(0, 26, lengths.sum())], np.cumsum(lengths)[:-1]))
    cyrillic = str.maketrans("abcdefghijklmnopqrstuvwxyz", "абцдефгхийклмнопярстувшхыз")
    cjk_words = {w: "".join(chr(0x4E00 + (zlib.crc32(w.encode()) >> (8 * k)) % 2000) for k in range(1 + len(w) % 3))
                 for w in set(text.split())}
    cjk = "".join(cjk_words[w] + ("。" if w.endswith((".", "!", "?")) else "") for w in body.split())
    return {
        "english": body[:size],
        "no whitespace": re.sub(r"\s+", "", body)[:size],
        "one long word": "".join(np.array(list("acgt"))[rng.integers(0, 4, size)]),
        "many distinct words": many[:size],
        "cyrillic": body.lower().translate(cyrillic)[:size],
        "cjk, no whitespace": (cjk * (size // len(cjk) + 1))[:size],
    }


def bench_shapes(args: argparse.Namespace) -> None:
    text = shakespeare(args)
    for size in args.sizes:
        for shape, sample in shapes(text, size, np.random.default_rng(0)).items():
            row = {}
            row["from_text_s"], tok = cpu_seconds(lambda s=sample: BPETokenizer.from_text(s, args.merges))
            row["encode_s"], _ = cpu_seconds(lambda t=tok, s=sample: t.encode(s))
            row["from_corpus_s"], tok = cpu_seconds(lambda s=sample: BPETokenizer.from_corpus(s, args.merges))
            # a loaded tokenizer (empty word cache): from_corpus's own cache already holds the text's words
            tok = BPETokenizer(tok.chars, tok.merges)
            row["encode_corpus_s"], _ = cpu_seconds(lambda t=tok, s=sample: t.encode_corpus(s))
            per_char = {k.replace("_s", "_us_per_char"): round(v / size * 1e6, 3) for k, v in row.items()}
            log(f"{shape:20s} {size:>9,}: " + " ".join(f"{k} {v:.2f}" for k, v in row.items()))
            emit(bench="bpe_shapes", shape=shape, chars=size, merges=args.merges,
                 **{k: round(v, 4) for k, v in row.items()}, **per_char)


def _measured(command: list[str]) -> tuple[float, float, float]:
    """Run ``python -c _MEASURE command``: seconds, peak RSS (MB) of the main process and of its largest child."""
    done = subprocess.run([sys.executable, "-c", _MEASURE, *command], check=False, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(done.stderr[-2000:])
    main_kb, child_kb, seconds = (float(v) for v in done.stderr.rsplit("peak_rss_kb", 1)[1].split())
    return seconds, main_kb / 1024, child_kb / 1024


_HF = """
import json, sys, time
from tokenizers import Tokenizer, models, pre_tokenizers, trainers, decoders
path, sample_chars, vocab_size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
start = time.perf_counter()
with open(path, encoding="utf-8") as f:
    sample = f.read(sample_chars)
tok = Tokenizer(models.BPE())
tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
tok.decoder = decoders.ByteLevel()
trainer = trainers.BpeTrainer(vocab_size=vocab_size, show_progress=False,
                              initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
tok.train_from_iterator([sample], trainer)
trained = time.perf_counter()
tokens = 0
with open(path, encoding="utf-8") as f:
    while block := f.read(1 << 20):
        tokens += sum(len(e.ids) for e in tok.encode_batch(block.splitlines(keepends=True)))
print(json.dumps({"train_s": trained - start, "encode_s": time.perf_counter() - trained, "tokens": tokens,
                  "vocab_size": tok.get_vocab_size()}))
"""


def bench_prepare(args: argparse.Namespace) -> None:
    text = shakespeare(args)
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        corpus = Path(tmp) / "corpus.txt"
        log(f"writing {args.mb} MB of Tiny Shakespeare with variations to {corpus}")
        with open(corpus, "w", encoding="utf-8") as f:
            f.writelines(shakespeare_variations.generate(text, args.mb))
        size = corpus.stat().st_size
        vocab = {}
        for kind in args.tokenizers:
            out = Path(tmp) / f"prepared-{kind}"
            seconds, main_mb, child_mb = _measured(["prepare", str(corpus), "--out", str(out), "--tokenizer", kind,
                                                    "--workers", str(args.workers), "--num-merges", str(args.merges)])
            meta = json.loads((out / "meta.json").read_text())
            vocab[kind] = meta["vocab_size"]
            emit(bench="prepare", tokenizer=kind, corpus="Tiny Shakespeare with variations", corpus_mb=size / 1e6,
                 workers=args.workers, seconds=round(seconds, 2), mb_per_s=round(size / 1e6 / seconds, 2),
                 tokens=meta["tokens"], vocab_size=meta["vocab_size"], peak_rss_mb_main=round(main_mb, 1),
                 peak_rss_mb_worker=round(child_mb, 1))
            subprocess.run(["rm", "-rf", str(out)], check=True)
        if args.hf:
            vocab_size = vocab.get("bpe", 65 + args.merges)
            done = subprocess.run([sys.executable, "-c", _HF, str(corpus), "10000000", str(vocab_size)],
                                  capture_output=True, text=True, check=True,
                                  env={**os.environ, "RAYON_NUM_THREADS": str(args.workers)})
            hf = json.loads(done.stdout)
            seconds = hf["train_s"] + hf["encode_s"]
            emit(bench="prepare", tokenizer="huggingface tokenizers byte-level BPE (train on the first 10 MB, "
                 "encode all; not written to shards)", corpus_mb=size / 1e6, threads=args.workers,
                 seconds=round(seconds, 2), mb_per_s=round(size / 1e6 / seconds, 2), train_s=round(hf["train_s"], 2),
                 encode_s=round(hf["encode_s"], 2), tokens=hf["tokens"], vocab_size=hf["vocab_size"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shakespeare", default=None, help="tinyshakespeare.txt (default: $MYGPT_SHAKESPEARE)")
    sub = parser.add_subparsers(dest="bench", required=True)
    s = sub.add_parser("speed", help="the book's BPE beside the fast one, same results, CPU-time ratios")
    s.add_argument("--rounds", type=int, default=3)
    s.add_argument("--chars", type=int, default=0,
                   help="Only the first CHARS characters of Tiny Shakespeare (a quicker run; default: all).")
    s.add_argument("--encoders-only", action="store_true", help="Time the encoders only, not the trainers.")
    s.add_argument("--slice-only", action="store_true", help="Only the slice (--slice-mb), not Tiny Shakespeare.")
    s.add_argument("--slice-mb", type=float, default=0,
                   help="Also a slice of this many MB of Tiny Shakespeare with variations (the issue's: 100).")
    h = sub.add_parser("shapes", help="fast-path seconds per character at several sizes and text shapes")
    h.add_argument("--sizes", type=int, nargs="+", default=[100_000, 200_000, 400_000])
    h.add_argument("--merges", type=int, default=1024)
    for name, mb in (("prepare", 100.0), ("ch28", 516.7)):
        p = sub.add_parser(name, help="mygpt prepare MB/s per tokenizer, Hugging Face tokenizers beside it"
                           if name == "prepare" else "the Ch.28 run's size: prepare 516.7 MB with BPE")
        p.add_argument("--mb", type=float, default=mb)
        p.add_argument("--tokenizers", nargs="+", default=["char", "bpe", "bytebpe"] if name == "prepare"
                       else ["bpe"])
        p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
        p.add_argument("--merges", type=int, default=1024)
        p.add_argument("--hf", action=argparse.BooleanOptionalAction, default=name == "prepare")
        p.add_argument("--tmp", default=None, help="Folder for the corpus (default: the system's temporary one).")
    args = parser.parse_args()
    {"speed": bench_speed, "shapes": bench_shapes, "prepare": bench_prepare, "ch28": bench_prepare}[args.bench](args)


if __name__ == "__main__":
    main()
