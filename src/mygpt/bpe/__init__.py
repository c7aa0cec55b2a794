"""The machinery behind ``BPETokenizer``'s trainers and encoders (Ch.22-23, Ch.28), made fast.

``tokenizer.BPETokenizer`` keeps the book's names and behaviour; this wing does the work with numpy:
``learn_merges`` (both trainers: pair counts kept up to date, a priority queue), ``apply_merges`` (the
teaching encoder) and ``WordStore`` (the word encoder's cache, filled a batch of words at a time).
Every result is the book's exactly, tie-breaks included (NUMERICS.md §12); the plain algorithms they
are checked and timed against are tests/support/book_bpe.py.
"""

from .encode import MergeTable, apply_merges, encode_words
from .train import learn_merges
from .words import WordStore

__all__ = ["MergeTable", "WordStore", "apply_merges", "encode_words", "learn_merges"]
