"""Seeds: the book's seeds give torch's own streams; every accepted seed its own stream; the rest refused."""

import numpy as np
import pytest
import torch
from support.cli import TEXT, TINY, fails_cleanly

from mygpt import load_checkpoint, set_seed
from mygpt.cli import main
from mygpt.utils import MAX_SEED, _load_mt19937_key


def _draws() -> torch.Tensor:
    return torch.cat([torch.rand(4), torch.randn(3), torch.randint(0, 1000, (3,)).float()])


@pytest.mark.parametrize("seed", [0, 42, 123, 2**31, 2**32 - 1])
def test_seeds_below_2_32_are_torch_manual_seed(seed):
    torch.manual_seed(seed)
    expected = _draws()
    set_seed(seed)
    assert torch.equal(_draws(), expected)


@pytest.mark.parametrize("seed", [0, 5, 42, 2**32 - 1])
def test_seeds_2_32_apart_give_different_streams(seed):
    streams = []
    for s in (seed, seed + 2**32, seed + 2**33, seed + 2**63):
        set_seed(s)
        assert torch.initial_seed() == s
        streams.append(_draws())
    assert len({tuple(x.tolist()) for x in streams}) == 4
    set_seed(seed + 2**32)
    assert torch.equal(_draws(), streams[1])  # and each is reproducible


def test_the_generator_state_is_written_where_torch_keeps_it():
    """A key loaded by hand after seeding with 0 gives exactly what seeding with 7 gives."""
    torch.manual_seed(0)
    _load_mt19937_key(np.random.RandomState(7).get_state()[1])
    loaded = _draws()
    torch.manual_seed(7)
    assert torch.equal(loaded, _draws())


@pytest.mark.parametrize("seed", [-1, MAX_SEED + 1, 10**23, 1.5, "3"])
def test_seeds_outside_the_range_are_a_value_error(seed):
    with pytest.raises(ValueError, match="seed must be a whole number from 0 to 2\\*\\*64 - 1"):
        set_seed(seed)


@pytest.fixture
def textfile(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "text.txt").write_text(TEXT, encoding="utf-8")
    return tmp_path


@pytest.mark.parametrize("argv, fragments", [
    (["generate", "--checkpoint", "none.ckpt", "--prompt", "To", "--seed", "99999999999999999999999"],
     ["--seed must be a whole number from 0 to 2**64 - 1 = 18446744073709551615", "99999999999999999999999"]),
    (["generate", "--checkpoint", "none.ckpt", "--prompt", "To", "--seed", "-1"], ["--seed", "(got -1)"]),
    (["generate", "--checkpoint", "none.ckpt", "--prompt", "To", "--seed", str(MAX_SEED), "--num-samples", "3"],
     ["from 0 to 18446744073709551613", "also seeds with seed + 2"]),
    (["train", "text.txt", *TINY, "--seed", str(MAX_SEED - 41)], ["from 0 to 18446744073709551573", "seed + 42"]),
    (["train", "text.txt", *TINY, "--seed", "-5"], ["--seed", "(got -5)"]),
])
def test_the_cli_refuses_seeds_outside_the_range_in_one_line(textfile, capsys, argv, fragments):
    fails_cleanly(argv, capsys, *fragments)
    assert not (textfile / "model.ckpt").exists()


def test_train_seeds_2_32_apart_give_different_models(textfile, capsys):
    weights = []
    for seed in (3, 3 + 2**32, MAX_SEED - 42):
        main(["train", "text.txt", *TINY, "--seed", str(seed), "--output", f"s{seed}.ckpt"])
        model, _ = load_checkpoint(str(textfile / f"s{seed}.ckpt"))
        weights.append(model.token_embedding.embedding.weight)
    assert not torch.equal(weights[0], weights[1]) and not torch.equal(weights[1], weights[2])
