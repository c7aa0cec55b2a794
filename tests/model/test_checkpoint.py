"""Checkpoints: the book's keys, every older format, training state, atomic saves, safe loading."""

import errno
import os
import pickle

import pytest
import torch

from mygpt import GPT, BPETokenizer, CharTokenizer, generate, load_checkpoint, save_checkpoint, set_seed
from mygpt.checkpoint import read_checkpoint
from mygpt.config import TrainConfig
from mygpt.errors import CheckpointError
from mygpt.train import train

TEXT = "I love AI ! " * 20


def tiny_model(vocab_size: int, **kwargs) -> GPT:
    torch.manual_seed(0)
    return GPT(vocab_size, 8, 2, num_layers=1, max_seq_len=16, **kwargs)


def test_book_keys_in_the_book_order(tmp_path):
    tokenizer = CharTokenizer.from_text(TEXT)
    save_checkpoint(tiny_model(tokenizer.vocab_size, norm_type="rms", position_type="rope", num_kv_heads=1),
                    tokenizer, str(tmp_path / "a.ckpt"))
    ckpt = torch.load(tmp_path / "a.ckpt", map_location="cpu", weights_only=True)
    assert list(ckpt) == ["model_state_dict", "tokenizer_chars", "tokenizer_kind", "tokenizer_state", "config"]
    assert ckpt["config"] == {"vocab_size": 8, "embed_dim": 8, "num_heads": 2, "num_kv_heads": 1,
                              "num_layers": 1, "max_seq_len": 16, "norm_type": "rms",
                              "position_type": "rope", "tokenizer_kind": "char"}
    assert os.listdir(tmp_path) == ["a.ckpt"]


@pytest.mark.parametrize("drop", [
    [],                                                        # Ch.28 (final)
    ["tokenizer_kind", "tokenizer_state", "config.tokenizer_kind"],  # Ch.26-27
    ["tokenizer_kind", "tokenizer_state", "config.tokenizer_kind", "config.num_kv_heads",
     "config.norm_type", "config.position_type"],              # Ch.18 (oldest)
])
def test_older_book_formats_load_and_generate(tmp_path, drop):
    tokenizer = CharTokenizer.from_text(TEXT)
    model = tiny_model(tokenizer.vocab_size)
    save_checkpoint(model, tokenizer, str(tmp_path / "new.ckpt"))
    ckpt = torch.load(tmp_path / "new.ckpt", weights_only=True)
    for key in drop:
        parent, _, child = key.rpartition(".")
        del (ckpt[parent] if parent else ckpt)[child]
    torch.save(ckpt, tmp_path / "old.ckpt")
    loaded, loaded_tokenizer = load_checkpoint(str(tmp_path / "old.ckpt"))
    assert loaded_tokenizer.chars == tokenizer.chars
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), loaded.state_dict().values()))
    set_seed(0)
    text = loaded_tokenizer.decode(generate(loaded, loaded_tokenizer.encode("I lo").unsqueeze(0), 5, top_k=10)[0])
    assert text.startswith("I lo") and len(text) == 9


def test_bpe_checkpoint_round_trip(tmp_path):
    tokenizer = BPETokenizer.from_corpus(TEXT, 3)
    save_checkpoint(tiny_model(tokenizer.vocab_size), tokenizer, str(tmp_path / "b.ckpt"))
    _, loaded = load_checkpoint(str(tmp_path / "b.ckpt"))
    assert isinstance(loaded, BPETokenizer) and loaded.merges == tokenizer.merges


def test_training_writes_state_for_an_exact_resume(tmp_path):
    tokenizer = CharTokenizer.from_text(TEXT)
    data = tokenizer.encode(TEXT)
    model = tiny_model(tokenizer.vocab_size)
    out = str(tmp_path / "t.ckpt")
    train(model, tokenizer, data, None, TrainConfig(steps=3, batch_size=2, seq_len=8), out)
    ckpt = read_checkpoint(out)
    state = ckpt["training_state"]
    assert state["step"] == 3 and ckpt["torch_version"] == torch.__version__
    assert state["train_config"] == {**vars(TrainConfig(steps=3, batch_size=2, seq_len=8))}
    assert torch.equal(state["rng_state"]["cpu"], torch.get_rng_state())
    fresh = torch.optim.AdamW(tiny_model(tokenizer.vocab_size).parameters(), lr=1e-3)
    fresh.load_state_dict(state["optimizer_state_dict"])
    assert fresh.state_dict()["state"][0]["step"] == 3
    load_checkpoint(out)  # the extra keys do not disturb loading


def test_failed_save_keeps_the_previous_file(tmp_path, monkeypatch):
    tokenizer = CharTokenizer.from_text(TEXT)
    path = tmp_path / "m.ckpt"
    save_checkpoint(tiny_model(tokenizer.vocab_size), tokenizer, str(path))
    previous = path.read_bytes()

    def broken_save(obj, f):
        f.write(b"half")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(CheckpointError, match="No space left on device; the previous file there"):
        save_checkpoint(tiny_model(tokenizer.vocab_size), tokenizer, str(path))
    assert path.read_bytes() == previous and os.listdir(tmp_path) == ["m.ckpt"]


@pytest.mark.parametrize("content", [b"my notes", b"", TEXT.encode()])
def test_save_never_replaces_a_file_that_is_not_a_checkpoint(tmp_path, content):
    tokenizer = CharTokenizer.from_text(TEXT)
    path = tmp_path / "notes.txt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match="notes.txt exists and is not a mygpt checkpoint"):
        save_checkpoint(tiny_model(tokenizer.vocab_size), tokenizer, str(path))
    assert path.read_bytes() == content and os.listdir(tmp_path) == ["notes.txt"]


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_a_crafted_checkpoint_cannot_run_code(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with open("evil.ckpt", "wb") as f:
        pickle.dump({"model_state_dict": _RunsCode(), "config": {}}, f, protocol=2)
    torch.save({"model_state_dict": _RunsCode(), "config": {}}, "evil_zip.ckpt")
    for name in ("evil.ckpt", "evil_zip.ckpt"):
        with pytest.raises(CheckpointError, match="cannot read checkpoint"):
            load_checkpoint(name)
    assert not os.path.exists("pwned")


def test_inconsistent_checkpoint(tmp_path):
    tokenizer = CharTokenizer.from_text(TEXT)
    save_checkpoint(tiny_model(tokenizer.vocab_size), tokenizer, str(tmp_path / "c.ckpt"))
    ckpt = torch.load(tmp_path / "c.ckpt", weights_only=True)
    ckpt["config"]["embed_dim"] = 16
    torch.save(ckpt, tmp_path / "c.ckpt")
    with pytest.raises(CheckpointError, match="inconsistent"):
        load_checkpoint(str(tmp_path / "c.ckpt"))
