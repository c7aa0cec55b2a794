"""The fast path is the exact path's function on the *current* weights: after fused and unfused
optimizer steps, ``load_state_dict``, in-place edits (even through ``.data``), and after training."""

import copy
import sys

import pytest
import torch
from support.cli import TEXT, TINY

from mygpt import GPT, CharTokenizer, set_seed
from mygpt.cli import main
from mygpt.config import TrainConfig
from mygpt.fast.weight_copies import kept_copies
from mygpt.generate import stream
from mygpt.train import loop, train
from mygpt.train.optim import make_optimizer


def _model(bias: bool = False, **options) -> GPT:
    set_seed(0)
    return GPT(12, 16, 2, 2, max_seq_len=8, attn_bias=bias, **options)


def _fast_equals_exact(model: GPT, ids: torch.Tensor) -> bool:
    """The fast path (inside and outside ``kept_copies``) against the exact path, without gradients."""
    with torch.no_grad():
        model.set_fast(True)
        outside = model(ids)[0]
        with kept_copies(model):
            inside = model(ids)[0]
        model.set_fast(False)
        exact = model(ids)[0]
        model.set_fast(True)
    return torch.allclose(outside, exact, atol=1e-5) and torch.allclose(inside, exact, atol=1e-5)


@pytest.mark.parametrize("options", [{}, {"untied_head": True, "logit_softcap": 5.0}], ids=["tied", "untied"])
@pytest.mark.parametrize("fused", [True, False])
def test_copies_never_outlive_an_optimizer_step(fused, options):
    model = _model(bias=True, **options).eval()
    ids = torch.arange(8).unsqueeze(0) % 12
    optimizer = make_optimizer(model, 0.05, fast=fused)
    with kept_copies(model), torch.no_grad():
        model.set_fast(True)(ids)  # copies made here must not survive the block
    for _ in range(3):
        optimizer.zero_grad()
        model(ids, ids)[1].backward()
        optimizer.step()
        assert _fast_equals_exact(model, ids)


def test_copies_follow_load_state_dict_and_edits_through_data():
    model, ids = _model().eval(), torch.arange(8).unsqueeze(0) % 12
    assert _fast_equals_exact(model, ids)
    model.blocks[0].mha.W_Q.weight.data.mul_(3)  # bumps no version counter
    model.blocks[1].mlp.fc2.weight.data.add_(0.25)
    assert _fast_equals_exact(model, ids)
    model.load_state_dict(_model(bias=False).state_dict())
    assert _fast_equals_exact(model, ids)


def test_train_fast_then_generate_samples_from_the_trained_weights(tmp_path):
    tokenizer = CharTokenizer.from_text(TEXT)
    data = tokenizer.encode(TEXT)
    model = GPT(tokenizer.vocab_size, 16, 2, 1, max_seq_len=8)
    before = copy.deepcopy(model.state_dict())
    config = TrainConfig(steps=20, batch_size=4, seq_len=8, lr=0.05, print_every=20, fast=True, compile=False)
    train(model, tokenizer, data, None, config, str(tmp_path / "m.ckpt"))
    assert any(not torch.equal(before[k], v) for k, v in model.state_dict().items())
    prompt = tokenizer.encode("To be").unsqueeze(0)
    set_seed(1)
    fast = [step.logits for step in stream(model, prompt, 4, temperature=0, use_cache=True)]
    exact_model = copy.deepcopy(model).set_fast(False)
    set_seed(1)
    exact = [step.logits for step in stream(exact_model, prompt, 4, temperature=0)]
    assert all(torch.allclose(f, e, atol=1e-4) for f, e in zip(fast, exact))


def test_fast_validation_equals_the_exact_paths_on_the_same_weights(tmp_path, monkeypatch, capsys):
    """Every validation of a ``--fast`` run is recomputed on the exact path, same weights, same batches."""
    checked = []
    original = loop.estimate_val_loss

    def both(model, val_data, batch_size, seq_len):
        state = torch.get_rng_state()
        exact = copy.deepcopy(model).set_fast(False)
        expected = original(exact, val_data, batch_size, seq_len)
        torch.set_rng_state(state)
        got = original(model, val_data, batch_size, seq_len)
        checked.append((got, expected))
        return got

    monkeypatch.setattr(loop, "estimate_val_loss", both)
    (tmp_path / "t.txt").write_text(TEXT)
    argv = ["train", str(tmp_path / "t.txt"), *TINY, "--steps", "30", "--lr", "0.05", "--val-split", "0.2",
            "--val-every", "10", "--fast", "--output", str(tmp_path / "m.ckpt")]
    monkeypatch.setenv("MYGPT_COMPILE", "0")
    monkeypatch.setattr(sys, "argv", ["mygpt", *argv])
    main(argv)
    capsys.readouterr()
    assert len(checked) == 3 and len({round(got, 4) for got, _ in checked}) > 1
    for got, expected in checked:
        assert abs(got - expected) < 1e-4, checked
