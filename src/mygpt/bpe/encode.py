"""Encoding with learned merges: the teaching encoder (Ch.23) and the word encoder (Ch.28), vectorized.

Both give the book's symbols exactly (NUMERICS.md §12.5-12.6). The teaching encoder applies every
merge in order, each in one pass over the whole text; here a pass touches only the places where its
pair can occur. The word encoder merges, inside each word, the pair of lowest rank (all of its
non-overlapping occurrences) until no pair has a rank; here it does so for a whole batch of distinct
words at once: one round of numpy operations takes every word one step further, and a word leaves the
batch when it is done. Words longer than ``LONG_WORD`` (text without spaces, long identifiers) would
need as many rounds as they have merges, so they go through ``SymbolChain`` instead, one merge at a
time with a queue of the ranks present, in time near-linear in their length.
"""

import heapq

import numpy as np

from .chain import SymbolChain, text_codes

LONG_WORD = 64
_UNKNOWN = 1 << 30  # symbol id of a character the merges never name: _UNKNOWN + its code point
_NO_RANK = np.iinfo(np.int32).max  # ranks, symbol ids and word indices are int32 in the hot loops


class PairTable:
    """The rank and merged symbol of pairs of symbol ids, looked up for whole arrays of pairs at once.

    Ids run from 0 to ``size``; ``size`` itself stands for any character the merges never name (it is
    in no pair). Dense tables over (left part, right part) when they have at most ``DENSE_CELLS`` cells
    (up to about 1,500 merges: one array lookup per pair); otherwise a hash table, linear probing.
    """

    DENSE_CELLS = 1 << 21

    def __init__(self, left: np.ndarray, right: np.ndarray, rank: np.ndarray, merged: np.ndarray, size: int):
        lefts, rights = np.unique(left), np.unique(right)
        width = len(rights) + 1
        cells = (len(lefts) + 1) * width
        self.dense = cells <= self.DENSE_CELLS
        if self.dense:  # row and column of each symbol; unknown symbols: the extra row and column, no pairs
            self.row = np.full(size + 1, len(lefts) * width, dtype=np.int32)
            self.row[lefts] = np.arange(len(lefts)) * width
            self.column = np.full(size + 1, len(rights), dtype=np.int32)
            self.column[rights] = np.arange(len(rights))
            self.rank = np.full(cells, _NO_RANK, dtype=np.int32)
            self.merged = np.full(cells, -1, dtype=np.int32)
            at = self.row[left] + self.column[right]
            self.rank[at], self.merged[at] = rank, merged
            return
        self.rank = np.append(rank, _NO_RANK).astype(np.int32)  # entry -1: no pair
        self.merged = np.append(merged, -1).astype(np.int32)
        self.mask = (1 << int(len(left) * 8).bit_length()) - 1
        self.slot_left = np.full(self.mask + 1, -1, dtype=np.int64)
        self.slot_right, self.slot_entry = self.slot_left.copy(), self.slot_left.copy()
        for entry, (a, b) in enumerate(zip(left.tolist(), right.tolist(), strict=True)):
            slot = self._slot(a, b)
            while self.slot_left[slot] != -1:
                slot = (slot + 1) & self.mask
            self.slot_left[slot], self.slot_right[slot], self.slot_entry[slot] = a, b, entry

    def _slot(self, a, b):
        return ((a * 0x9E3779B1 + b * 0x85EBCA77) >> 7) & self.mask

    def lookup(self, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each pair ``(a[i], b[i])`` its rank (``_NO_RANK`` if it is not a merge) and where it is: the
        merged symbol of pair ``i`` is ``merged[where[i]]``."""
        if self.dense:
            at = self.row[a] + self.column[b]
            return self.rank[at], at
        a, b = a.astype(np.int64), b.astype(np.int64)
        slot = self._slot(a, b)
        entry = np.full(len(a), -1, dtype=np.int64)
        todo = np.arange(len(a))
        while len(todo):
            s = slot[todo]
            stored = self.slot_left[s]
            hit = (stored == a[todo]) & (self.slot_right[s] == b[todo])
            entry[todo[hit]] = self.slot_entry[s[hit]]
            todo = todo[~hit & (stored != -1)]
            slot[todo] = (slot[todo] + 1) & self.mask
        return self.rank[entry], entry


class MergeTable:
    """A tokenizer's merges as arrays: an id for each of its strings, and its ranked pairs.

    ``ranks`` is the tokenizer's ``merge_ranks`` (a pair listed twice keeps its later rank) and
    ``stoi`` its string-to-id map (a string made twice keeps its later id), as in NUMERICS.md §12.2.
    Every character that is none of its strings gets the one id ``size`` (in no pair); the word encoder
    reports such a character as ``_UNKNOWN + code point``.
    """

    def __init__(self, chars: list[str], merges: list[tuple[str, str]], ranks: dict, stoi: dict[str, int]):
        self.names: list[str] = []
        self.ids: dict[str, int] = {}
        for s in [*chars, *(s for a, b in merges for s in (a, b, a + b))]:
            if s not in self.ids:
                self.ids[s] = len(self.names)
                self.names.append(s)
        self.size = len(self.names)
        singles = [(ord(s), i) for s, i in self.ids.items() if len(s) == 1]
        self.char_ids = np.full(max((c for c, _ in singles), default=0) + 2, self.size, dtype=np.int32)
        for code, i in singles:
            self.char_ids[code] = i
        self.merges = [(self.ids[a], self.ids[b], self.ids[a + b]) for a, b in merges]
        entries = np.array([(self.ids[a], self.ids[b], rank, self.ids[a + b]) for (a, b), rank in ranks.items()],
                           dtype=np.int64).reshape(-1, 4)
        left, right, rank, merged = entries.T
        self.pairs = PairTable(left, right, rank, merged, self.size)
        self.by_rank = dict(zip(rank.tolist(), zip(left.tolist(), right.tolist(), merged.tolist()), strict=True))
        self.token_id = np.array([stoi.get(s, -1) for s in self.names] + [-1], dtype=np.int64)

    def symbols(self, codes: np.ndarray) -> np.ndarray:
        """Symbol ids of characters given by code point (``size`` for a character it does not name)."""
        return self.char_ids[np.minimum(codes, len(self.char_ids) - 1)]

    def symbol_names(self, symbols: np.ndarray) -> list[str]:
        """The strings of symbol ids."""
        if not len(symbols) or symbols.max() < self.size:
            return list(map(self.names.__getitem__, symbols.tolist()))
        return [self.names[s] if s < _UNKNOWN else chr(s - _UNKNOWN) for s in symbols.tolist()]

    def token_ids(self, symbols: np.ndarray) -> np.ndarray:
        """Vocabulary ids of symbol ids; -1 for a symbol that is not in the vocabulary."""
        return self.token_id[np.minimum(symbols, self.size)]


def apply_merges(table: MergeTable, text: str) -> np.ndarray:
    """The teaching encoder's symbols (as ids of ``table``): every merge in order, one pass each (§12.5).
    A character the table does not name comes out as ``_UNKNOWN + code point``."""
    codes = text_codes(text)
    chain = SymbolChain(table.symbols(codes))
    for a, b, merged in table.merges:
        if a in chain.where and b in chain.where:
            at = chain.occurrences(a, b)
            if len(at):
                chain.merge_at(at, merged)
    unnamed = chain.sym == table.size
    chain.sym[unnamed] = codes[unnamed] + _UNKNOWN  # never merged: still at their own positions
    return chain.live_symbols()


def _left_to_right(at: np.ndarray) -> np.ndarray:
    """Of the sorted positions ``at`` where each word's chosen pair starts, those that merge: in a run of
    adjacent starts (``a a a`` and the pair ``(a, a)``; a word merges one pair per round, so adjacent
    starts are the same pair) the 1st, 3rd, ..., as the book's left-to-right scan does."""
    follows = np.append(False, at[1:] == at[:-1] + 1)
    if not follows.any():
        return at
    index = np.arange(len(at))
    run_start = np.maximum.accumulate(np.where(follows, 0, index))
    return at[(index - run_start) % 2 == 0]


def _encode_short(pairs: PairTable, symbols: np.ndarray, word: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rounds over a batch of words: in each, every word merges its lowest-ranked pair everywhere (§12.6).

    ``symbols``/``word``: the characters' symbol ids and word indices, words contiguous and in order.
    Returns the final symbols and their word indices (each word's symbols together and in order).
    """
    done_symbols, done_words = [symbols[:0]], [word[:0]]
    while len(symbols):
        rank, where = pairs.lookup(symbols[:-1], symbols[1:])
        between = word[1:] != word[:-1]
        rank[between] = _NO_RANK
        rank = np.append(rank, _NO_RANK)  # the rank of the pair starting at each position
        starts = np.flatnonzero(np.append(True, between))
        lowest = np.minimum.reduceat(rank, starts)
        lowest[lowest == _NO_RANK] = -1  # the word is done
        lowest = np.repeat(lowest, np.diff(starts, append=len(word)))
        at = _left_to_right(np.flatnonzero(rank == lowest))
        symbols[at] = pairs.merged[where[at]]
        keep = lowest >= 0
        if not keep.all():
            done_symbols.append(symbols[~keep])
            done_words.append(word[~keep])
        keep[at + 1] = False
        symbols, word = symbols[keep], word[keep]
    return np.concatenate(done_symbols), np.concatenate(done_words)


def _encode_long(table: MergeTable, symbols: np.ndarray) -> np.ndarray:
    """One word, lowest rank first (§12.6), a whole merge at a time; ranks wait in a heap."""
    chain = SymbolChain(symbols)
    ranks = table.pairs.lookup(*chain.pairs(chain.paired(np.arange(len(symbols)))))[0]
    queue = np.unique(ranks[ranks != _NO_RANK]).tolist()  # sorted: already a heap
    while queue:
        rank = heapq.heappop(queue)
        a, b, merged = table.by_rank[rank]
        at = chain.occurrences(a, b)
        if not len(at):
            continue
        chain.merge_at(at, merged)
        left = chain.prv[at]
        new = table.pairs.lookup(*chain.pairs(chain.paired(np.unique(np.concatenate([at, left[left >= 0]])))))[0]
        for r in np.unique(new[new != _NO_RANK]).tolist():
            heapq.heappush(queue, r)
    return chain.live_symbols()


def encode_words(table: MergeTable, words: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """The words' final symbol ids under the word encoder (NUMERICS.md §12.6), one word after another,
    and how many each word has."""
    lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
    codes = text_codes("".join(words))
    symbols = table.symbols(codes)
    word = np.repeat(np.arange(len(words), dtype=np.int32), lengths)
    long = lengths > LONG_WORD
    if long.any():
        short = ~long[word]
        parts = [_encode_short(table.pairs, symbols[short], word[short])]
        bounds = np.concatenate([[0], np.cumsum(lengths)])
        for w in np.flatnonzero(long).tolist():
            final = _encode_long(table, symbols[bounds[w]:bounds[w + 1]])
            parts.append((final, np.full(len(final), w)))
    else:
        parts = [_encode_short(table.pairs, symbols.copy(), word)]
    final, final_word = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
    order = np.argsort(final_word, kind="stable")  # words finish in different rounds
    final, final_word = final[order], final_word[order]
    unnamed = symbols == table.size
    if unnamed.any():  # never merged: the k-th ``size`` left is the k-th unnamed character
        final[final == table.size] = codes[unnamed] + _UNKNOWN
    return final, np.bincount(final_word, minlength=len(words))
