"""GPTConfig and TrainConfig check themselves; the same check reads by field name or by CLI flag."""

import dataclasses

import pytest

from mygpt.cli.common import flag
from mygpt.config import GPTConfig, TrainConfig, field_help
from mygpt.errors import ConfigError


def test_defaults_are_the_books():
    assert GPTConfig(65) == GPTConfig(65, 64, 4, 4, 64, 0.0, "layer", "learned", 4)
    config = TrainConfig()
    assert (config.steps, config.batch_size, config.seq_len, config.lr, config.print_every, config.seed) == (
        2000, 16, 64, 1e-3, 500, 42)


def test_configs_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        GPTConfig(65).embed_dim = 8


@pytest.mark.parametrize("kwargs, field_words, flag_words", [
    ({"steps": 0}, "steps must be at least 1 (got 0)", "--steps must be at least 1 (got 0)"),
    ({"print_every": 0}, "print_every must be at least 1", "--print-every must be at least 1"),
    ({"warmup": -1}, "warmup must be 0 or more", "--warmup must be 0 or more"),
    ({"lr": float("nan")}, "lr must be a positive number", "--lr must be a positive number"),
    ({"max_grad_norm": -1.0}, "max_grad_norm must be 0 or more", "--max-grad-norm must be 0 or more"),
    ({"schedule": "linear"}, "unknown schedule: 'linear'", "unknown --schedule: 'linear'"),
    ({"batch_size": 2.5}, "batch_size must be a whole number (got 2.5)", "--batch-size must be a whole"),
    ({"fast": "no"}, "fast must be True or False (got 'no')", "--fast must be True or False"),
    ({"fast": 1}, "fast must be True or False (got 1)", "--fast must be True or False"),
    ({"compile": "yes"}, "compile must be True or False (or None) (got 'yes')", "--compile must be"),
    ({"lr": True}, "lr must be a positive number (got True)", "--lr must be a positive number"),
    ({"max_grad_norm": "1"}, "max_grad_norm must be 0 or more", "--max-grad-norm must be 0 or more"),
])
def test_train_config_rules(kwargs, field_words, flag_words):
    with pytest.raises(ConfigError) as info:
        TrainConfig(**kwargs)
    assert field_words in str(info.value)
    assert flag_words in info.value.worded(flag)


def test_model_config_words_its_flags():
    with pytest.raises(ConfigError) as info:
        GPTConfig(65, embed_dim=65, num_heads=4)
    assert info.value.worded(flag) == ("--embed-dim 65 is not divisible by --num-heads 4; choose an --embed-dim "
                                       "that is a multiple of 4 (e.g. 64)")
    with pytest.raises(ConfigError) as info:
        GPTConfig(65, position_type="rope", embed_dim=6, num_heads=2)
    assert "--position rope needs an even head dimension" in info.value.worded(flag)


def test_training_windows_must_fit_the_model_and_the_data():
    config = TrainConfig(seq_len=16, val_every=5)
    with pytest.raises(ConfigError, match="seq_len 16 exceeds max_seq_len 8"):
        config.check_model(GPTConfig(65, max_seq_len=8))
    with pytest.raises(ConfigError, match="training text has 10 tokens"):
        config.check_data(10, None)
    with pytest.raises(ConfigError, match="validation data has 3 tokens") as info:
        config.check_data(100, 3)
    assert "raise --val-split" in info.value.worded(flag)
    with pytest.raises(ConfigError, match="val_every 5 needs a validation split"):
        config.check_data(100, None)


def test_field_help_names_settings_the_callers_way():
    assert "{" not in field_help(TrainConfig, "seq_len")
    assert field_help(TrainConfig, "seq_len", flag).endswith("context window --max-seq-len.")
    assert all(f.metadata.get("help") for cls in (GPTConfig, TrainConfig) for f in dataclasses.fields(cls))


@pytest.mark.parametrize("kwargs, words", [
    ({"dropout": "0.1"}, "dropout must be in [0, 1) (got '0.1')"),
    ({"attn_bias": "False"}, "attn_bias must be True or False (got 'False')"),
    ({"store_masks": 0}, "store_masks must be True or False (got 0)"),
])
def test_model_config_refuses_values_of_the_wrong_type(kwargs, words):
    with pytest.raises(ConfigError, match=words.replace("(", r"\(").replace(")", r"\)").replace("[", r"\[")):
        GPTConfig(65, **kwargs)
