"""``mygpt train --init``: fine-tuning from a checkpoint's weights, architecture and tokenizer; and the
GPT-2 architecture options that such checkpoints may carry."""

import pytest
import torch
from support.cli import TEXT, TINY, fails_cleanly

from mygpt import GPT
from mygpt.checkpoint import load_checkpoint
from mygpt.cli import main
from mygpt.config import GPTConfig
from mygpt.errors import ConfigError

FINETUNE = ["--steps", "2", "--print-every", "1", "--batch-size", "2", "--seq-len", "8", "--device", "cpu"]


@pytest.fixture
def trained(tmp_path, capsys):
    (tmp_path / "t.txt").write_text(TEXT)
    main(["train", str(tmp_path / "t.txt"), *TINY, "--max-seq-len", "16", "--norm", "rms", "--output",
          str(tmp_path / "base.ckpt")])
    capsys.readouterr()
    return tmp_path


@pytest.mark.parametrize("extra", [[], ["--fast", "--precision", "bf16", "--schedule", "cosine", "--warmup", "1",
                                        "--val-split", "0.2", "--val-every", "1", "--lr", "3e-4"]])
def test_init_starts_from_the_checkpoint(trained, capsys, extra):
    base, tokenizer = load_checkpoint(str(trained / "base.ckpt"))
    main(["train", str(trained / "t.txt"), "--init", str(trained / "base.ckpt"), *FINETUNE, *extra,
          "--output", str(trained / "tuned.ckpt")])
    out = capsys.readouterr().out
    assert "init:         " in out and "norm:         rms" in out and "step     2:" in out
    tuned, tuned_tokenizer = load_checkpoint(str(trained / "tuned.ckpt"))
    assert tuned.config == base.config and tuned_tokenizer.chars == tokenizer.chars
    before, after = base.state_dict(), tuned.state_dict()
    assert list(before) == list(after)
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert changed and all(before[k].shape == after[k].shape for k in before)
    # Two steps at lr 1e-3 from the base weights stay close to them: training started there.
    fresh = GPT.from_config(base.config).state_dict()
    key = "token_embedding.embedding.weight"
    assert (after[key] - before[key]).abs().max() < (after[key] - fresh[key]).abs().max()


def test_init_refuses_a_different_architecture_or_alphabet(trained, capsys):
    base = ["train", str(trained / "t.txt"), "--init", str(trained / "base.ckpt"), *FINETUNE,
            "--output", str(trained / "x.ckpt")]
    fails_cleanly([*base, "--embed-dim", "32"], capsys, "--embed-dim 32 conflicts with --init")
    fails_cleanly([*base, "--tokenizer", "bpe"], capsys, "--tokenizer bpe conflicts")
    # A flag given at its default is still given: the checkpoint's RMSNorm is not silently kept.
    fails_cleanly([*base, "--norm", "layer"], capsys, "--norm layer conflicts with --init", "(--norm rms)")
    fails_cleanly([*base, "--embed-dim", "64"], capsys, "--embed-dim 64 conflicts with --init")
    (trained / "other.txt").write_text(TEXT + "xyz")
    fails_cleanly(["train", str(trained / "other.txt"), "--init", str(trained / "base.ckpt"), *FINETUNE],
                  capsys, "does not know")
    fails_cleanly([*base[:3], str(trained / "nope.ckpt"), *FINETUNE], capsys, "checkpoint not found")
    assert not (trained / "x.ckpt").exists()


def test_init_accepts_flags_that_agree_with_the_checkpoint(trained, capsys):
    main(["train", str(trained / "t.txt"), "--init", str(trained / "base.ckpt"), *FINETUNE, "--norm", "rms",
          "--embed-dim", "8", "--tokenizer", "char", "--output", str(trained / "tuned.ckpt")])
    assert "norm:         rms" in capsys.readouterr().out


def test_gpt2_options_are_opt_in():
    book = GPT(10, 8, 2, 1, max_seq_len=8)
    assert not any("bias" in k for k in book.state_dict() if ".mha." in k)
    gpt2 = GPT(10, 8, 2, 1, max_seq_len=8, attn_bias=True, gelu="tanh", store_masks=False)
    keys = list(gpt2.state_dict())
    assert "blocks.0.mha.W_Q.bias" in keys and "blocks.0.mha.W_O.bias" in keys
    assert not any("mask" in k for k in keys)
    assert gpt2.blocks[0].mlp.act.approximate == "tanh"
    with pytest.raises(ConfigError, match="gelu"):
        GPTConfig(10, gelu="relu")
    with pytest.raises(ConfigError, match="attn_bias"):
        GPTConfig(10, attn_bias=1)


def test_unstored_masks_still_load_book_state_dicts():
    torch.manual_seed(0)
    book = GPT(10, 8, 2, 2, max_seq_len=8, position_type="rope").eval()
    lean = GPT(10, 8, 2, 2, max_seq_len=8, position_type="rope", store_masks=False).eval()
    lean.load_state_dict(book.state_dict())  # carries causal_mask and the RoPE tables
    ids = torch.randint(0, 10, (1, 8))
    assert torch.equal(lean(ids)[0], book(ids)[0])


