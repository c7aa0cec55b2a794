"""Character tokenizer (Ch.16) and byte-pair-encoding tokenizer (Ch.22-23, Ch.28), and the registry of
tokenizer kinds.

The BPE algorithms are written from scratch on purpose: they are what the book teaches, and their
tie-breaking rules (Ch.22-23) decide which merges are learned.

Every tokenizer class declares its kind (``Tokenizer``): its name, how it is trained, how it encodes a
training corpus, how it is saved to a file and kept in a checkpoint. ``TOKENIZERS`` lists the classes
by kind, and everything that chooses or restores a tokenizer reads it: ``mygpt prepare`` and ``mygpt
train`` (``--tokenizer``, its choices and help), checkpoints, ``--init``, prepared folders. A new kind
is a class in this file, added to ``TOKENIZERS``.
"""

import itertools
import json
import re
from collections import Counter, defaultdict
from typing import ClassVar

import torch

from .errors import MissingExtraError, MyGPTError, UnknownSymbolError, require

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


def _ids(ids, vocab_size: int, owner: str) -> list[int]:
    """``ids`` as Python ints, each checked to name a token of a vocabulary of ``vocab_size``."""
    ids = [int(i) for i in ids]
    if ids and (min(ids) < 0 or max(ids) >= vocab_size):
        bad = next(i for i in ids if not 0 <= i < vocab_size)
        raise ValueError(f"{owner}.decode: id {bad} is not in the vocabulary (ids 0 to {vocab_size - 1}); "
                         "decode only ids made by this tokenizer or a model trained with it")
    return ids


def _alphabet(text: str, owner: str) -> list[str]:
    """The sorted distinct characters of a training text, which must not be empty."""
    if not isinstance(text, str) or not text:
        raise ValueError(f"{owner}: text is {'empty' if text == '' else type(text).__name__}; give the "
                         "training text (a non-empty str) to learn the vocabulary from")
    return sorted(set(text))


def _unknown(owner: str, symbol: str, known: int) -> UnknownSymbolError:
    return UnknownSymbolError(symbol, f"{owner}: {symbol!r} is not among the tokenizer's {known} known "
                                      "symbols; encode only characters that occur in its training text")


class _TextChain:
    """The whole text as a linked list of symbols, indexed by adjacent pair, for fast BPE merges.

    Applying a merge to a plain list rescans the entire text (about a million symbols) once per
    merge. Here ``where`` maps every adjacent pair to the positions where it starts, so a merge
    visits only its own occurrences. A symbol lives at the text position of its first character:
    merging keeps the left position and empties the right one (``None``), so positions stay in text
    order and the smallest position of a pair is its first occurrence. Results are those of
    ``_merge_pair`` on a list, tie-breaks included (Ch.22-23).
    """

    def __init__(self, text: str):
        n = len(text)
        self.symbols: list[str | None] = list(text)
        self.next = list(range(1, n + 1))  # n marks the end of the text
        self.prev = list(range(-1, n - 1))  # -1 marks the start
        self.where: dict[tuple[str, str], set[int]] = defaultdict(set)
        for i, pair in enumerate(itertools.pairwise(text)):
            self.where[pair].add(i)

    def _forget(self, pair: tuple[str, str], i: int) -> None:
        starts = self.where.get(pair)
        if starts is not None:
            starts.discard(i)
            if not starts:
                del self.where[pair]

    def merge(self, a: str, b: str) -> None:
        """Replace every non-overlapping ``a, b`` (left to right) by ``a + b``."""
        symbols, nxt, prv, end = self.symbols, self.next, self.prev, len(self.symbols)
        merged = a + b
        for i in sorted(self.where.pop((a, b), ())):
            j = nxt[i]
            if symbols[i] != a or j == end or symbols[j] != b:
                continue  # its left symbol was taken by the overlapping match just before ("a a a")
            p, k = prv[i], nxt[j]
            if p >= 0:
                self._forget((symbols[p], a), p)
                self.where[(symbols[p], merged)].add(p)
            if k < end:
                self._forget((b, symbols[k]), j)
                self.where[(merged, symbols[k])].add(i)
                prv[k] = i
            symbols[i], symbols[j], nxt[i] = merged, None, k

    def most_frequent_pair(self) -> tuple[str, str]:
        """Highest count; among equal counts, the pair that occurs first in the text."""
        top = max(map(len, self.where.values()))
        tied = [pair for pair, starts in self.where.items() if len(starts) == top]
        return min(tied, key=lambda pair: min(self.where[pair]))

    def final_symbols(self) -> list[str]:
        return [s for s in self.symbols if s is not None]


