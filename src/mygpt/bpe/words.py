"""The distinct words a word encoder has met, with their token ids in one flat array (Ch.28's cache).

The book caches each distinct word's symbols and, for every word of the text, looks its symbols up
one by one. Here each distinct word is encoded once, in batches (``encode_words``), and its ids are
stored once; the ids of a whole text are then one numpy gather from the words' rows.
"""

import numpy as np

from .encode import MergeTable, encode_words


class WordStore:
    """Rows of token ids (-1 for a symbol outside the vocabulary), one row per distinct word."""

    def __init__(self, table: MergeTable):
        self.table = table
        self.row: dict[str, int] = {}
        self._starts = np.zeros(0, dtype=np.int64)
        self._lengths = np.zeros(0, dtype=np.int64)
        self._ids = np.zeros(0, dtype=np.int64)
        self._rows = self._used = 0

    def add(self, words: list[str]) -> list[list[str]]:
        """Encode ``words`` (new ones), store their ids, and return their symbols as strings."""
        symbols = encode_words(self.table, words)
        lengths = np.fromiter(map(len, symbols), dtype=np.int64, count=len(symbols))
        flat = np.concatenate(symbols) if symbols else np.zeros(0, dtype=np.int64)
        starts = self._used + np.cumsum(lengths) - lengths
        rows = np.arange(self._rows, self._rows + len(words))
        self._starts = _put(self._starts, self._rows, starts)
        self._lengths = _put(self._lengths, self._rows, lengths)
        self._ids = _put(self._ids, self._used, self.table.token_ids(flat))
        self._rows += len(words)
        self._used += len(flat)
        self.row.update(zip(words, rows.tolist(), strict=True))
        names = self.table.symbol_names(flat)
        bounds = np.cumsum(lengths).tolist()
        return [names[end - n:end] for end, n in zip(bounds, lengths.tolist(), strict=True)]

    def ids(self, rows: np.ndarray) -> np.ndarray:
        """The token ids of the words of ``rows``, one after another."""
        lengths = self._lengths[rows]
        out_starts = np.cumsum(lengths) - lengths
        at = np.arange(out_starts[-1] + lengths[-1] if len(rows) else 0)
        at += np.repeat(self._starts[rows] - out_starts, lengths)
        return self._ids[at]

    def clear(self) -> None:
        self.__init__(self.table)


def _put(array: np.ndarray, at: int, values: np.ndarray) -> np.ndarray:
    """``array`` with ``values`` written from index ``at``, grown by doubling when needed."""
    end = at + len(values)
    if end > len(array):
        grown = np.zeros(max(end, 2 * len(array)), dtype=array.dtype)
        grown[:at] = array[:at]
        array = grown
    array[at:end] = values
    return array
