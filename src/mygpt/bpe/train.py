"""Learning merges with pair counts kept up to date and a priority queue (Ch.23's and Ch.28's trainers).

The book recounts every pair of the text before each merge. Here the counts are counted once and
then only corrected where a merge changed the text: the pairs around each merged position lose
their old counts and gain new ones. The most frequent pair comes from a heap, with the book's
tie-break: among equal counts, the pair whose first occurrence comes first (the first inserted
into the book's insertion-ordered counter, NUMERICS.md §12.3-12.4).
"""

import heapq
from dataclasses import dataclass

import numpy as np

from .chain import DEAD, SymbolChain, pair_key, split_key, text_codes

_NONE = np.iinfo(np.int64).max
_DENSE_PAIRS = 1 << 24  # alphabets up to 4,096 characters count their pairs in a table


class _PairQueue:
    """Pair counts and a heap that always yields the book's next merge.

    Heap entries are ``(-count, first, key)``. An entry may be out of date (the pair lost occurrences
    since), but the latest entry of each pair is never *after* its true place: ``first`` is at most the
    pair's true first position, and the count at least its true count (a count only ever rises with a
    new entry). So when the top entry is also exact, it is the true maximum; when it is not, it is put
    back with its exact key.
    """

    def __init__(self, left: np.ndarray, right: np.ndarray, weights: np.ndarray, starts: np.ndarray,
                 n_symbols: int):
        """The pairs ``(left[i], right[i])`` starting at ``starts`` (in order), counted ``weights[i]`` each."""
        if n_symbols ** 2 <= _DENSE_PAIRS:  # count in a table of every possible pair: no sort
            cell = left * n_symbols + right
            counts = np.bincount(cell, weights=weights, minlength=n_symbols ** 2)
            first = np.full(n_symbols ** 2, len(cell))
            np.minimum.at(first, cell, np.arange(len(cell)))
            cells = np.flatnonzero(first < len(cell))
            uniq, counts, first = pair_key(cells // n_symbols, cells % n_symbols), counts[cells], first[cells]
        else:
            uniq, first, inverse = np.unique(pair_key(left, right), return_index=True, return_inverse=True)
            counts = np.bincount(inverse, weights=weights)
        counts = counts.astype(np.int64)
        self.count = dict(zip(uniq.tolist(), counts.tolist(), strict=True))
        firsts = starts[first].tolist()
        self.heap = [(-c, f, k) for k, c, f in zip(uniq.tolist(), counts.tolist(), firsts, strict=True)]
        heapq.heapify(self.heap)
        self.latest = {k: (negc, f) for negc, f, k in self.heap}

    def update(self, keys: np.ndarray, weights: np.ndarray, starts: np.ndarray) -> None:
        """Add ``weights`` to the counts of ``keys`` (negative: occurrences gone; positive: occurrences new,
        starting at ``starts``)."""
        uniq = np.unique(keys)
        inverse = np.searchsorted(uniq, keys)  # cheaper than np.unique's inverse (a sort of all the keys)
        delta = np.bincount(inverse, weights=weights).astype(np.int64).tolist()
        added_first = np.full(len(uniq), _NONE)
        gains = weights > 0
        np.minimum.at(added_first, inverse[gains], starts[gains])
        count, latest, heap = self.count, self.latest, self.heap
        for key, d, first in zip(uniq.tolist(), delta, added_first.tolist(), strict=True):
            c = count.get(key, 0) + d
            if c == 0:
                del count[key]
                latest.pop(key, None)
                continue
            count[key] = c
            if first != _NONE:  # new occurrences: the count may have risen, first fallen
                old = latest.get(key)
                entry = (-c, first if old is None else min(first, old[1]))
                latest[key] = entry
                heapq.heappush(heap, (*entry, key))

    def pop_best(self, first_of) -> int | None:
        """The key of the most frequent pair (ties: first occurrence first), or None when no pair is left.
        ``first_of(key)`` gives a pair's exact first position."""
        heap, count, latest = self.heap, self.count, self.latest
        while heap:
            negc, first, key = heap[0]
            c = count.get(key)
            if c is None or latest.get(key) != (negc, first):  # gone, or an older entry of the pair
                heapq.heappop(heap)
                continue
            exact = (-c, first_of(key))
            if exact == (negc, first):
                return key
            latest[key] = exact
            heapq.heapreplace(heap, (*exact, key))
        return None


@dataclass
class Learned:
    """What ``learn_merges`` learned, and the pieces' symbols after the last merge: ``symbols`` holds
    indices into ``names``, one piece after another, ``counts[i]`` of them for piece ``i``."""

    merges: list[tuple[str, str]]
    names: list[str]
    symbols: np.ndarray
    counts: np.ndarray


def learn_merges(pieces: list[str], freqs: list[int] | None, num_merges: int) -> Learned:
    """Up to ``num_merges`` merges learned over ``pieces`` (each counted ``freqs[i]`` times, default 1).

    One piece (the whole text, frequency 1) is the book's ``from_text`` (Ch.23); the distinct words
    with their counts, in first-occurrence order, are its ``from_corpus`` (Ch.28). Same merges, same
    order, same tie-breaks as the book's recount-everything loop.
    """
    lengths = np.fromiter(map(len, pieces), dtype=np.int64, count=len(pieces))
    codes = text_codes("".join(pieces))
    present = np.zeros(int(codes.max()) + 1, dtype=bool)
    present[codes] = True
    alphabet = np.flatnonzero(present)  # the characters in code-point order: the book's sorted alphabet
    number = np.zeros(len(present), dtype=np.int64)
    number[alphabet] = np.arange(len(alphabet))
    symbols = number[codes]
    names = [chr(c) for c in alphabet.tolist()]
    ids = {name: i for i, name in enumerate(names)}
    chain = SymbolChain(symbols, lengths)
    weight = (np.ones(len(codes), dtype=np.int64) if freqs is None
              else np.repeat(np.asarray(freqs, dtype=np.int64), lengths))
    starts = chain.paired(np.arange(len(codes)))
    queue = _PairQueue(*chain.pairs(starts), weight[starts], starts, len(names))

    last: dict = {}  # the occurrences first_of found last: those of the pair pop_best returns

    def first_of(key: int) -> int:
        last.update(key=key, at=chain.all_occurrences(*split_key(key)))
        return int(last["at"][0])

    merges = []
    while len(merges) < num_merges:
        key = queue.pop_best(first_of)
        if key is None:
            break
        a, b = split_key(key)
        merges.append((names[a], names[b]))
        merged = ids.setdefault(names[a] + names[b], len(names))
        if merged == len(names):
            names.append(names[a] + names[b])
        at = chain.occurrences(a, b, last["at"] if last.get("key") == key else None)
        right, left = chain.nxt[at], chain.prv[at]
        old_starts = chain.paired(np.unique(np.concatenate([at, right, left[left >= 0]])))
        old_keys = pair_key(*chain.pairs(old_starts))
        chain.merge_at(at, merged)
        left = chain.prv[at]
        new_starts = chain.paired(np.unique(np.concatenate([at, left[left >= 0]])))
        queue.update(np.concatenate([old_keys, pair_key(*chain.pairs(new_starts))]),
                     np.concatenate([-weight[old_starts], weight[new_starts]]),
                     np.concatenate([old_starts, new_starts]))
    live = chain.sym != DEAD
    piece = np.repeat(np.arange(len(pieces)), lengths)
    return Learned(merges, names, chain.sym[live], np.bincount(piece[live], minlength=len(pieces)))