class _WordTable:
    """Distinct words with their counts, as symbol lists, with pair counts kept up to date.

    ``counts`` holds each adjacent pair's frequency over the corpus and ``words_with`` the indices
    of the words containing it, so a merge re-counts only the words it changes. Words are indexed in
    first-occurrence order, which gives the trainer's tie-break: the pair counted first by a scan of
    the words in that order (Ch.28).
    """

    def __init__(self, text: str):
        word_freqs = Counter(_WORD_RE.findall(text))
        self.words = [list(w) for w in word_freqs]
        self.freqs = list(word_freqs.values())
        self.counts: dict[tuple[str, str], int] = defaultdict(int)
        self.words_with: dict[tuple[str, str], set[int]] = defaultdict(set)
        for w in range(len(self.words)):
            self._add(w)

    def _add(self, w: int) -> None:
        syms, freq = self.words[w], self.freqs[w]
        for pair in itertools.pairwise(syms):
            self.counts[pair] += freq
            self.words_with[pair].add(w)

    def _remove(self, w: int) -> None:
        syms, freq = self.words[w], self.freqs[w]
        for pair in itertools.pairwise(syms):
            self.counts[pair] -= freq
            if not self.counts[pair]:
                del self.counts[pair]
            self.words_with[pair].discard(w)
            if not self.words_with[pair]:
                del self.words_with[pair]

    def merge(self, a: str, b: str) -> None:
        for w in list(self.words_with.get((a, b), ())):
            self._remove(w)
            self.words[w] = _merge_pair(self.words[w], a, b)
            self._add(w)

    def most_frequent_pair(self) -> tuple[str, str]:
        """Highest count; ties go to the pair met first scanning the words in order, left to right."""
        top = max(self.counts.values())
        tied = [pair for pair, count in self.counts.items() if count == top]
        return min(tied, key=self._first_occurrence)

    def _first_occurrence(self, pair: tuple[str, str]) -> tuple[int, int]:
        w = min(self.words_with[pair])
        syms = self.words[w]
        return w, list(itertools.pairwise(syms)).index(pair)


class Tokenizer:
    """What every tokenizer kind declares, beyond ``encode``/``decode`` and ``vocab_size``.

    ``kind`` names it (``--tokenizer``, checkpoints, prepared folders), ``label`` in progress lines;
    ``about`` says what it is in the help and ``extra`` which install it needs (``check_available``
    refuses it where that is missing); ``book`` marks the kinds the book's ``mygpt train --tokenizer``
    lists. ``learns_merges``:
    it is trained on a sample of the corpus (``--bpe-train-bytes``) with ``num_merges``; otherwise it
    learns the alphabet of the whole corpus. ``skips_unknown``: its corpus encoder drops symbols it
    does not know instead of refusing them. ``chars`` is its alphabet, or None when it encodes any
    text. Files: ``save``/``load``; checkpoints: ``state``/``from_state``.
    """

    kind: ClassVar[str]
    label: ClassVar[str]
    about: ClassVar[str]
    extra: ClassVar[str | None] = None
    book: ClassVar[bool] = False
    learns_merges: ClassVar[bool] = True
    skips_unknown: ClassVar[bool] = False

    @classmethod
    def check_available(cls) -> None:
        """Raise ``MissingExtraError`` naming the extra to install when this kind cannot run here."""

    @classmethod
    def learn(cls, text: str, num_merges: int = 1024) -> "Tokenizer":
        """A new tokenizer of this kind trained on ``text`` (``num_merges`` for kinds that learn merges)."""
        raise NotImplementedError

    def check_known(self, text: str, what: str, fix: str, error: type[MyGPTError] | None = None) -> None:
        """Refuse ``text`` (``what`` names it) if it holds characters outside this tokenizer's alphabet,
        naming them and ``fix``; a tokenizer that encodes any text (``chars`` None) knows them all."""
        unknown = "" if self.chars is None else "".join(sorted(set(text) - set(self.chars)))
        require(not unknown, f"{what} contains {len(unknown)} character(s) the checkpoint's tokenizer does not "
                             f"know: {unknown[:40]!r}; {fix}", error)

    def encode_corpus(self, text: str) -> torch.Tensor:
        """A training text's ids, by this kind's corpus encoder (``encode`` unless it has a faster one)."""
        return self.encode(text)

    def state(self) -> dict:
        """What a checkpoint keeps to rebuild this tokenizer (``tokenizer_state``; the book's keys)."""
        raise NotImplementedError

    @classmethod
    def from_state(cls, state: dict) -> "Tokenizer":
        """The tokenizer ``state()`` described."""
        raise NotImplementedError


