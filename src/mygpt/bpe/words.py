"""The word encoder's cache (Ch.28): every distinct word met, its symbols, and its token ids.

The book splits the text with a regular expression and, word by word, looks the word up in its cache
and its symbols up in the vocabulary. Here the text is cut into words and each word is identified by
numpy operations over the text's code points: a word starts where whitespace follows non-whitespace
(the words of ``\\s*\\S+|\\s+``), and a polynomial hash of its characters finds its row in the cache.
Every character is then compared with the cached word's, so a hash collision can never give a wrong
word: it sends that stretch of text to the plain dictionary path instead. New words are encoded a
batch at a time (``encode_words``); a text's ids are one gather from the rows of its words.
"""

import gc
import itertools
import operator
import re
from contextlib import contextmanager

import numpy as np

from .chain import text_codes
from .encode import MergeTable, encode_words

BLOCK = 1 << 18  # characters hashed at a time (bounds the memory of the numpy arrays)
GROUP = 8  # blocks whose new words are encoded in one batch
_P = 0x9E3779B97F4A7C15  # odd: invertible modulo 2**64
_LENGTH_MIX = np.uint64(0xC2B2AE3D27D4EB4F)
_WORD_END = re.compile(r"\S\s")  # a word of \s*\S+|\s+ starts after the \S
_WORD_RE = re.compile(r"\s*\S+|\s+")
_tables: dict[str, np.ndarray] = {}  # made on first use


def _whitespace() -> np.ndarray:
    """Whether each code point up to U+3000 (the last whitespace character) is ``\\s``; one more False cell
    answers every larger code point."""
    if "space" not in _tables:
        _tables["space"] = np.array([chr(c).isspace() for c in range(0x3002)])
    return _tables["space"]


def _hash_powers() -> tuple[np.ndarray, np.ndarray]:
    """``P**i`` and ``P**-i`` modulo 2**64 for i up to ``2 * BLOCK``."""
    if "up" not in _tables:
        n = 2 * BLOCK + 1
        up, down = np.full(n, _P, dtype=np.uint64), np.full(n, pow(_P, -1, 1 << 64), dtype=np.uint64)
        up[0] = down[0] = 1
        _tables["up"], _tables["down"] = np.cumprod(up), np.cumprod(down)
    return _tables["up"], _tables["down"]


