"""Tokenizer invariants (issue 2), and the fast BPE beside the book's algorithms on small random texts.

The book's algorithms, written plainly, are ``support.book_bpe``; the property tests on random texts of
every shape (no whitespace, long words, other scripts) are test_bpe_properties.py.
"""

import json
import random

import pytest
import torch
from support import book_bpe
from support.data import shakespeare_path

from mygpt import BPETokenizer, CharTokenizer


def _outcome(encode, *args):
    """The result of ``encode(*args)``, or the KeyError it raised, so that both can be compared."""
    try:
        return list(encode(*args))
    except KeyError as exc:
        return ("KeyError", exc.args)


ALPHABETS = ["ab", "abc", "ab ", "a b\n", "aaab", "abcde  \n", "the cat\n"]


@pytest.mark.parametrize("seed", range(2))
def test_fast_bpe_equals_reference_on_random_texts(seed):
    rng = random.Random(seed)
    for _ in range(100):
        alphabet = rng.choice(ALPHABETS)
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80)))
        other = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        k = rng.randint(0, 20)
        if not text:
            with pytest.raises(ValueError, match="text is empty"):
                BPETokenizer.from_text(text, k)
            continue
        whole = BPETokenizer.from_text(text, k)
        assert whole.merges == book_bpe.from_text(text, k), (text, k)
        words = BPETokenizer.from_corpus(text, k)
        assert words.merges == book_bpe.from_corpus(text, k), (text, k)
        for tok in (whole, words):
            fast = _outcome(lambda t, s: t.encode(s).tolist(), tok, other)
            assert fast == _outcome(book_bpe.encode, tok.chars, tok.merges, other), (tok.merges, other)


def test_overlapping_pairs_merge_left_to_right():
    tok = BPETokenizer.from_text("aaab", 1)
    assert tok.merges == [("a", "a")]
    assert [tok.vocab[i] for i in tok.encode("aaaaab")] == ["aa", "aa", "a", "b"]


def test_ties_go_to_the_first_occurrence():
    assert BPETokenizer.from_text("cdab ab cd", 1).merges == [("c", "d")]
    assert BPETokenizer.from_corpus("xy ab ab xy", 1).merges == [("x", "y")]


# --- character tokenizer ----------------------------------------------------------------------------


def test_char_round_trip_and_alphabet():
    text = "I love AI ! I love AI !"
    tok = CharTokenizer.from_text(text)
    assert tok.chars == [" ", "!", "A", "I", "e", "l", "o", "v"]
    ids = tok.encode(text)
    assert ids.dtype == torch.int64 and ids.shape == (23,)
    assert tok.decode(ids) == text
    assert tok.decode(ids.tolist()) == text


def test_char_save_load_is_51_bytes(tmp_path):
    path = tmp_path / "tokenizer.json"
    CharTokenizer.from_text("I love AI !").save(str(path))
    assert path.read_bytes() == b'{"chars": [" ", "!", "A", "I", "e", "l", "o", "v"]}'
    assert path.stat().st_size == 51
    assert CharTokenizer.load(str(path)).encode("love AI").tolist() == [5, 6, 7, 4, 0, 2, 3]


def test_char_out_of_vocabulary_raises_keyerror():
    with pytest.raises(KeyError) as info:
        CharTokenizer.from_text("ab").encode("abc")
    assert str(info.value) == "'c'"


# --- BPE tokenizer ------------------------------------------------------------------------------------


def test_bpe_round_trip_and_vocab():
    text = "the cat sat on the mat the cat ran"
    tok = BPETokenizer.from_text(text, 10)
    assert tok.vocab == tok.chars + [a + b for a, b in tok.merges]
    assert tok.vocab_size == len(tok.chars) + 10
    assert tok.decode(tok.encode(text)) == text
    assert tok.decode(tok.encode_corpus(text)) == text


def test_bpe_duplicate_strings_later_id_wins():
    tok = BPETokenizer(["a", "b", "c"], [("a", "b"), ("b", "c"), ("ab", "c"), ("a", "bc")])
    assert tok.vocab == ["a", "b", "c", "ab", "bc", "abc", "abc"]
    assert tok.stoi["abc"] == 6
    assert tok.encode("abc").tolist() == [6] and tok.encode_corpus("abc").tolist() == [6]


def test_bpe_save_load(tmp_path):
    path = tmp_path / "bpe.json"
    tok = BPETokenizer.from_corpus("I love AI ! I love AI !", 3)
    tok.save(str(path))
    assert json.loads(path.read_text()) == {"chars": tok.chars, "merges": [list(m) for m in tok.merges]}
    assert not path.read_text().endswith("\n")
    loaded = BPETokenizer.load(str(path))
    assert loaded.merges == tok.merges and all(isinstance(m, tuple) for m in loaded.merges)


def test_bpe_out_of_vocabulary():
    with pytest.raises(KeyError) as info:
        BPETokenizer.from_text("abab", 1).encode("abz")
    assert str(info.value) == "'z'"
    tok = BPETokenizer.from_corpus("abab", 1)
    with pytest.raises(KeyError) as info:
        tok.encode_corpus("ab z", unk_policy="error")
    assert str(info.value) == "' '"
    assert tok.encode_corpus("ab z").tolist() == [2]  # unknown symbols are skipped by default


def test_word_cache_is_filled_by_encode_corpus():
    tok = BPETokenizer.from_corpus("the cat sat on the mat the cat ran", 10)
    assert tok._word_cache == {}
    tok.encode_corpus("the rat sat")
    assert list(tok._word_cache) == ["the", " rat", " sat"]
    assert tok._encode_word(" sat") is tok._word_cache[" sat"]


@pytest.mark.slow
def test_shakespeare_bpe_512_merges_file_is_7167_bytes(tmp_path):
    source = shakespeare_path()
    if source is None:
        pytest.skip("Tiny Shakespeare not found: set MYGPT_SHAKESPEARE=/path/to/tinyshakespeare.txt")
    with open(source) as f:
        text = f.read()
    tok = BPETokenizer.from_text(text, 512)
    path = tmp_path / "shakespeare.bpe.json"
    tok.save(str(path))
    assert tok.vocab_size == 577
    assert path.stat().st_size == 7167
    assert tok.merges[:3] == [("e", " "), ("t", "h"), ("t", " ")]