class CharTokenizer(Tokenizer):
    """One id per distinct character, in code-point order."""

    kind, label, book, learns_merges = "char", "char", True, False
    about = "every character of the corpus, Ch.16"

    def __init__(self, chars: list[str]):
        self.chars = list(chars)
        self.vocab_size = len(self.chars)
        self.stoi = {c: i for i, c in enumerate(self.chars)}
        self.itos = {i: c for i, c in enumerate(self.chars)}

    @classmethod
    def from_text(cls, text: str) -> "CharTokenizer":
        return cls(_alphabet(text, "CharTokenizer.from_text"))

    def encode(self, text: str) -> torch.Tensor:
        """1-D int64 ids; an unknown character raises ``KeyError(char)`` (also a ``ValueError``)."""
        try:
            return torch.tensor([self.stoi[c] for c in text], dtype=torch.long)
        except KeyError as err:
            raise _unknown("CharTokenizer.encode", err.args[0], self.vocab_size) from None

    def decode(self, ids) -> str:
        """The text of ``ids``; an id outside the vocabulary raises ``ValueError``."""
        return "".join(self.itos[i] for i in _ids(ids, self.vocab_size, "CharTokenizer"))

    def save(self, path: str) -> None:
        with open(path, "w") as f:
            json.dump({"chars": self.chars}, f)

    @classmethod
    def load(cls, path: str) -> "CharTokenizer":
        with open(path) as f:
            return cls(json.load(f)["chars"])

    @classmethod
    def learn(cls, text: str, num_merges: int = 0) -> "CharTokenizer":
        return cls.from_text(text)

    def state(self) -> dict:
        return {"chars": self.chars}

    @classmethod
    def from_state(cls, state: dict) -> "CharTokenizer":
        return cls(state["chars"])


class BPETokenizer(Tokenizer):
    """Byte-pair encoding over characters: an alphabet plus an ordered list of merges.

    Id order is the alphabet followed by one new symbol per merge. There are no special tokens
    and no byte fallback. As a kind it trains with the fast word-level trainer (Ch.28) and its corpus
    encoder skips characters outside the alphabet (``--bpe-train-bytes``).
    """

    kind, label, book, skips_unknown = "bpe", "BPE", True, True
    about = "Ch.23"

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
        alphabet = _alphabet(text, "BPETokenizer.from_text")
        chain = _TextChain(text)
        merges = []
        while len(merges) < num_merges and chain.where:
            a, b = chain.most_frequent_pair()
            merges.append((a, b))
            chain.merge(a, b)
        return cls(alphabet, merges)

    @classmethod
    def from_corpus(cls, text: str, num_merges: int) -> "BPETokenizer":
        """Fast word-level trainer: merges never cross the words of ``_WORD_RE``."""
        alphabet = _alphabet(text, "BPETokenizer.from_corpus")
        table = _WordTable(text)
        merges = []
        while len(merges) < num_merges and table.counts:
            a, b = table.most_frequent_pair()
            merges.append((a, b))
            table.merge(a, b)
        return cls(alphabet, merges)

    def encode(self, text: str) -> torch.Tensor:
        """Teaching encoder: one full pass per merge over the whole text, in merge order."""
        chain = _TextChain(text)
        for a, b in self.merges:
            chain.merge(a, b)
        try:
            return torch.tensor([self.stoi[s] for s in chain.final_symbols()], dtype=torch.long)
        except KeyError as err:
            raise _unknown("BPETokenizer.encode", err.args[0], len(self.chars)) from None

    def _encode_word(self, word: str) -> list[str]:
        """Merge one word by repeatedly applying its lowest-ranked pair (memoised per word)."""
        cached = self._word_cache.get(word)
        if cached is not None:
            return cached
        syms = list(word)
        while len(syms) >= 2:
            ranked = [(self.merge_ranks.get(pair), i) for i, pair in enumerate(itertools.pairwise(syms))]
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
                    raise _unknown("BPETokenizer.encode_corpus", sym, len(self.chars))
        return torch.tensor(ids, dtype=torch.long)

    def decode(self, ids) -> str:
        """The text of ``ids``; an id outside the vocabulary raises ``ValueError``."""
        return "".join(self.vocab[i] for i in _ids(ids, self.vocab_size, "BPETokenizer"))

    def save(self, path: str) -> None:
        with open(path, "w") as f:
            json.dump({"chars": self.chars, "merges": self.merges}, f)

    @classmethod
    def load(cls, path: str) -> "BPETokenizer":
        with open(path) as f:
            return cls.from_state(json.load(f))

    @classmethod
    def learn(cls, text: str, num_merges: int = 1024) -> "BPETokenizer":
        return cls.from_corpus(text, num_merges)

    def state(self) -> dict:
        return {"chars": self.chars, "merges": self.merges}

    @classmethod
    def from_state(cls, state: dict) -> "BPETokenizer":
        return cls(state["chars"], state["merges"])


