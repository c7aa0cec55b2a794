"""The training data a run names, as frozen descriptions that ``load`` once into ``TrainingData``.

``TextCorpus``: a text file, a named corpus or the built-in one, tokenized when loaded (a tokenizer of a
kind trained on it, Ch.16/Ch.23/Ch.28, or a given one when fine-tuning) and split into training and
validation tokens by the book's rule (Ch.21). ``PreparedCorpus``: a folder ``mygpt prepare`` wrote.
``Tokens``: tokens a library caller already has. Each description checks its own options when made;
``train.preflight`` loads it after the checks that need no data, so a mistake fails before the work.
"""

import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import torch

from ..errors import require
from ..tokenizer import Tokenizer, tokenizer_for
from ..utils import Log, silent
from .shards import TokenShards, load_prepared


@dataclass(frozen=True)
class TrainingData:
    """A run's tokens and their tokenizer; ``chars`` counts the corpus's characters (None when unknown)
    and ``source`` says where it came from when the caller did not name a text file."""

    tokenizer: Tokenizer
    train: torch.Tensor | TokenShards
    val: torch.Tensor | TokenShards | None
    chars: int | None = None
    source: str | None = None


def check_corpus_options(tokenizer: str, num_merges: int, bpe_train_bytes: int, val_split: float) -> None:
    """How a corpus is tokenized and split (``mygpt train`` and ``mygpt prepare``): a kind that exists and
    can run here, counts of 0 or more, a validation split in [0, 1)."""
    require(0.0 <= val_split < 1.0, lambda n: f"{n('val_split')} must be in [0, 1) (got {val_split}), e.g. 0.1 "
                                              "holds out 10% for validation")
    for name, value in (("num_merges", num_merges), ("bpe_train_bytes", bpe_train_bytes)):
        require(value >= 0, lambda n, name=name, value=value: f"{n(name)} must be 0 or more (got {value})")
    tokenizer_for(tokenizer).check_available()


@dataclass(frozen=True)
class TextCorpus:
    """A text to tokenize: a file, a name of ``corpus.NAMED_CORPORA`` or None (the built-in corpus).

    ``tokenizer`` is a kind to train on it (merges learned on its first ``bpe_train_bytes`` characters,
    0 meaning all) or a tokenizer to encode it with (fine-tuning: the text must use its alphabet,
    unless its corpus encoder skips unknown symbols). The last ``val_split`` of the tokens validate.
    """

    path: str | None = None
    tokenizer: str | Tokenizer = "char"
    num_merges: int = 1024
    bpe_train_bytes: int = 0
    val_split: float = 0.0

    def __post_init__(self):
        kind = self.tokenizer if isinstance(self.tokenizer, str) else self.tokenizer.kind
        check_corpus_options(kind, self.num_merges, self.bpe_train_bytes, self.val_split)

    @property
    def text_path(self) -> str | None:
        """The file read, which a run must never replace (a name or the built-in corpus is no such file)."""
        return self.path if self.path is not None and os.path.isfile(self.path) else None

    def load(self, log: Log = silent) -> TrainingData:
        """Read and tokenize the text (``log`` gets the progress lines of a tokenizer that learns merges)."""
        from .corpus import load_corpus  # download code, loaded only by a run that reads a text

        text, source = load_corpus(self.path)
        tokenizer, learned = self.tokenizer, isinstance(self.tokenizer, str)
        if learned:
            tokenizer = self._learn(tokenizer_for(tokenizer), text, log)
        elif not tokenizer.skips_unknown:  # its corpus encoder would refuse them one at a time
            tokenizer.check_known(text, "the text", "fine-tune on text of the same alphabet")
        data = _timed(log, f"encoding corpus ({len(text):,} chars)…", "corpus encoded",
                      lambda: tokenizer.encode_corpus(text), show=learned and tokenizer.learns_merges)
        val = None
        if self.val_split > 0:
            n_train = int((1.0 - self.val_split) * len(data))
            data, val = data[:n_train], data[n_train:]
        return TrainingData(tokenizer, data, val, len(text), source if self.path is None else None)

    def _learn(self, kind: type[Tokenizer], text: str, log: Log) -> Tokenizer:
        n = self.bpe_train_bytes
        sample = text[:n] if kind.learns_merges and 0 < n < len(text) else text
        return _timed(log, f"training {kind.label} tokenizer ({self.num_merges} merges, {len(sample):,} chars)…",
                      f"{kind.label} trained", lambda: kind.learn(sample, self.num_merges), show=kind.learns_merges)


def _timed(log: Log, before: str, after: str, work: Callable, show: bool):
    """``work()``, with a line before and one with its seconds after when ``show``."""
    if show:
        log(before)
    start = time.time()
    result = work()
    if show:
        log(f"  {after} in {time.time() - start:.1f}s")
    return result


@dataclass(frozen=True)
class PreparedCorpus:
    """A folder written by ``mygpt prepare``: its tokenizer, split and shards were fixed there."""

    path: str
    text_path = None

    def load(self, log: Log = silent) -> TrainingData:
        tokenizer, meta, train, val = load_prepared(self.path)
        return TrainingData(tokenizer, train, val, meta["chars"], f"{self.path} (prepared, {meta['tokens']:,} tokens)")


@dataclass(frozen=True)
class Tokens:
    """Token ids a caller already has (``train()``'s arguments), and their tokenizer."""

    tokenizer: Tokenizer
    train: torch.Tensor | TokenShards
    val: torch.Tensor | TokenShards | None = None
    text_path = None

    def load(self, log: Log = silent) -> TrainingData:
        return TrainingData(self.tokenizer, self.train, self.val)


Source = TextCorpus | PreparedCorpus | Tokens