def word_keys(codes: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """A 64-bit hash of each word ``codes[starts[i]:starts[i] + lengths[i]]`` (``codes``: at most
    ``2 * BLOCK`` of them)."""
    up, down = _hash_powers()
    prefix = np.cumsum(codes.astype(np.uint64) * up[:len(codes)])
    before = np.where(starts > 0, prefix[starts - 1], np.uint64(0))
    return (prefix[starts + lengths - 1] - before) * down[starts] + lengths.astype(np.uint64) * _LENGTH_MIX


def _hashable_keys(codes: np.ndarray, lengths: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The hashes of words laid end to end in ``codes``, a batch of at most ``2 * BLOCK`` codes at a time,
    and which words have one (a word longer than that has none)."""
    ends = np.cumsum(lengths)
    keys, hashable = np.zeros(len(lengths), dtype=np.uint64), lengths <= 2 * BLOCK
    first = 0
    while first < len(lengths):
        begin = ends[first] - lengths[first]
        last = max(first + 1, int(np.searchsorted(ends, begin + 2 * BLOCK, side="right")))
        if hashable[first]:
            batch = slice(first, last)
            keys[batch] = word_keys(codes[begin:ends[last - 1]], ends[batch] - lengths[batch] - begin, lengths[batch])
        first = last
    return keys, hashable


def _blocks(text: str):
    """``text`` in pieces of about ``BLOCK`` characters, each cut where a word starts."""
    start = 0
    while len(text) - start > BLOCK:
        cut = _WORD_END.search(text, start + BLOCK - 1)
        if cut is None:
            break
        yield text[start:cut.start() + 1]
        start = cut.start() + 1
    if start < len(text):
        yield text[start:]


@contextmanager
def _collector_paused():
    """Pause Python's cyclic garbage collector while many small lists are made (none of them cyclic): its
    passes would otherwise run every few hundred lists, over every object the program holds."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _hashed_words(text: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """The code points of ``text`` and its words' starts, lengths and hashes; None if it is too long to hash."""
    codes = text_codes(text)
    n = len(codes)
    if not n or n > 2 * BLOCK:
        return None
    space = _whitespace()
    space = space[np.minimum(codes, len(space) - 1)]
    starts = np.concatenate([[0], np.flatnonzero(space[1:] & ~space[:-1]) + 1])
    lengths = np.diff(starts, append=n)
    return codes, starts, lengths, word_keys(codes, starts, lengths)


def _first_of_each(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Where each distinct key first occurs, in order, and for every key the number of its distinct key
    in that order. (np.unique's own ``return_index``/``return_inverse`` sort all the keys, slower.)"""
    distinct = np.unique(keys)
    group = np.searchsorted(distinct, keys)
    first = np.full(len(distinct), len(keys))
    np.minimum.at(first, group, np.arange(len(keys)))
    order = np.argsort(first)
    number = np.empty(len(order), dtype=np.int64)
    number[order] = np.arange(len(order))
    return first[order], number[group]


class WordStore:
    """Rows of distinct words: characters, symbols and token ids (-1: a symbol outside the vocabulary),
    each kind in one flat array. ``symbols`` is the tokenizer's ``_word_cache``: a word enters it, in the
    order the texts meet the words, when an encoded text first contains it (``remember``); a row can
    exist before that (``add`` with the symbols a trainer already found)."""

    def __init__(self, table: MergeTable, symbols: dict[str, list[str]]):
        self.table, self.symbols = table, symbols
        self.row: dict[str, int] = {}
        self.words: list[str] = []  # the word of each row
        self.row_of_key = _KeyTable()
        self._id_start, self._id_count = _Column(), _Column()
        self._ids, self._syms = _Column(), _Column(np.int32)
        self._char_start, self._char_count, self._chars = _Column(), _Column(), _Column(np.uint32)
        self._remembered = _Column(bool)

    def add(self, words: list[str], keys: np.ndarray | None = None, unique_keys: bool = False,
            encoded: tuple[np.ndarray, np.ndarray] | None = None) -> None:
        """Rows for ``words`` (new to the store, distinct): their symbols (``encode_words``, unless
        ``encoded`` gives them: symbol ids one word after another, and how many each word has), ids,
        characters and hashes (``keys``, if known; ``unique_keys``: and known to differ)."""
        flat, counts = encode_words(self.table, words) if encoded is None else encoded
        first = len(self.words)
        self._id_start.extend(len(self._ids) + np.cumsum(counts) - counts)
        self._id_count.extend(counts)
        self._ids.extend(self.table.token_ids(flat))
        self._syms.extend(flat)
        codes = text_codes("".join(words))
        lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
        self._char_start.extend(len(self._chars) + np.cumsum(lengths) - lengths)
        self._char_count.extend(lengths)
        self._chars.extend(codes)
        self._remembered.extend(np.zeros(len(words), dtype=bool))
        rows = np.arange(first, first + len(words))
        self.row.update(zip(words, rows.tolist(), strict=True))
        self.words += words
        hashable = lengths <= 2 * BLOCK  # a word too long to hash is found by the dictionary
        if keys is None:
            keys, hashable = _hashable_keys(codes, lengths)
        self.row_of_key.add(keys[hashable], rows[hashable], unique_keys)

    def remember(self, rows: np.ndarray) -> None:
        """Put the words of ``rows`` (rows in the order the text has the words) that ``symbols`` lacks into
        it, with their symbols, in order of first occurrence (the book's cache order, Ch.28)."""
        rows = rows[~self._remembered.values[rows]]
        if not len(rows):
            return
        first = np.full(len(self.words), len(rows))
        np.minimum.at(first, rows, np.arange(len(rows)))
        rows = rows[first[rows] == np.arange(len(rows))]  # each row once, where it first occurs
        self._remembered.values[rows] = True
        counts = self._id_count.values[rows]
        names = self.table.symbol_names(self._gather(rows, self._syms))
        ends = np.cumsum(counts)
        lists = map(operator.getitem, itertools.repeat(names), map(slice, (ends - counts).tolist(), ends.tolist()))
        with _collector_paused():
            self.symbols.update(zip(map(self.words.__getitem__, rows.tolist()), lists, strict=True))

    def forget(self, words: list[str]) -> None:
        """Take ``words`` out of ``symbols`` again (their rows stay)."""
        for w in words:
            del self.symbols[w]
            self._remembered.values[self.row[w]] = False

    def token_ids(self, text: str) -> np.ndarray:
        """The ids of every word of ``text``, in order, -1 where a symbol is outside the vocabulary."""
        pieces, group = [], []
        for block in itertools.chain(_blocks(text), [None]):
            if block is not None:
                group.append(block)
            if len(group) == GROUP or (block is None and group):
                rows = self._rows(group)
                self.remember(np.concatenate(rows))
                pieces += map(self._gather, rows)
                group = []
        return np.concatenate(pieces) if pieces else np.zeros(0, dtype=np.int64)

    def _rows(self, blocks: list[str]) -> list[np.ndarray]:
        """The rows of the words of each block, new words added (all the blocks' new words in one batch)."""
        found = [_hashed_words(block) for block in blocks]
        rows = [self.row_of_key.find(f[3]) if f else None for f in found]
        missing = [np.flatnonzero(r < 0) if f else np.zeros(0, dtype=np.int64) for f, r in zip(found, rows, strict=True)]
        if any(len(m) for m in missing):
            parts = [(np.full(len(m), b), f[1][m], f[2][m], f[3][m])
                     for b, (f, m) in enumerate(zip(found, missing, strict=True)) if len(m)]
            block, start, length, keys = (np.concatenate(column) for column in zip(*parts, strict=True))
            first, inverse = _first_of_each(keys)
            words = []  # sliced by C loops (map), not Python ones: this is per new word
            for b in np.unique(block[first]).tolist():
                at = first[block[first] == b]
                ends = (start[at] + length[at]).tolist()
                words += map(operator.getitem, itertools.repeat(blocks[b]), map(slice, start[at].tolist(), ends))
            known = np.fromiter(map(self.row.__contains__, words), dtype=bool, count=len(words))
            fresh = ~known  # a word known though its hash was not: a hash collision, caught below
            if fresh.any():
                self.add(list(itertools.compress(words, fresh.tolist())), keys[first][fresh], unique_keys=True)
            new_rows = self.row_of_key.find(keys[first])[inverse]
            for r, m in zip(rows, missing, strict=True):
                if len(m):
                    r[m], new_rows = new_rows[:len(m)], new_rows[len(m):]
        return [self._looked_up_rows(block) if f is None or not self._same_words(f, r) else r
                for block, f, r in zip(blocks, found, rows, strict=True)]

    def _same_words(self, found: tuple, rows: np.ndarray) -> bool:
        """Whether the words at ``rows`` are, character for character, the words hashed (``_hashed_words``)."""
        codes, starts, lengths, _ = found
        if (rows < 0).any() or not np.array_equal(self._char_count.values[rows], lengths):
            return False
        at = np.arange(len(codes)) + np.repeat(self._char_start.values[rows] - starts, lengths)
        return np.array_equal(self._chars.values[at], codes)

    def _looked_up_rows(self, text: str) -> np.ndarray:
        """The rows of the words of ``text``, found by the book's split and a dictionary."""
        words = _WORD_RE.findall(text)
        new = list(dict.fromkeys(itertools.filterfalse(self.row.__contains__, words)))
        if new:
            self.add(new)
        return np.fromiter(map(self.row.__getitem__, words), dtype=np.int64, count=len(words))

    def _gather(self, rows: np.ndarray, column: "_Column | None" = None) -> np.ndarray:
        """The token ids (or the entries of another per-symbol ``column``) of ``rows``, one after another."""
        counts = self._id_count.values[rows]
        out_starts = np.cumsum(counts) - counts
        at = np.arange(int(counts.sum()))
        at += np.repeat(self._id_start.values[rows] - out_starts, counts)
        return (self._ids if column is None else column).values[at]


class _KeyTable:
    """A hash table from 64-bit word hashes to rows, looked up and filled with whole arrays at once
    (open addressing, linear probing, at most half full; row -1: empty, -2: removed)."""

    def __init__(self, bits: int = 10):
        self.bits = bits
        self.keys = np.zeros(1 << bits, dtype=np.uint64)
        self.rows = np.full(1 << bits, -1, dtype=np.int64)
        self.size = 0

    def _slots(self, keys: np.ndarray) -> np.ndarray:
        return ((keys * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(64 - self.bits)).astype(np.int64)

    def find(self, keys: np.ndarray) -> np.ndarray:
        """The row of each key, -1 where it is absent."""
        slots, found = self._slots(keys), np.full(len(keys), -1, dtype=np.int64)
        todo, mask = np.arange(len(keys)), (1 << self.bits) - 1
        while len(todo):
            at = slots[todo]
            rows = self.rows[at]
            hit = (rows >= 0) & (self.keys[at] == keys[todo])
            found[todo[hit]] = rows[hit]
            todo = todo[(rows != -1) & ~hit]
            slots[todo] = (slots[todo] + 1) & mask
        return found

    def add(self, keys: np.ndarray, rows: np.ndarray, unique: bool = False) -> None:
        """Add keys absent from the table; of equal keys, the first is kept (the others fail the check)."""
        if not unique:
            keys, first = np.unique(keys, return_index=True)
            rows = rows[first]
        absent = self.find(keys) < 0
        keys, rows = keys[absent], rows[absent]
        if 2 * (self.size + len(keys)) > len(self.rows):
            old = self.rows >= 0  # removed keys are dropped here
            old_keys, old_rows = self.keys[old], self.rows[old]
            self.__init__(max(self.bits + 1, int(2 * (self.size + len(keys))).bit_length() + 1))
            self._place(old_keys, old_rows)
        self._place(keys, rows)

    def _place(self, keys: np.ndarray, rows: np.ndarray) -> None:
        """Put distinct keys absent from the table into free slots."""
        slots, mask = self._slots(keys), (1 << self.bits) - 1
        self.size += len(keys)
        claim = -3 - np.arange(len(keys))  # marks a free slot as wanted by one of the keys
        while len(keys):
            free = self.rows[slots] == -1
            self.rows[slots[free]] = claim[free]
            wins = self.rows[slots] == claim
            self.keys[slots[wins]], self.rows[slots[wins]] = keys[wins], rows[wins]
            keys, rows, claim, slots = keys[~wins], rows[~wins], claim[~wins], (slots[~wins] + 1) & mask


class _Column:
    """A growable numpy array (doubling), for rows appended a batch at a time."""

    def __init__(self, dtype=np.int64):
        self._data = np.zeros(16, dtype=dtype)
        self._size = 0

    def __len__(self) -> int:
        return self._size

    @property
    def values(self) -> np.ndarray:
        return self._data[:self._size]

    def extend(self, values: np.ndarray) -> None:
        end = self._size + len(values)
        if end > len(self._data):
            grown = np.zeros(max(end, 2 * len(self._data)), dtype=self._data.dtype)
            grown[:self._size] = self.values
            self._data = grown
        self._data[self._size:end] = values
        self._size = end