def require_tokenizers():
    """The ``tokenizers`` package (the ``hf`` extra), imported only when a byte-level tokenizer is used."""
    try:
        import tokenizers
    except ImportError as err:
        raise MissingExtraError("byte-level BPE needs the `tokenizers` package: "
                                     "pip install 'mygpt[hf]'") from err
    return tokenizers


END_OF_TEXT = "<|endoftext|>"


class ByteBPETokenizer(Tokenizer):
    """GPT-2's byte-level BPE, run by the Hugging Face ``tokenizers`` library.

    Text is turned into UTF-8 bytes, each byte into one of 256 base symbols, and merges combine them,
    so every text encodes: there are no unknown characters. ``chars`` is None for that reason (there
    is no alphabet to check a prompt against). Decoding ids that split a character yields U+FFFD.
    ``byte_level`` tells ``mygpt eval`` to count bits per byte rather than per character.
    """

    kind, label, about, extra = "bytebpe", "byte-level BPE", "GPT-2's byte-level BPE", "mygpt[hf]"
    chars = None
    byte_level = True

    @classmethod
    def check_available(cls) -> None:
        require_tokenizers()

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.vocab_size = tokenizer.get_vocab_size(with_added_tokens=True)

    @classmethod
    def from_json(cls, text: str) -> "ByteBPETokenizer":
        """From the contents of a ``tokenizer.json``."""
        return cls(require_tokenizers().Tokenizer.from_str(text))

    @classmethod
    def from_files(cls, vocab_path: str, merges_path: str) -> "ByteBPETokenizer":
        """From GPT-2's ``vocab.json`` and ``merges.txt`` (``<|endoftext|>`` becomes a special token)."""
        tk = require_tokenizers()
        tokenizer = tk.Tokenizer(tk.models.BPE.from_file(vocab_path, merges_path))
        _byte_level(tokenizer)
        if END_OF_TEXT in tokenizer.get_vocab():
            tokenizer.add_special_tokens([END_OF_TEXT])
        return cls(tokenizer)

    @classmethod
    def from_text(cls, text: str, num_merges: int) -> "ByteBPETokenizer":
        """Train ``num_merges`` merges on ``text`` over the 256 byte symbols, plus ``<|endoftext|>``.

        Fewer merges are learned when the text runs out of pairs to merge.
        """
        tk = require_tokenizers()
        tokenizer = tk.Tokenizer(tk.models.BPE())
        _byte_level(tokenizer)
        # Each merge joins two symbols of the text, so a text of n bytes cannot learn more than n merges:
        # asking for fewer changes nothing, and keeps a huge count from overflowing the trainer.
        num_merges = max(0, min(num_merges, len(text.encode("utf-8"))))
        trainer = tk.trainers.BpeTrainer(vocab_size=257 + num_merges, show_progress=False,
                                         initial_alphabet=tk.pre_tokenizers.ByteLevel.alphabet(),
                                         special_tokens=[END_OF_TEXT])
        tokenizer.train_from_iterator([text], trainer)
        return cls(tokenizer)

    def encode(self, text: str) -> torch.Tensor:
        return torch.tensor(self.tokenizer.encode(text, add_special_tokens=False).ids, dtype=torch.long)

    def decode(self, ids) -> str:
        return self.tokenizer.decode(_ids(ids, self.vocab_size, type(self).__name__), skip_special_tokens=False)

    def to_json(self) -> str:
        return self.tokenizer.to_str()

    def save(self, path: str) -> None:
        """Write a ``tokenizer.json``."""
        self.tokenizer.save(path)

    @classmethod
    def load(cls, path: str) -> "ByteBPETokenizer":
        with open(path, encoding="utf-8") as f:
            return cls.from_json(f.read())

    @classmethod
    def learn(cls, text: str, num_merges: int = 1024) -> "ByteBPETokenizer":
        return cls.from_text(text, num_merges)

    def state(self) -> dict:
        return {"json": self.to_json()}

    @classmethod
    def from_state(cls, state: dict) -> "ByteBPETokenizer":
        return cls.from_json(state["json"])


