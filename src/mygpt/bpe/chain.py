"""Symbols of one or more texts as a linked list held in numpy arrays, merged a whole pair at a time.

The book applies a merge by rebuilding the symbol list (Ch.22-23): every merge costs the length of
the text. Here a merge costs the number of places it could occur: each symbol keeps the positions
where it was made, and a merge looks only at the positions of the rarer of its two symbols.
"""

import numpy as np

PAIR_SHIFT = 32  # a pair of symbol ids (a, b) is the one integer key a << 32 | b
_LOW = (1 << PAIR_SHIFT) - 1
DEAD = -1  # the symbol id of a position whose symbol was merged into its left neighbour


def pair_key(a, b):
    """The integer key of the pair of symbol ids ``(a, b)`` (ints or numpy arrays)."""
    return (a << PAIR_SHIFT) | b


def split_key(key: int) -> tuple[int, int]:
    return key >> PAIR_SHIFT, key & _LOW


def text_codes(text: str) -> np.ndarray:
    """The code points of ``text`` as an int64 array (one per character)."""
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)


class SymbolChain:
    """Pieces laid end to end; pairs never span two pieces (the words of Ch.28, or one whole text).

    A symbol lives at the position of its first character. ``sym[i]`` is its id (``DEAD`` once it
    was merged into the symbol on its left), ``nxt``/``prv`` link the live symbols of a piece (-1 at
    the piece's ends). Merging keeps the left position, so positions stay in text order and the
    smallest position of a pair is its first occurrence (the book's tie-break). ``where[s]`` holds
    the positions where symbol ``s`` was made, in order; some may since have changed (filtered on use).
    """

    def __init__(self, symbols: np.ndarray, piece_lengths: np.ndarray | None = None):
        n = len(symbols)
        self.sym = symbols.astype(np.int64)
        self.nxt = np.arange(1, n + 1, dtype=np.int64)
        self.prv = np.arange(-1, n - 1, dtype=np.int64)
        if n:
            ends = np.cumsum(piece_lengths) if piece_lengths is not None else np.array([n])
            self.nxt[ends - 1] = -1
            self.prv[ends[:-1]] = -1
        small = n and self.sym.max() < 1 << 15  # then a radix sort
        order = np.argsort(self.sym.astype(np.int16) if small else self.sym, kind="stable")
        ids, starts = np.unique(self.sym[order], return_index=True)
        self.where = dict(zip(ids.tolist(), np.split(order, starts[1:]), strict=True)) if n else {}

    def paired(self, starts: np.ndarray) -> np.ndarray:
        """Those of the live positions ``starts`` that a symbol follows in their piece: where pairs start."""
        return starts[self.nxt[starts] >= 0]

    def pairs(self, starts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The left and right symbol ids of the pairs starting at ``starts`` (from ``paired``)."""
        return self.sym[starts], self.sym[self.nxt[starts]]

    def _live(self, s: int) -> np.ndarray:
        at = self.where.get(s)
        if at is None:
            return at
        at = at[self.sym[at] == s]
        self.where[s] = at
        return at

    def all_occurrences(self, a: int, b: int) -> np.ndarray:
        """Every position where the pair ``(a, b)`` starts, overlapping ones included, in text order."""
        at_a, at_b = self.where.get(a), self.where.get(b)
        if at_a is None or at_b is None:
            return np.empty(0, dtype=np.int64)
        if len(at_a) <= len(at_b):
            at = self._live(a)
            nxt = self.nxt[at]
            at, nxt = at[nxt >= 0], nxt[nxt >= 0]
            return at[self.sym[nxt] == b]
        at = self.prv[self._live(b)]
        at = at[at >= 0]
        return at[self.sym[at] == a]

    def occurrences(self, a: int, b: int, everywhere: np.ndarray | None = None) -> np.ndarray:
        """Where the merge ``(a, b)`` applies: scanning left to right, matches never overlap (Ch.22-23):
        in a run ``a a a`` of the pair ``(a, a)`` the 1st, 3rd, ... starts merge. ``everywhere``: the
        pair's ``all_occurrences``, if known."""
        at = self.all_occurrences(a, b) if everywhere is None else everywhere
        if a == b and len(at) > 1:
            follows = np.zeros(len(at), dtype=bool)
            follows[1:] = self.prv[at[1:]] == at[:-1]  # this start is the previous start's right symbol
            index = np.arange(len(at))
            run_start = np.maximum.accumulate(np.where(follows, 0, index))
            at = at[(index - run_start) % 2 == 0]
        return at

    def merge_at(self, at: np.ndarray, merged: int) -> None:
        """Replace the pair starting at each of the positions ``at`` (from ``occurrences``) by ``merged``."""
        right = self.nxt[at]
        after = self.nxt[right]
        self.sym[at] = merged
        self.sym[right] = DEAD
        self.nxt[at] = after
        linked = after >= 0
        self.prv[after[linked]] = at[linked]
        before = self.where.get(merged)
        self.where[merged] = at if before is None else np.union1d(before, at)

    def live_symbols(self) -> np.ndarray:
        """The symbol ids left, in text order."""
        return self.sym[self.sym != DEAD]
