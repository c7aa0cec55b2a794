"""Character tokenizer (Ch.16) and byte-pair-encoding tokenizer (Ch.22-23, Ch.28).

The BPE algorithms are written from scratch on purpose: they are what the book teaches, and their
tie-breaking rules (NUMERICS §12) decide which merges are learned.
"""

import json
import re
from collections import Counter

import torch

# A "word" for the word-level trainer and fast encoder: optional leading whitespace, then
# non-whitespace; a pure-whitespace match only happens at the end of the text.
_WORD_RE = re.compile(r"\s*\S+|\s+")


def _merge_pair(symbols: list[str], a: str, b: str) -> list[str]:
    """Replace every non-overlapping ``a, b`` (scanning left to right) by ``a + b``."""
    merged = a + b
    out = []
    i, n = 0, len(symbols)
    while i < n:
        if i < n - 1 and symbols[i] == a and symbols[i + 1] == b:
            out.append(merged)
            i += 2
        else:
            out.append(symbols[i])
            i += 1
    return out


def _best_pair(counts: Counter) -> tuple[str, str]:
    """Highest count; ties go to the pair inserted first (first occurrence)."""
    return max(counts, key=counts.get)


def _ids(ids) -> list[int]:
    return [int(i) for i in ids]


class CharTokenizer:
    """One id per distinct character, in code-point order."""

    def __init__(self, chars: list[str]):
        self.chars = list(chars)
        self.vocab_size = len(self.chars)
        self.stoi = {c: i for i, c in enumerate(self.chars)}
        self.itos = {i: c for i, c in enumerate(self.chars)}

    @classmethod
    def from_text(cls, text: str) -> "CharTokenizer":
        return cls(sorted(set(text)))

    def encode(self, text: str) -> torch.Tensor:
        """1-D int64 ids; an unknown character raises ``KeyError(char)``."""
        return torch.tensor([self.stoi[c] for c in text], dtype=torch.long)

    def decode(self, ids) -> str:
        return "".join(self.itos[i] for i in _ids(ids))

    def save(self, path: str) -> None:
        with open(path, "w") as f:
            json.dump({"chars": self.chars}, f)

    @classmethod
    def load(cls, path: str) -> "CharTokenizer":
        with open(path) as f:
            return cls(json.load(f)["chars"])


class BPETokenizer:
    """Byte-pair encoding over characters: an alphabet plus an ordered list of merges.

    Id order is the alphabet followed by one new symbol per merge. There are no special tokens
    and no byte fallback.
    """

    def __init__(self, chars: list[str], merges: list[tuple[str, str]]):
        self.chars = list(chars)
        self.merges = [tuple(m) for m in merges]
        self.vocab = self.chars + [a + b for a, b in self.merges]
        self.vocab_size = len(self.vocab)
        self.stoi = {s: i for i, s in enumerate(self.vocab)}
        self.merge_ranks = {pair: rank for rank, pair in enumerate(self.merges)}
        self._word_cache: dict[str, list[str]] = {}

    @classmethod
    def from_text(cls, text: str, num_merges: int) -> "BPETokenizer":
        """Teaching trainer: merges learned over the whole text, across word boundaries."""
        symbols = list(text)
        merges = []
        for _ in range(num_merges):
            counts = Counter(zip(symbols, symbols[1:]))
            if not counts:
                break
            a, b = _best_pair(counts)
            merges.append((a, b))
            symbols = _merge_pair(symbols, a, b)
        return cls(sorted(set(text)), merges)

    @classmethod
    def from_corpus(cls, text: str, num_merges: int) -> "BPETokenizer":
        """Fast word-level trainer: merges never cross the words of ``_WORD_RE``."""
        word_freqs = Counter(_WORD_RE.findall(text))
        words = [list(w) for w in word_freqs]
        freqs = list(word_freqs.values())
        merges = []
        for _ in range(num_merges):
            counts = Counter()
            for syms, freq in zip(words, freqs):
                for pair in zip(syms, syms[1:]):
                    counts[pair] += freq
            if not counts:
                break
            a, b = _best_pair(counts)
            merges.append((a, b))
            words = [_merge_pair(syms, a, b) for syms in words]
        return cls(sorted(set(text)), merges)

    def encode(self, text: str) -> torch.Tensor:
        """Teaching encoder: one full pass per merge over the whole text, in merge order."""
        symbols = list(text)
        for a, b in self.merges:
            symbols = _merge_pair(symbols, a, b)
        return torch.tensor([self.stoi[s] for s in symbols], dtype=torch.long)

    def _encode_word(self, word: str) -> list[str]:
        """Merge one word by repeatedly applying its lowest-ranked pair (memoised per word)."""
        cached = self._word_cache.get(word)
        if cached is not None:
            return cached
        syms = list(word)
        while len(syms) >= 2:
            ranked = [(self.merge_ranks.get(pair), i) for i, pair in enumerate(zip(syms, syms[1:]))]
            ranked = [(r, i) for r, i in ranked if r is not None]
            if not ranked:
                break
            _, i = min(ranked)
            a, b = syms[i], syms[i + 1]
            syms = syms[:i] + _merge_pair(syms[i:], a, b)
        self._word_cache[word] = syms
        return syms

    def encode_corpus(self, text: str, unk_policy: str = "skip") -> torch.Tensor:
        """Fast encoder: split into words, merge each distinct word once, look the symbols up."""
        ids = []
        for word in _WORD_RE.findall(text):
            for sym in self._encode_word(word):
                i = self.stoi.get(sym)
                if i is not None:
                    ids.append(i)
                elif unk_policy == "error":
                    raise KeyError(sym)
        return torch.tensor(ids, dtype=torch.long)

    def decode(self, ids) -> str:
        return "".join(self.vocab[i] for i in _ids(ids))

    def save(self, path: str) -> None:
        with open(path, "w") as f:
            json.dump({"chars": self.chars, "merges": self.merges}, f)

    @classmethod
    def load(cls, path: str) -> "BPETokenizer":
        with open(path) as f:
            state = json.load(f)
        return cls(state["chars"], state["merges"])