def _byte_level(tokenizer) -> None:
    """GPT-2's byte-level pre-tokenizer (its word regex, no prefix space) and decoder."""
    tk = require_tokenizers()
    tokenizer.pre_tokenizer = tk.pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = tk.decoders.ByteLevel()


# The registry: every tokenizer kind, in the order help texts list them (the default first).
TOKENIZERS: dict[str, type[Tokenizer]] = {cls.kind: cls for cls in (CharTokenizer, BPETokenizer, ByteBPETokenizer)}


def tokenizer_for(kind: str) -> type[Tokenizer]:
    """The class of tokenizer ``kind``; an unknown kind raises ``ConfigError`` naming the known ones."""
    require(kind in TOKENIZERS, lambda n: f"unknown {n('tokenizer')} {kind!r}; expected one of {', '.join(TOKENIZERS)}")
    return TOKENIZERS[kind]


def _check_alphabet(chars) -> list[str]:
    if not isinstance(chars, list) or not chars:
        raise ValueError("its alphabet (chars) must be a non-empty list of characters")
    bad = next((c for c in chars if not isinstance(c, str) or len(c) != 1), None)
    if bad is not None or len(set(chars)) != len(chars):
        raise ValueError(f"its alphabet (chars) must hold distinct single characters (found {bad!r})"
                         if bad is not None else "its alphabet (chars) lists a character twice")
    return chars


def _check_merges(chars: list[str], merges) -> list[tuple[str, str]]:
    if not isinstance(merges, list):
        raise TypeError("its merges must be a list of pairs")
    known = set(chars)
    for i, merge in enumerate(merges):
        if not (isinstance(merge, list | tuple) and len(merge) == 2 and all(isinstance(p, str) for p in merge)):
            raise ValueError(f"merge {i} is not a pair of strings (got {str(merge)[:40]})")
        if merge[0] not in known or merge[1] not in known:
            raise ValueError(f"merge {i} joins {merge[0]!r} and {merge[1]!r}, which no earlier symbol spells")
        known.add(merge[0] + merge[1])
    return [tuple(m) for m in merges]


def tokenizer_from_state(kind: str, state) -> Tokenizer:
    """The tokenizer of ``kind`` rebuilt from what was saved of it (its class's ``state()``), checked first.

    ``state``: ``{"chars": [...]}`` (char), ``{"chars": [...], "merges": [[a, b], ...]}`` (bpe) or
    ``{"json": text}`` (bytebpe, a ``tokenizer.json``). A state that cannot be a tokenizer of that kind
    (wrong types, repeated or multi-character symbols, a merge of unknown symbols, malformed JSON)
    raises ``ValueError`` (``TypeError`` for a wrong type) saying what is wrong; loaders add the file's name.
    """
    if kind not in TOKENIZERS:
        raise ValueError(f"unknown tokenizer kind {kind!r} (expected one of {', '.join(TOKENIZERS)})")
    if not isinstance(state, dict):
        raise TypeError("the tokenizer's state is not a mapping")
    if kind == "bytebpe":
        text = state.get("json")
        if not isinstance(text, str):
            raise ValueError("the byte-level tokenizer's tokenizer.json text is missing")
        ByteBPETokenizer.check_available()
        try:
            return ByteBPETokenizer.from_state({"json": text})
        except Exception as err:  # the Rust library raises plain Exceptions
            raise ValueError(f"its tokenizer.json is malformed ({str(err).splitlines()[0][:100]})") from err
    chars = _check_alphabet(state.get("chars"))
    if kind == "char":
        if state.get("merges"):
            raise ValueError("it holds merges: it is a BPE tokenizer, not a char one")
        return CharTokenizer.from_state({"chars": chars})
    return BPETokenizer.from_state({"chars": chars, "merges": _check_merges(chars, state.get("merges"))})


def load_tokenizer_file(path: str, kind: str):
    """The tokenizer ``kind`` saved at ``path`` (its ``save``), checked: ``ValueError``, ``TypeError`` or
    ``OSError`` (``UnicodeDecodeError`` is a ``ValueError``) if it cannot be one."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if kind == "bytebpe":
        return tokenizer_from_state(kind, {"json": text})
    try:
        state = json.loads(text)
    except ValueError as err:
        raise ValueError(f"it is not JSON ({err})") from err
    return tokenizer_from_state(kind, state)