@pytest.mark.parametrize("fast", [False, True])
def test_attention_biases_in_every_path(fast):
    torch.manual_seed(0)
    model = GPT(10, 8, 2, 2, max_seq_len=8, attn_bias=True, gelu="tanh").eval()
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.endswith("bias"):
                param.normal_()
    reference = model(torch.arange(8).unsqueeze(0))[0]
    model.set_fast(fast)
    cache = model.new_cache()
    pieces = [model(torch.arange(8).unsqueeze(0)[:, i:i + 3], cache=cache)[0] for i in range(0, 8, 3)]
    assert torch.allclose(torch.cat(pieces, dim=1), reference, atol=1e-5)


@pytest.mark.parametrize("attn_bias", [False, True])
def test_sampling_weight_copies_follow_every_update(attn_bias):
    torch.manual_seed(0)
    model = GPT(10, 8, 2, 1, max_seq_len=8, attn_bias=attn_bias).eval().set_fast(True)
    other = GPT(10, 8, 2, 1, max_seq_len=8, attn_bias=attn_bias).state_dict()
    ids = torch.arange(5).unsqueeze(0)

    def agrees() -> bool:
        fast = model(ids)[0]
        exact = model.set_fast(False)(ids)[0]
        model.set_fast(True)
        return torch.allclose(fast, exact, atol=1e-5)

    with torch.no_grad():
        assert agrees()
        model.blocks[0].mha.W_K.weight.mul_(2)  # in place, as an optimiser step
        model.blocks[0].mlp.fc1.weight.add_(0.5)
        model.blocks[0].mha.W_O.weight.mul_(-1)
        assert agrees()
        model.load_state_dict(other)
        assert agrees()
    optimizer = torch.optim.AdamW(model.parameters(), lr=0.1)
    model(ids, ids)[1].backward()  # with autograd on, gradients reach the parameters themselves
    assert all(p.grad is not None for p in model.parameters())
    optimizer.step()
    with torch.no_grad():
        assert agrees()


def _page_command(page: str, marker: str) -> list[str]:
    """The arguments of the first ``mygpt`` line of ``page`` (in the repository) that contains ``marker``."""
    import re
    import shlex
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / page).read_text(encoding="utf-8").replace("\\\n", " ")
    line = next(line for line in text.splitlines() if line.startswith("mygpt ") and marker in line)
    return shlex.split(re.sub(r"\s+#.*$", "", line))[1:]


def test_the_readme_fine_tuning_example_runs_on_a_short_context(tmp_path, monkeypatch, capsys):
    """README's `mygpt train my_text.txt --init gpt2.ckpt ...` on a checkpoint whose context window (32) is
    shorter than the book's --seq-len 64: under --init --seq-len defaults to what fits (the checkpoint's)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my_text.txt").write_text(TEXT)
    main(["train", "my_text.txt", *TINY, "--max-seq-len", "32", "--seq-len", "16", "--output", "gpt2.ckpt"])
    argv = _page_command("README.md", "--init gpt2.ckpt")
    main([*argv, "--steps", "2", "--print-every", "1", "--batch-size", "2"])  # the README's 300 steps, cut to 2
    assert "saved checkpoint to tuned.ckpt" in capsys.readouterr().out
    state = torch.load("tuned.ckpt", weights_only=True)["training_state"]
    assert state["train_config"]["seq_len"] == 16  # the checkpoint's own training windows


def test_fine_tuning_seq_len_defaults_and_refusals_name_a_value_that_works(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "my_text.txt").write_text(TEXT)
    base = GPT.from_config(GPTConfig(vocab_size=17, embed_dim=8, num_heads=2, num_layers=1, max_seq_len=12))
    from mygpt import CharTokenizer, save_checkpoint

    save_checkpoint(base, CharTokenizer.from_text(TEXT), "gpt2.ckpt")  # no training state: an import's kind
    argv = _page_command("docs/gpt2.md", "--init gpt2.ckpt")  # --seq-len 256, beyond this model's 12
    fails_cleanly(argv, capsys, "--seq-len 256 exceeds the context window of --init gpt2.ckpt",
                  "use --seq-len 12 or less, or leave it out")
    fails_cleanly([*argv, "--seq-len", "8", "--max-seq-len", "256"], capsys,
                  "leave --max-seq-len out (or give --max-seq-len 12)")
    short = ["train", "my_text.txt", "--init", "gpt2.ckpt", "--steps", "1", "--batch-size", "2", "--device", "cpu",
             "--output", "t.ckpt"]
    main(short)
    capsys.readouterr()
    assert torch.load("t.ckpt", weights_only=True)["training_state"]["train_config"]["seq_len"] == 12
