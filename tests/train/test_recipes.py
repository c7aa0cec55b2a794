"""``--recipe``: a named set of flags that fills what the command line leaves out."""

import pytest
from support.cli import TEXT

from mygpt.checkpoint import read_checkpoint
from mygpt.cli import main
from mygpt.config import GPTConfig, TrainConfig
from mygpt.train.recipes import RECIPES, Recipe


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_every_recipe_makes_valid_configs(name):
    model, training = RECIPES[name].configs(vocab_size=65)
    assert isinstance(model, GPTConfig) and isinstance(training, TrainConfig)
    training.check_model(model)
    assert training.optimizer == "muon" and training.fast


def test_a_recipe_names_only_config_fields():
    with pytest.raises(ValueError, match="unknown to TrainConfig"):
        Recipe("typo", train={"stepz": 3})


def test_cli_recipe_fills_what_is_not_given(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "text.txt").write_text(TEXT * 3, encoding="utf-8")
    main(["train", "text.txt", "--recipe", "fast-cpu", "--steps", "3", "--print-every", "1", "--lr", "0.002",
          "--device", "cpu", "--output", "r.ckpt"])
    out = capsys.readouterr().out
    recipe = RECIPES["fast-cpu"]
    saved = read_checkpoint("r.ckpt")
    settings = saved["training_state"]["train_config"]
    assert settings["steps"] == 3 and settings["lr"] == 0.002  # given on the command line: they win
    for name in ("optimizer", "muon_lr", "batch_size", "schedule", "max_grad_norm", "fast", "precision"):
        assert settings[name] == recipe.train[name], name
    for name, value in recipe.model.items():
        assert saved["config"].get(name, value) == value, name
    assert "options:      optimizer=muon" in out
