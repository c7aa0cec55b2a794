"""A large corpus made from Tiny Shakespeare with variations, for BPE and ``mygpt prepare`` at Ch.28's scale.

    python benchmarks/shakespeare_variations.py tinyshakespeare.txt OUT.txt --mb 516.7

The book's Ch.28 run prepares 516.7 MB of Wikipedia, which is not available here. This writes a corpus
of any size from Tiny Shakespeare instead: passages of 20-200 lines from random places, in which about
one word in ten is replaced by a variant (a changed letter, a suffix, capitals, a hyphenated pair, a
number). Variants come from a pool of 4 million, drawn with Zipf's law, so new words keep appearing as
the corpus grows (Heaps' law), as they do in real text: 0.3 million distinct words in 100 MB (words of
the book's word regex) against Tiny Shakespeare's 27 thousand. The corpus is the same for the same seed
and size.
"""

import argparse
import re
import sys
from pathlib import Path

import numpy as np

SUFFIXES = ["s", "ed", "ing", "ly", "er", "est", "ness", "'s", ",", ".", ";", ":", "!", "?", "eth", "st"]
LETTERS = list("abcdefghijklmnopqrstuvwxyz") + list("éèàçñüöß")
POOL = 4_000_000
REPLACE = 0.1
ZIPF = 1.15


def _variant(word: str, kind: int, r: int, other: str) -> str:
    if kind == 0 and len(word) > 1:
        at = r % len(word)
        return word[:at] + LETTERS[r % len(LETTERS)] + word[at + 1:]
    if kind == 1:
        return word + SUFFIXES[r % len(SUFFIXES)]
    if kind == 2:
        return word.upper() if r % 2 else word.capitalize()
    if kind == 3:
        return word + "-" + other
    if kind == 4:
        return str(r % 10 ** (1 + r % 4))
    return LETTERS[r % len(LETTERS)] + word


def variants(words: list[str], seed: int) -> list[str]:
    """The pool, in the order Zipf's law ranks them (index 0 is drawn most often)."""
    rng = np.random.default_rng(seed)
    base, other = rng.integers(len(words), size=(2, POOL)).tolist()
    kinds, draws = rng.integers(6, size=POOL).tolist(), rng.integers(1 << 30, size=POOL).tolist()
    return [_variant(words[w], k, r, words[o]) for w, k, r, o in zip(base, kinds, draws, other, strict=True)]


def generate(shakespeare: str, megabytes: float, seed: int = 0):
    """Pieces of text (str) adding up to ``megabytes`` MB of UTF-8."""
    rng = np.random.default_rng(seed + 1)
    lines = shakespeare.splitlines(keepends=True)
    words = sorted(set(shakespeare.split()))
    pool = variants(words, seed)
    target, written = int(megabytes * 1e6), 0
    while written < target:
        start = int(rng.integers(len(lines)))
        passage = "".join(lines[start:start + int(rng.integers(20, 200))])
        pieces = re.findall(r"\s*\S+|\s+", passage)
        swap = np.flatnonzero(rng.random(len(pieces)) < REPLACE)
        picks = (rng.zipf(ZIPF, len(swap)) - 1) % POOL
        for at, pick in zip(swap.tolist(), picks.tolist(), strict=True):
            piece = pieces[at]
            core = piece.lstrip()
            pieces[at] = piece[:len(piece) - len(core)] + pool[pick]
        text = "".join(pieces)
        size = len(text.encode("utf-8"))
        if written + size > target:
            text = text.encode("utf-8")[: target - written].decode("utf-8", errors="ignore")
            size = len(text.encode("utf-8"))
            if not size:
                break
        written += size
        yield text


def write(shakespeare_path: Path, out: Path, megabytes: float, seed: int = 0) -> int:
    """Write the corpus to ``out``; returns its size in bytes."""
    text = shakespeare_path.read_text(encoding="utf-8")
    with open(out, "w", encoding="utf-8") as f:
        f.writelines(generate(text, megabytes, seed))
    return out.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("shakespeare", type=Path, help="tinyshakespeare.txt")
    parser.add_argument("out", type=Path)
    parser.add_argument("--mb", type=float, default=516.7, help="Size in MB (default 516.7, the book's Ch.28 corpus).")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    size = write(args.shakespeare, args.out, args.mb, args.seed)
    print(f"wrote {size:,} bytes to {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
