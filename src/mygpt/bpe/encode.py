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

from .chain import PAIR_SHIFT, SymbolChain, pair_key, text_codes

LONG_WORD = 64
_UNKNOWN = 1 << 30  # symbol id of a character the merges never name: _UNKNOWN + its code point
_NO_RANK = np.iinfo(np.int64).max


class MergeTable:
    """A tokenizer's merges as arrays: symbol ids for its strings, pair keys sorted with their ranks.

    ``ranks`` is the tokenizer's ``merge_ranks`` (a pair listed twice keeps its later rank) and
    ``stoi`` its string-to-id map (a string made twice keeps its later id), as in NUMERICS.md §12.2.
    """

    def __init__(self, chars: list[str], merges: list[tuple[str, str]], ranks: dict, stoi: dict[str, int]):
        self.names: list[str] = []
        self.ids: dict[str, int] = {}
        for s in [*chars, *(s for a, b in merges for s in (a, b, a + b))]:
            if s not in self.ids:
                self.ids[s] = len(self.names)
                self.names.append(s)
        singles = sorted((ord(s), i) for s, i in self.ids.items() if len(s) == 1)
        self.single_codes = np.array([c for c, _ in singles], dtype=np.int64)
        self.single_ids = np.array([i for _, i in singles], dtype=np.int64)
        self.merges = [(self.ids[a], self.ids[b], self.ids[a + b]) for a, b in merges]
        by_key = sorted((pair_key(self.ids[a], self.ids[b]), rank, self.ids[a + b])
                        for (a, b), rank in ranks.items())
        self.keys = np.array([k for k, _, _ in by_key], dtype=np.int64)
        self.rank = np.array([r for _, r, _ in by_key], dtype=np.int64)
        self.merged = np.array([m for _, _, m in by_key], dtype=np.int64)
        self.by_rank = {r: (k, m) for k, r, m in by_key}
        self.token_id = np.array([stoi.get(s, -1) for s in self.names], dtype=np.int64)

    def symbols(self, codes: np.ndarray) -> np.ndarray:
        """Symbol ids of characters given by code point (characters the table lacks get ``_UNKNOWN + code``)."""
        if not len(self.single_codes):
            return codes + _UNKNOWN
        at = np.minimum(np.searchsorted(self.single_codes, codes), len(self.single_codes) - 1)
        return np.where(self.single_codes[at] == codes, self.single_ids[at], codes + _UNKNOWN)

    def symbol_names(self, symbols: np.ndarray) -> list[str]:
        """The strings of symbol ids."""
        names = self.names
        return [names[s] if s < _UNKNOWN else chr(s - _UNKNOWN) for s in symbols.tolist()]

    def lookup(self, keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For each pair key: its rank (``_NO_RANK`` if it is not a merge) and the merged symbol's id."""
        if not len(self.keys):
            return np.full(len(keys), _NO_RANK), np.zeros(len(keys), dtype=np.int64)
        at = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        found = self.keys[at] == keys
        return np.where(found, self.rank[at], _NO_RANK), self.merged[at]

    def token_ids(self, symbols: np.ndarray) -> np.ndarray:
        """Vocabulary ids of symbol ids; -1 for a symbol that is not in the vocabulary."""
        known = symbols < len(self.token_id)
        return np.where(known, self.token_id[np.where(known, symbols, 0)], -1)


def apply_merges(table: MergeTable, text: str) -> np.ndarray:
    """The teaching encoder's symbols (as ids of ``table``): every merge in order, one pass each (§12.5)."""
    chain = SymbolChain(table.symbols(text_codes(text)))
    for a, b, merged in table.merges:
        if a in chain.where and b in chain.where:
            at = chain.occurrences(a, b)
            if len(at):
                chain.merge_at(at, merged)
    return chain.live_symbols()


def _runs_alternate(candidate: np.ndarray) -> np.ndarray:
    """Of each run of consecutive True values, keep the 1st, 3rd, ...: the non-overlapping left-to-right
    matches of a pair ``(a, a)`` in ``a a a ...`` (two different pairs never start at adjacent places
    of a word in the same round, since a word merges one pair per round)."""
    index = np.arange(len(candidate))
    starts = candidate & ~np.concatenate([[False], candidate[:-1]])
    run_start = np.maximum.accumulate(np.where(starts, index, 0))
    return candidate & ((index - run_start) % 2 == 0)


def _encode_short(table: MergeTable, symbols: np.ndarray, word: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rounds over a batch of words: in each, every word merges its lowest-ranked pair everywhere (§12.6).

    ``symbols``/``word``: the characters' symbol ids and word indices, words contiguous and in order.
    Returns the final symbols and their word indices, grouped by word in order.
    """
    done_symbols, done_words = [], []
    while len(symbols):
        rank, merged = table.lookup(pair_key(symbols[:-1], symbols[1:]))
        rank[word[:-1] != word[1:]] = _NO_RANK
        rank = np.append(rank, _NO_RANK)  # rank of the pair starting at each position
        starts = np.flatnonzero(np.concatenate([[True], word[1:] != word[:-1]]))
        lowest = np.minimum.reduceat(rank, starts)
        lowest = np.repeat(lowest, np.diff(np.append(starts, len(word))))
        finished = lowest == _NO_RANK
        done_symbols.append(symbols[finished])
        done_words.append(word[finished])
        merge = _runs_alternate((rank == lowest) & ~finished)
        at = np.flatnonzero(merge)
        symbols[at] = merged[at]
        keep = ~finished
        keep[at + 1] = False
        symbols, word = symbols[keep], word[keep]
    symbols, word = np.concatenate(done_symbols), np.concatenate(done_words)
    order = np.argsort(word, kind="stable")
    return symbols[order], word[order]


def _encode_long(table: MergeTable, symbols: np.ndarray) -> np.ndarray:
    """One word, lowest rank first (§12.6), a whole merge at a time; ranks wait in a heap."""
    chain = SymbolChain(symbols)
    starts, keys = chain.pair_starts(np.arange(len(symbols)))
    ranks = table.lookup(keys)[0]
    queue = np.unique(ranks[ranks != _NO_RANK]).tolist()  # sorted: already a heap
    while queue:
        rank = heapq.heappop(queue)
        key, merged = table.by_rank[rank]
        at = chain.occurrences(key >> PAIR_SHIFT, key & ((1 << PAIR_SHIFT) - 1))
        if not len(at):
            continue
        chain.merge_at(at, merged)
        left = chain.prv[at]
        _, keys = chain.pair_starts(np.unique(np.concatenate([at, left[left >= 0]])))
        new = table.lookup(keys)[0]
        for r in np.unique(new[new != _NO_RANK]).tolist():
            heapq.heappush(queue, r)
    return chain.live_symbols()


def encode_words(table: MergeTable, words: list[str]) -> list[np.ndarray]:
    """Each word's final symbol ids under the word encoder (NUMERICS.md §12.6)."""
    lengths = np.fromiter(map(len, words), dtype=np.int64, count=len(words))
    symbols = table.symbols(text_codes("".join(words)))
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    result: list[np.ndarray | None] = [None] * len(words)
    short = lengths <= LONG_WORD
    for w in np.flatnonzero(~short).tolist():
        result[w] = _encode_long(table, symbols[bounds[w]:bounds[w + 1]])
    if short.any():
        index = np.flatnonzero(short)
        take = np.repeat(short, lengths)
        final, word = _encode_short(table, symbols[take], np.repeat(np.arange(len(index)), lengths[short]))
        cuts = np.searchsorted(word, np.arange(1, len(index)))
        for w, piece in zip(index.tolist(), np.split(final, cuts), strict=True):
            result[w] = piece
    return result
