"""Properties: the fast BPE gives the book's exact merges and ids on any text (issue 21).

``support.book_bpe`` is the book's algorithms written plainly (NUMERICS.md §12). Hypothesis draws texts
of every shape the fast paths treat differently: ordinary words, text without whitespace (one long
word, longer than ``bpe.encode.LONG_WORD``), runs of one character (overlapping pairs ``a a a``), Unicode
whitespace and other scripts; and merge lists no text would teach (pairs listed twice, one string made
by two merges). The word encoder's cache is compared too. Examples are bounded to keep the suite quick.
"""

import copy
import re

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import book_bpe

from mygpt import BPETokenizer
from mygpt.bpe import encode as bpe_encode
from mygpt.bpe import words as bpe_words

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Alphabets: few letters (many repeats and long runs), whitespace of several kinds, other scripts.
ALPHABETS = ["ab", "aab ", "abc \n", "xy\t z", "the cat\n", "日本語 ", "абв гд", "a\u00a0b\u3000c", "ab"]


@st.composite
def texts(draw, max_size: int = 160) -> str:
    alphabet = draw(st.sampled_from(ALPHABETS))
    shape = draw(st.sampled_from(["mixed", "no whitespace", "long word"]))
    if shape == "no whitespace":
        alphabet = "".join(c for c in alphabet if not c.isspace()) or "ab"
    text = draw(st.text(alphabet=alphabet, min_size=1, max_size=max_size))
    if shape == "long word":  # one word longer than LONG_WORD among short ones
        word = draw(st.text(alphabet="abc", min_size=bpe_encode.LONG_WORD + 1, max_size=3 * bpe_encode.LONG_WORD))
        text = text + " " + word + " " + text
    return text


def outcome(fn, *args):
    """``fn(*args)`` as a list, or the KeyError it raised (so that both results can be compared)."""
    try:
        return list(fn(*args))
    except KeyError as err:
        return ("KeyError", err.args)


def fast_ids(tok: BPETokenizer, text: str, policy: str) -> list[int]:
    return tok.encode_corpus(text, policy).tolist()


def check_encoders(tok: BPETokenizer, text: str) -> None:
    """Teaching encoder, word encoder (both unknown-symbol policies) and the word cache, against the book;
    ``tok`` (not used, only copied) as it came from its trainer and as loaded from its merges."""
    assert outcome(lambda: tok.encode(text).tolist()) == outcome(book_bpe.encode, tok.chars, tok.merges, text)
    fresh_ones = [copy.deepcopy(tok), copy.deepcopy(tok), BPETokenizer(tok.chars, tok.merges),
                  BPETokenizer(tok.chars, tok.merges)]  # as trained (from_corpus keeps its words' symbols), as loaded
    for policy, fast in zip(["skip", "error"] * 2, fresh_ones, strict=True):
        book = book_bpe.WordEncoder(tok.chars, tok.merges)
        for _ in range(2):  # empty cache, then filled
            expected = outcome(book.encode_corpus, text, policy)
            assert outcome(fast_ids, fast, text, policy) == expected, (tok.merges, text)
            assert fast._word_cache == book.word_cache


@SETTINGS
@given(text=texts(), merges=st.integers(0, 40))
def test_trainers_learn_the_books_merges(text, merges):
    assert BPETokenizer.from_text(text, merges).merges == book_bpe.from_text(text, merges)
    assert BPETokenizer.from_corpus(text, merges).merges == book_bpe.from_corpus(text, merges)


@SETTINGS
@given(text=texts(), other=texts(), merges=st.integers(0, 40), whole=st.booleans())
def test_encoders_give_the_books_ids(text, other, merges, whole):
    tok = (BPETokenizer.from_text if whole else BPETokenizer.from_corpus)(text, merges)
    check_encoders(tok, text)
    check_encoders(tok, other + "q")  # "q" is in no alphabet: an unknown character


@st.composite
def merge_lists(draw) -> tuple[list[str], list[tuple[str, str]]]:
    """Merges of symbols made so far, drawn at random: pairs may repeat, one string may be made twice."""
    chars, symbols, merges = ["a", "b", "c", " "], ["a", "b", "c", " "], []
    for _ in range(draw(st.integers(0, 12))):
        a, b = draw(st.sampled_from(symbols)), draw(st.sampled_from(symbols))
        merges.append((a, b))
        symbols.append(a + b)
    return chars, merges


@SETTINGS
@given(vocabulary=merge_lists(), text=st.text(alphabet="abc d", max_size=150))
def test_encoders_follow_the_book_for_any_merge_list(vocabulary, text):
    check_encoders(BPETokenizer(*vocabulary), text)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=texts(max_size=400), other=texts(max_size=400))
def test_small_blocks_collisions_and_the_hash_table(monkeypatch, text, other):
    """The paths big texts and big vocabularies take, forced on small ones: many blocks (grouped), hash
    collisions (every word hashes alike: the character check must catch it), the pair hash table."""
    monkeypatch.setattr(bpe_words, "BLOCK", 8)
    monkeypatch.setattr(bpe_words, "GROUP", 3)
    monkeypatch.setattr(bpe_encode.PairTable, "DENSE_CELLS", 0)
    tok = BPETokenizer.from_corpus(text, 30)
    check_encoders(tok, other)
    real_keys = bpe_words.word_keys
    monkeypatch.setattr(bpe_words, "word_keys", lambda *args: real_keys(*args) & 0)
    check_encoders(BPETokenizer(tok.chars, tok.merges), text + other)


def test_whitespace_table_is_the_regex_one():
    """The word splitter's whitespace (a table up to U+3000) is exactly ``\\s`` of Python's ``re``, the
    book's split, over every code point."""
    space = re.compile(r"\s")
    regex = [c for c in range(0x110000) if space.match(chr(c))]
    assert regex == np.flatnonzero(bpe_words._whitespace()).tolist()
