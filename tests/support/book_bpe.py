"""The book's BPE algorithms written plainly, exactly as NUMERICS.md §12.2-12.6 specifies them (Ch.22-23, Ch.28).

This is the reference the library's fast BPE is checked against (tests/tokenizer/) and timed against
(``benchmarks/bpe.py``): the book's own package is not available here, so "the book's speed" means the
speed of this code, which does what the book's code does, the obvious way: the trainers recount every
pair before each merge and apply each merge to every symbol (``from_text``) or every distinct word
(``from_corpus``); the teaching encoder makes one full pass over the text per merge; the word encoder
caches each distinct word's symbols and rescans a word's pairs after each merge.
"""

import re
from collections import Counter
from itertools import pairwise

WORD_RE = re.compile(r"\s*\S+|\s+")  # §12.4: a word is optional whitespace then non-whitespace


def merge_pair(symbols: list[str], a: str, b: str) -> list[str]:
    """§12.2: scan left to right; ``a`` followed by ``b`` becomes ``a + b``; matches never overlap."""
    out, i = [], 0
    while i < len(symbols):
        if i + 1 < len(symbols) and symbols[i] == a and symbols[i + 1] == b:
            out.append(a + b)
            i += 2
        else:
            out.append(symbols[i])
            i += 1
    return out


def from_text(text: str, num_merges: int) -> list[tuple[str, str]]:
    """§12.3: the whole-text trainer (Ch.23); merges may span words."""
    symbols, merges = list(text), []
    for _ in range(num_merges):
        counts = Counter(pairwise(symbols))  # insertion order = first occurrence
        if not counts:
            break
        best = max(counts, key=counts.get)  # the first pair inserted among the most frequent
        merges.append(best)
        symbols = merge_pair(symbols, *best)
    return merges


def from_corpus(text: str, num_merges: int) -> list[tuple[str, str]]:
    """§12.4: the word-level trainer (Ch.28); merges stay inside the words of ``WORD_RE``."""
    word_freqs = Counter(WORD_RE.findall(text))
    words = {word: list(word) for word in word_freqs}
    merges = []
    for _ in range(num_merges):
        counts: Counter = Counter()
        for word, symbols in words.items():
            for pair in pairwise(symbols):
                counts[pair] += word_freqs[word]
        if not counts:
            break
        best = max(counts, key=counts.get)
        merges.append(best)
        words = {word: merge_pair(symbols, *best) for word, symbols in words.items()}
    return merges


def vocabulary(chars: list[str], merges: list[tuple[str, str]]) -> tuple[dict[str, int], dict]:
    """§12.2: ``stoi`` (a string made twice keeps its later id) and ``merge_ranks`` (later pair wins)."""
    vocab = list(chars) + [a + b for a, b in merges]
    return {s: i for i, s in enumerate(vocab)}, {pair: rank for rank, pair in enumerate(merges)}


def encode(chars: list[str], merges: list[tuple[str, str]], text: str) -> list[int]:
    """§12.5: the teaching encoder, one full pass per merge in order; an unknown symbol raises KeyError."""
    stoi, _ = vocabulary(chars, merges)
    symbols = list(text)
    for a, b in merges:
        symbols = merge_pair(symbols, a, b)
    return [stoi[s] for s in symbols]


class WordEncoder:
    """§12.6: the fast encoder, ``_encode_word`` with its per-word cache and ``encode_corpus``."""

    def __init__(self, chars: list[str], merges: list[tuple[str, str]]):
        self.stoi, self.merge_ranks = vocabulary(chars, merges)
        self.word_cache: dict[str, list[str]] = {}

    def encode_word(self, word: str) -> list[str]:
        if word in self.word_cache:
            return self.word_cache[word]
        syms = list(word)
        while len(syms) >= 2:
            best, at = None, -1
            for i in range(len(syms) - 1):
                rank = self.merge_ranks.get((syms[i], syms[i + 1]))
                if rank is not None and (best is None or rank < best):
                    best, at = rank, i
            if best is None:
                break
            syms = syms[:at] + merge_pair(syms[at:], syms[at], syms[at + 1])
        self.word_cache[word] = syms
        return syms

    def encode_corpus(self, text: str, unk_policy: str = "skip") -> list[int]:
        ids = []
        for word in WORD_RE.findall(text):
            for sym in self.encode_word(word):
                if sym in self.stoi:
                    ids.append(self.stoi[sym])
                elif unk_policy == "error":
                    raise KeyError(sym)
        return ids
