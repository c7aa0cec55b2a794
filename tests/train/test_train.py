"""The training loop as a library function: its config, its set-up, its printed lines, validation."""

import pytest
import torch

from mygpt import GPT, CharTokenizer, estimate_val_loss, get_batch, set_seed
from mygpt.config import TrainConfig
from mygpt.errors import ConfigError
from mygpt.train import setup_training, train

TEXT = "I love AI ! " * 40


def _tiny(vocab_size: int) -> GPT:
    set_seed(0)
    return GPT(vocab_size, 8, 2, 1, max_seq_len=16)


def test_train_prints_the_books_lines(tmp_path, capsys):
    tok = CharTokenizer.from_text(TEXT)
    data = tok.encode(TEXT)
    config = TrainConfig(steps=6, batch_size=2, seq_len=8, print_every=4, val_every=3, schedule="cosine",
                         warmup=2, checkpoint_every=5)
    train(_tiny(tok.vocab_size), tok, data[:400], data[400:], config, str(tmp_path / "m.ckpt"))
    lines = capsys.readouterr().out.splitlines()
    assert [line[:10] for line in lines] == ["step     1", "step     3", "step     4", "  [checkpo",
                                             "step     6"]
    assert "  val = " in lines[1] and "  val = " not in lines[2] and lines[1].endswith("  lr = 8.54e-04")
    assert lines[2].endswith("  lr = 5.00e-04")
    assert lines[-1].endswith("  lr = 0.00e+00") and lines[3] == "  [checkpoint saved at step 5]"


def test_train_checks_its_config_before_training(tmp_path):
    tok = CharTokenizer.from_text(TEXT)
    with pytest.raises(ConfigError, match="print_every must be at least 1"):
        TrainConfig(print_every=0)
    with pytest.raises(ConfigError, match="seq_len 32 exceeds max_seq_len 16"):
        train(_tiny(tok.vocab_size), tok, tok.encode(TEXT), None, TrainConfig(seq_len=32), str(tmp_path / "m"))
    with pytest.raises(ConfigError, match="training text has 5 tokens"):
        train(_tiny(tok.vocab_size), tok, tok.encode(TEXT)[:5], None, TrainConfig(seq_len=8), str(tmp_path / "m"))
    assert not (tmp_path / "m").exists()


def test_setup_training_exact_and_fast():
    model = _tiny(5)
    exact = setup_training(model, TrainConfig())
    assert exact.forward is model and not exact.optimizer.defaults["fused"]
    assert not model.blocks[0].mha.fast
    fast = setup_training(model, TrainConfig(fast=True, lr=3e-3))
    assert fast.optimizer.defaults["fused"] and fast.optimizer.defaults["lr"] == 3e-3
    assert model.blocks[0].mha.fast and model.ln_f.fast
    x, y = get_batch(torch.randint(0, 5, (100,)), 2, 8)
    assert fast.step(x, y).shape == ()


def test_validation_loss_builds_no_graph_and_matches_the_graph_values():
    model = _tiny(5).train()
    data = torch.randint(0, 5, (200,), generator=torch.Generator().manual_seed(0))
    set_seed(1)
    value = estimate_val_loss(model, data, 4, 8, n_eval_batches=3)
    assert model.training
    set_seed(1)
    model.eval()
    losses = [model(*get_batch(data, 4, 8))[1] for _ in range(3)]
    assert all(loss.requires_grad for loss in losses)
    assert value == sum(loss.item() for loss in losses) / 3
    calls = []
    model.register_forward_hook(lambda module, args, out: calls.append(out[1].requires_grad))
    estimate_val_loss(model, data, 4, 8, n_eval_batches=2)
    assert calls == [False, False]
