"""Library misuse raises ValueError naming the argument and the fix; properties hold for any input."""

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mygpt import GPT, BPETokenizer, CharTokenizer, save_checkpoint, set_seed
from mygpt.checkpoint import load_checkpoint
from mygpt.config import TrainConfig
from mygpt.errors import CheckpointError, ConfigError
from mygpt.train import train

TEXT = "the cat sat on the mat.\nthe dog ran!\n" * 3


def _model() -> GPT:
    set_seed(0)
    return GPT(5, 8, 2, 1, max_seq_len=8)


@pytest.mark.parametrize("ids, targets, fragment", [
    (torch.tensor([0, 1, 2]), None, "ids must be a 2-D tensor of token ids, (batch, time) (got shape (3,))"),
    ([[0, 1]], None, "ids must be a 2-D tensor of token ids, (batch, time) (got list)"),
    (torch.tensor([[0.0, 1.0]]), None, "ids must hold integer token ids (got dtype torch.float32)"),
    (torch.tensor([[0, 5]]), None, ("ids must be token ids in [0, 5) for this model's vocab_size 5 (got values "
                                   "from 0 to 5)")),
    (torch.tensor([[-1, 2]]), None, "(got values from -1 to 2)"),
    (torch.tensor([[0, 1]]), torch.tensor([[1, 2, 3]]), ("targets must have the shape of ids, (1, 2) (got shape "
                                                         "(1, 3))")),
    (torch.tensor([[0, 1]]), torch.tensor([1, 2]), "targets must have the shape of ids"),
    (torch.tensor([[0, 1]]), torch.tensor([[1.0, 2.0]]), "targets must be int64 token ids"),
    (torch.tensor([[0, 1]]), torch.tensor([[1, 9]]), "targets must be token ids in [0, 5)"),
    (torch.tensor([[0, 1]]), torch.tensor([[-100, -3]]), "(got values from -3 to -3)"),
])
def test_forward_inputs_are_checked(ids, targets, fragment):
    with pytest.raises(ValueError) as info:
        _model()(ids, targets)
    assert fragment in str(info.value)


def test_forward_accepts_int32_ids_and_ignored_targets():
    model = _model()
    logits, loss = model(torch.tensor([[0, 1, 2]], dtype=torch.int32), torch.tensor([[1, -100, 3]]))
    assert logits.shape == (1, 3, 5) and torch.isfinite(loss)


def test_model_construction_is_checked():
    with pytest.raises(ValueError, match="vocab_size must be at least 1"):
        GPT(0, 8, 2, 1)
    with pytest.raises(ValueError, match="embed_dim must be a whole number"):
        GPT(5, 8.5, 2, 1)


def test_unknown_characters_are_key_and_value_errors_with_a_hint():
    tok = CharTokenizer.from_text("ab")
    for call in (lambda: tok.encode("abc"), lambda: BPETokenizer.from_text("abab", 1).encode("abc"),
                 lambda: BPETokenizer.from_corpus("abab", 1).encode_corpus("abc", unk_policy="error")):
        with pytest.raises(ValueError) as info:
            call()
        assert isinstance(info.value, KeyError)
        assert (type(info.value).__name__, str(info.value)) == ("KeyError", "'c'")  # the book's report
        assert "encode only characters that occur in its training text" in info.value.__notes__[0]


@pytest.mark.parametrize("tokenizer", [CharTokenizer.from_text("ab"), BPETokenizer.from_text("abab", 1)])
@pytest.mark.parametrize("bad", [-1, 3, 99])
def test_decoding_unknown_ids(tokenizer, bad):
    with pytest.raises(ValueError, match=f"decode: id {bad} is not in the vocabulary .ids 0 to {tokenizer.vocab_size - 1}"):
        tokenizer.decode([0, bad])


@pytest.mark.parametrize("make", [CharTokenizer.from_text, lambda t: BPETokenizer.from_text(t, 3),
                                  lambda t: BPETokenizer.from_corpus(t, 3)])
def test_an_empty_training_text_is_refused(make):
    with pytest.raises(ValueError, match="text is empty; give the training text"):
        make("")


def test_training_on_empty_data_is_refused(tmp_path):
    tok = CharTokenizer.from_text("ab")
    with pytest.raises(ConfigError, match="the training text has 0 tokens"):
        train(GPT(2, 8, 2, 1), tok, torch.tensor([], dtype=torch.long), None, TrainConfig(seq_len=8),
              str(tmp_path / "m.ckpt"))


# Properties, for any input hypothesis finds.

ALPHABET = sorted(set(TEXT))
texts = st.text(alphabet=ALPHABET, max_size=60)
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FAST
@given(texts)
def test_char_round_trip(text):
    tok = CharTokenizer.from_text(TEXT)
    assert tok.decode(tok.encode(text)) == text


@FAST
@given(texts, st.integers(0, 30))
def test_bpe_round_trips(text, num_merges):
    for tok in (BPETokenizer.from_text(TEXT, num_merges), BPETokenizer.from_corpus(TEXT, num_merges)):
        assert tok.decode(tok.encode(text)) == text
        assert tok.decode(tok.encode_corpus(text, unk_policy="error")) == text


@FAST
@given(st.text(min_size=1, max_size=40), st.integers(0, 10))
def test_bpe_learns_from_any_text(text, num_merges):
    tok = BPETokenizer.from_corpus(text, num_merges)
    assert tok.decode(tok.encode_corpus(text)) == text


@pytest.fixture(scope="module")
def checkpoint_bytes(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("ckpt") / "m.ckpt"
    tok = CharTokenizer.from_text(TEXT)
    save_checkpoint(GPT(tok.vocab_size, 8, 2, 1, max_seq_len=8), tok, str(path))
    return path.read_bytes()


@FAST
@given(st.binary(max_size=2000))
def test_loading_random_bytes_fails_in_one_known_way(tmp_path, data):
    path = tmp_path / "random.ckpt"
    path.write_bytes(data)
    with pytest.raises(CheckpointError):
        load_checkpoint(str(path))


@FAST
@given(st.data())
def test_loading_a_truncated_checkpoint_fails_in_one_known_way(tmp_path, checkpoint_bytes, data):
    cut = data.draw(st.integers(0, len(checkpoint_bytes) - 1))
    path = tmp_path / "cut.ckpt"
    path.write_bytes(checkpoint_bytes[:cut])
    with pytest.raises(CheckpointError):
        load_checkpoint(str(path))
