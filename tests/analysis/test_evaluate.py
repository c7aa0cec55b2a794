"""Held-out evaluation: every token predicted once, with the model's own loss on the same windows."""

import math

import pytest
import torch

from mygpt import GPT, BPETokenizer, CharTokenizer, set_seed
from mygpt.analysis.evaluate import Evaluation, count_units, evaluate, text_unit, windows

IDS = torch.randint(0, 10, (203,), generator=torch.Generator().manual_seed(0))


def _model() -> GPT:
    set_seed(0)
    return GPT(10, 16, 4, num_layers=2, max_seq_len=16)


def test_windows_are_consecutive_and_cover_every_target_once():
    spans = windows(IDS, 16)
    assert spans[0] == (0, 16) and spans[-1] == (192, 10)  # 202 targets: 12 full windows and 10 left
    assert [s for s, _ in spans] == list(range(0, 202, 16))
    assert sum(n for _, n in spans) == len(IDS) - 1


@pytest.mark.parametrize("seq_len, batch_size", [(16, 32), (16, 5), (7, 1)])
def test_loss_equals_the_models_loss_on_the_same_windows(seq_len, batch_size):
    model = _model().train()
    result = evaluate(model, IDS, seq_len, batch_size)
    model.eval()
    with torch.no_grad():
        nats = sum(model(IDS[s:s + n].unsqueeze(0), IDS[s + 1:s + 1 + n].unsqueeze(0))[1].double().item() * n
                   for s, n in windows(IDS, seq_len))
    assert result.tokens == len(IDS) - 1 and result.windows == len(windows(IDS, seq_len))
    assert result.loss == pytest.approx(nats / result.tokens, rel=1e-6)
    assert result.perplexity == pytest.approx(math.exp(result.loss))


def test_evaluate_restores_training_mode_and_builds_no_graph():
    model = _model().train()
    evaluate(model, IDS, 16)
    assert model.training and all(p.grad is None for p in model.parameters())


def test_bits_per_character_and_per_byte():
    result = Evaluation(loss=math.log(4), tokens=100, windows=2, seq_len=64)
    assert result.bits_per_unit(100) == pytest.approx(2.0)  # one character per token: loss / ln 2
    assert result.bits_per_unit(400) == pytest.approx(0.5)  # four characters per token (BPE)
    assert count_units("héllo", "char") == 5 and count_units("héllo", "byte") == 6


def test_the_unit_follows_the_tokenizers_byte_level_property():
    assert text_unit(CharTokenizer(["a"])) == text_unit(BPETokenizer(["a"], [])) == "char"

    class ByteLevel:
        byte_level = True

    assert text_unit(ByteLevel()) == "byte"


@pytest.mark.parametrize("kwargs, message", [({"seq_len": 17}, "seq_len must be in 1..16"),
                                             ({"seq_len": 8, "batch_size": 0}, "batch_size"),
                                             ({"seq_len": 8, "ids": IDS[:1]}, "at least 2")])
def test_misuse_is_refused(kwargs, message):
    ids = kwargs.pop("ids", IDS)
    with pytest.raises(ValueError, match=message):
        evaluate(_model(), ids, **kwargs)
