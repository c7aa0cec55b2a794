"""import-hf reads a Hugging Face folder through a validating loader: every malformed file is one line
naming it, and weights that do not match config.json are refused, never silently dropped."""

import json
from pathlib import Path

import pytest
import torch
from support.cli import TEXT, TINY, fails_cleanly

from mygpt.checkpoint import load_checkpoint, saved_tokenizer_kind
from mygpt.cli import main
from mygpt.errors import UnknownSymbolError

safetensors_torch = pytest.importorskip("safetensors.torch")
pytest.importorskip("tokenizers")


@pytest.fixture
def exported(tmp_path, monkeypatch, capsys) -> Path:
    """A char model exported by mygpt: ``hf/`` (1 layer, embed_dim 8)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "text.txt").write_text(TEXT)
    main(["train", "text.txt", *TINY, "--output", "m.ckpt"])
    main(["export-hf", "m.ckpt", "hf"])
    capsys.readouterr()
    return tmp_path / "hf"


def _edit_weights(folder: Path, edit) -> None:
    weights = safetensors_torch.load_file(folder / "model.safetensors")
    edit(weights)
    safetensors_torch.save_file(weights, folder / "model.safetensors")


def _edit_config(folder: Path, **changes) -> None:
    config = json.loads((folder / "config.json").read_text())
    config.update(changes)
    (folder / "config.json").write_text(json.dumps(config))


def _import_fails(capsys, *fragments) -> str:
    err = fails_cleanly(["import-hf", "hf", "--output", "imported.ckpt"], capsys, *fragments)
    assert not Path("imported.ckpt").exists()
    return err


@pytest.mark.parametrize("text, fragment", [
    ('{"n_embd": 8', "hf/config.json"), ("[1, 2]", "not a JSON object"), ("\xff\xfe", "hf/config.json")])
def test_malformed_config_json(exported, capsys, text, fragment):
    (exported / "config.json").write_text(text, encoding="latin-1")
    _import_fails(capsys, fragment)


@pytest.mark.parametrize("changes, fragment", [
    ({"n_embd": "x"}, "n_embd as a whole number"), ({"vocab_size": None}, "vocab_size as a whole number"),
    ({"n_head": 3}, "n_embd 8 is not divisible by n_head 3"), ({"n_layer": True}, "n_layer as a whole number")])
def test_config_json_of_the_wrong_types_or_values(exported, capsys, changes, fragment):
    _edit_config(exported, **changes)
    _import_fails(capsys, fragment)


def test_weights_of_more_layers_than_the_config_are_refused(exported, capsys):
    def add_layer(weights):
        weights.update({k.replace("h.0.", "h.1."): v.clone() for k, v in list(weights.items()) if ".h.0." in k})

    _edit_weights(exported, add_layer)
    _import_fails(capsys, "holds tensors its hf/config.json does not describe", "h.1.")


def test_wider_weights_than_the_config_are_refused(exported, capsys):
    def widen(weights):
        w = weights["transformer.h.0.attn.c_attn.weight"]
        weights["transformer.h.0.attn.c_attn.weight"] = torch.cat([w, w[:, :8]], dim=1)

    _edit_weights(exported, widen)
    _import_fails(capsys, "h.0.attn.c_attn.weight has shape [8, 32]", "calls for [8, 24]")


@pytest.mark.parametrize("edit, fragment", [
    (lambda w: w.update({"transformer.h.0.extra.weight": torch.zeros(3)}), "h.0.extra.weight"),
    (lambda w: w.pop("transformer.ln_f.bias"), "lacks ln_f.bias"),
    (lambda w: w["transformer.wte.weight"].fill_(float("nan")), "wte.weight holds NaN"),
    (lambda w: w.update({"lm_head.weight": torch.ones_like(w["transformer.wte.weight"])}), "lm_head.weight differs"),
])
def test_unknown_missing_or_broken_tensors_are_refused(exported, capsys, edit, fragment):
    _edit_weights(exported, edit)
    _import_fails(capsys, fragment)


@pytest.mark.parametrize("name, cut", [("model.safetensors", 300), ("model.safetensors", 4),
                                        ("tokenizer.json", 50)])
def test_truncated_files(exported, capsys, name, cut):
    path = exported / name
    path.write_bytes(path.read_bytes()[:cut])
    _import_fails(capsys, f"hf/{name}")


def test_a_pytorch_model_bin_of_another_kind(exported, capsys):
    (exported / "model.safetensors").unlink()
    torch.save({"not": "weights"}, exported / "pytorch_model.bin")
    _import_fails(capsys, "pytorch_model.bin")


@pytest.mark.parametrize("kind, options", [("char", []), ("bpe", ["--tokenizer", "bpe", "--num-merges", "12"])])
def test_a_book_tokenizer_exported_and_imported_keeps_its_kind(tmp_path, monkeypatch, capsys, kind, options):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "text.txt").write_text(TEXT)
    main(["train", "text.txt", *TINY, *options, "--output", "m.ckpt"])
    main(["export-hf", "m.ckpt", "hf"])
    main(["import-hf", "hf", "--output", "back.ckpt"])
    capsys.readouterr()
    (_, tokenizer), (_, original) = load_checkpoint("back.ckpt"), load_checkpoint("m.ckpt")
    assert saved_tokenizer_kind(torch.load("back.ckpt", weights_only=True)) == kind
    assert type(tokenizer) is type(original) and tokenizer.vocab_size == original.vocab_size
    assert torch.equal(tokenizer.encode("To be, or not"), original.encode("To be, or not"))
    if kind == "char":
        with pytest.raises(UnknownSymbolError):
            tokenizer.encode("To#")
    fails_cleanly(["generate", "--checkpoint", "back.ckpt", "--prompt", "To#", "--device", "cpu"], capsys,
                  "does not know: '#'")
