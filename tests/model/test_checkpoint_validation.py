"""Checkpoints are read through one validating loader: damaged tokenizers or configs, NaN weights, a
training state from a newer mygpt or another number of processes are each refused in one line."""

from pathlib import Path

import pytest
import torch
from support.cli import TEXT, TINY, fails_cleanly

from mygpt.checkpoint import load_checkpoint, read_checkpoint
from mygpt.cli import main
from mygpt.config import TrainConfig
from mygpt.errors import CheckpointError, ConfigError
from mygpt.train.resume import check_resume, fingerprint


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("ckpt")
    (directory / "text.txt").write_text(TEXT)
    main(["train", str(directory / "text.txt"), *TINY, "--steps", "2", "--output", str(directory / "m.ckpt")])
    return directory


def _variant(trained: Path, tmp_path: Path, edit) -> str:
    ckpt = torch.load(trained / "m.ckpt", weights_only=True)
    edit(ckpt)
    path = tmp_path / "v.ckpt"
    torch.save(ckpt, path)
    return str(path)


def _nan(ckpt):
    next(iter(ckpt["model_state_dict"].values())).fill_(float("nan"))


@pytest.mark.parametrize("edit, fragment", [
    (_nan, "holds NaN or infinite weights (token_embedding.embedding.weight)"),
    (lambda c: c.update(tokenizer_chars=["a", "a"]), "lists a character twice"),
    (lambda c: c.update(tokenizer_chars="abc"), "non-empty list of characters"),
    (lambda c: c["config"].update(embed_dim="8"), "embed_dim must be a whole number"),
    (lambda c: c.update(config=[1, 2]), "config is not a mapping"),
    (lambda c: c.update(model_state_dict=[]), "model_state_dict is not a mapping"),
])
def test_a_damaged_checkpoint_is_one_line_for_every_reader(trained, tmp_path, capsys, edit, fragment):
    path = _variant(trained, tmp_path, edit)
    with pytest.raises(CheckpointError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        load_checkpoint(path)
    fails_cleanly(["generate", "--checkpoint", path, "--prompt", "To", "--device", "cpu"], capsys, fragment)
    fails_cleanly(["eval", str(trained / "text.txt"), "--checkpoint", path, "--device", "cpu"], capsys, fragment)


def test_info_still_describes_nan_weights(trained, tmp_path, capsys):
    path = _variant(trained, tmp_path, _nan)
    main(["info", path])
    assert "weights:      NaN or infinite values in 1 tensor(s)" in capsys.readouterr().out


def test_a_run_from_a_newer_mygpt_is_named_not_resumed(trained, tmp_path, capsys):
    path = _variant(trained, tmp_path, lambda c: c["training_state"]["train_config"].update(future_option=1))
    fails_cleanly(["train", str(trained / "text.txt"), *TINY, "--steps", "4", "--output", path, "--resume", path],
                  capsys, "saved by a newer mygpt", "future_option")
    main(["info", path])  # described all the same
    assert "future_option=1" in capsys.readouterr().out


@pytest.mark.parametrize("edit, fragment", [
    (lambda c: c["training_state"].update(step="2"), "step"),
    (lambda c: c["training_state"].pop("rng_state"), "rng_state"),
    (lambda c: c["training_state"]["train_config"].update(lr="fast"), "settings saved with its run are invalid"),
])
def test_a_damaged_training_state_is_one_line(trained, tmp_path, capsys, edit, fragment):
    path = _variant(trained, tmp_path, edit)
    fails_cleanly(["train", str(trained / "text.txt"), *TINY, "--steps", "4", "--output", path, "--resume", path],
                  capsys, fragment)


def test_resume_on_another_number_of_processes_is_refused(trained):
    ckpt = read_checkpoint(str(trained / "m.ckpt"))
    assert ckpt["training_state"]["world_size"] == 1
    model, tokenizer = load_checkpoint(str(trained / "m.ckpt"))
    data = tokenizer.encode(TEXT)
    config = TrainConfig(**{**ckpt["training_state"]["train_config"], "steps": 4})
    ids = (fingerprint(data), None)
    check_resume(ckpt, model.config, tokenizer, config, ids, "m.ckpt", world_size=1)
    with pytest.raises(ConfigError, match="trained on 1 process but this one runs on 2"):
        check_resume(ckpt, model.config, tokenizer, config, ids, "m.ckpt", world_size=2)
    older = {**ckpt, "training_state": {k: v for k, v in ckpt["training_state"].items() if k != "world_size"}}
    older["training_state"]["batch_rng"] = torch.get_rng_state()  # an older file of a multi-process run
    with pytest.raises(ConfigError, match="trained on several processes but this one runs on 1"):
        check_resume(older, model.config, tokenizer, config, ids, "m.ckpt", world_size=1)
