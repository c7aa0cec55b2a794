"""``mygpt eval``, ``info``, ``plot`` and ``attention``: their output, their figures and their errors."""

import importlib.util
import json
import math
import sys

import pytest
import torch
from support.cli import TEXT, TINY, fails_cleanly

from mygpt import load_checkpoint
from mygpt.analysis.evaluate import evaluate
from mygpt.cli import main

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
needs_matplotlib = pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None,
                                      reason="matplotlib not installed: pip install -e '.[test]'")


@pytest.fixture
def run(tmp_path, monkeypatch, capsys):
    """A tiny model trained by ``mygpt train`` (with validation) in ``tmp_path``: ``tiny.ckpt``."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "text.txt").write_text(TEXT, encoding="utf-8")
    main(["train", "text.txt", *TINY, "--steps", "4", "--print-every", "2", "--val-split", "0.2",
          "--val-every", "3", "--output", "tiny.ckpt"])
    capsys.readouterr()
    return tmp_path


def _png_size(path) -> tuple[int, int]:
    """Width and height of a PNG, after checking its signature and header chunk."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR" and data.endswith(b"IEND\xaeB`\x82")
    assert 5_000 < len(data) < 1_000_000
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_train_writes_the_metrics_file_and_keeps_stdout(run):
    header, *records = [json.loads(line) for line in (run / "tiny.metrics.jsonl").read_text().splitlines()]
    assert header == {"metrics_of": "tiny.ckpt"}
    assert [r["step"] for r in records] == [1, 2, 3, 4]
    assert [r["val_loss"] is not None for r in records] == [False, False, True, True]


@needs_matplotlib
def test_plot_draws_one_or_several_runs(run, capsys):
    main(["plot", "tiny.ckpt", "--out", "loss.png"])
    assert capsys.readouterr().out == "wrote loss.png (1 run)\n"
    width, height = _png_size(run / "loss.png")
    assert 600 <= width <= 2000 and 300 <= height <= 1200
    (run / "copy.metrics.jsonl").write_text((run / "tiny.metrics.jsonl").read_text())
    main(["plot", "tiny.ckpt", "copy.metrics.jsonl", "--label", "a", "--label", "b", "--out", "both.png"])
    assert capsys.readouterr().out == "wrote both.png (2 runs)\n"
    _png_size(run / "both.png")


@needs_matplotlib
def test_plot_against_time_draws_validation_only_curves(run, capsys):
    """``--x time``: elapsed seconds on the x-axis; records with only a validation loss (the curves of
    ``benchmarks/time_to_loss.py``) draw that alone."""
    (run / "curve.metrics.jsonl").write_text("".join(json.dumps({"step": i, "val_loss": 3.0 - i / 10,
                                                                 "elapsed_s": 10.0 * i}) + "\n" for i in range(5)))
    main(["plot", "tiny.ckpt", "curve.metrics.jsonl", "--x", "time", "--out", "time.png"])
    assert capsys.readouterr().out == "wrote time.png (2 runs)\n"
    _png_size(run / "time.png")


@pytest.mark.parametrize("argv, fragments", [
    (["plot", "missing.ckpt"], ["no metrics file for missing.ckpt", "missing.metrics.jsonl"]),
    (["plot", "tiny.ckpt", "--out", "text.txt"], ["must end in .png", "text.txt"]),
    (["plot", "tiny.ckpt", "--label", "a", "--label", "b"], ["2 --label for 1 runs"]),
    (["attention", "--checkpoint", "tiny.ckpt", "--prompt", "To be", "--layer", "1"], ["--layer 1", "0 to 0"]),
    (["attention", "--checkpoint", "tiny.ckpt", "--prompt", "To be", "--head", "2"], ["--head 2", "0 to 1"]),
    (["attention", "--checkpoint", "tiny.ckpt", "--prompt", "Zebra"], ["does not know: 'Z'"]),
    (["attention", "--checkpoint", "tiny.ckpt", "--prompt", "To be, or"], ["9 tokens", "context window is 8"]),
    (["attention", "--checkpoint", "text.txt", "--prompt", "To"], ["cannot read checkpoint text.txt"]),
    (["eval", "--checkpoint", "tiny.ckpt", "zebra.txt"], ["zebra.txt", "2 character(s) the checkpoint's tokenizer does not know: 'Zp'"]),
    (["eval", "--checkpoint", "tiny.ckpt", "text.txt", "--seq-len", "9"], ["--seq-len must be in 1..8"]),
    (["eval", "--checkpoint", "tiny.ckpt", "missing.txt"], ["not found: missing.txt"]),
    (["info", "missing.ckpt"], ["checkpoint not found: missing.ckpt"]),
])
def test_bad_input_fails_cleanly_and_keeps_files(run, capsys, argv, fragments):
    (run / "zebra.txt").write_text("Zebra stripes\n")
    fails_cleanly(argv, capsys, *fragments)
    assert (run / "text.txt").read_text() == TEXT


@needs_matplotlib
def test_attention_draws_every_head_or_one(run, capsys):
    main(["attention", "--checkpoint", "tiny.ckpt", "--prompt", "To be, o", "--out", "attn.png"])
    assert capsys.readouterr().out == "wrote attn.png (layer 0, 2 head(s), 8 tokens)\n"
    width, height = _png_size(run / "attn.png")
    main(["attention", "--checkpoint", "tiny.ckpt", "--prompt", "To be", "--head", "1", "--layer", "-1",
          "--out", "head.svg"])
    assert capsys.readouterr().out == "wrote head.svg (layer 0, 1 head(s), 5 tokens)\n"
    assert (run / "head.svg").read_text().lstrip().startswith("<?xml")
    assert 400 <= width <= 2000 and 200 <= height <= 1200


def test_missing_matplotlib_gives_the_install_hint(run, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)  # makes the import fail
    fails_cleanly(["plot", "tiny.ckpt"], capsys, "matplotlib", "pip install 'mygpt[plot]'")
    assert not (run / "loss.png").exists()


def test_eval_prints_loss_perplexity_and_bits_per_character(run, capsys):
    main(["eval", "--checkpoint", "tiny.ckpt", "text.txt", "--json"])
    result = json.loads(capsys.readouterr().out)
    model, tokenizer = load_checkpoint("tiny.ckpt")
    expected = evaluate(model, tokenizer.encode(TEXT), 8)
    assert result["tokens"] == len(TEXT) - 1 and result["windows"] == math.ceil((len(TEXT) - 1) / 8)
    assert result["loss"] == pytest.approx(expected.loss, rel=1e-9)
    assert result["perplexity"] == pytest.approx(math.exp(expected.loss))
    assert result["bits_per_char"] == pytest.approx(expected.loss / math.log(2))
    main(["eval", "--checkpoint", "tiny.ckpt", "text.txt", "--seq-len", "4"])
    table = capsys.readouterr().out
    assert f"tokens:       {len(TEXT) - 1:,} predicted, in 430 windows of up to 4" in table
    assert "perplexity:" in table and "bits/char:" in table and "nats/token" in table


def test_info_describes_the_checkpoint(run, capsys):
    main(["info", "tiny.ckpt"])
    out = capsys.readouterr().out
    model, _ = load_checkpoint("tiny.ckpt")
    assert f"saved with:   torch {torch.__version__}" in out
    assert "tokenizer:    char, vocabulary 17" in out
    assert "embed_dim=8, num_heads=2, num_layers=1, max_seq_len=8, norm_type=layer" in out
    assert f"parameters:   {model.num_params():,}" in out
    assert "  blocks.0 " in out and "  ln_f " in out and "(also the output head: tied)" in out
    assert "training:     step 4 (optimizer and RNG state saved)" in out
    assert "steps=4, batch_size=2, seq_len=8" in out and "val_every=3" in out
    assert f"({(run / 'tiny.ckpt').stat().st_size / 1000:.1f} KB)" in out


def test_info_shows_the_seed_as_given_and_the_batch_seed_labelled(run, capsys):
    main(["train", "text.txt", *TINY, "--seed", "5", "--output", "seeded.ckpt"])
    capsys.readouterr()
    main(["info", "seeded.ckpt"])
    out = capsys.readouterr().out
    assert "  seed: 5 (mygpt train --seed 5; the batches and dropout drew from batch_seed=47 = seed + 42)" in out
    assert "batch_seed=47" in out and "seed=47" not in out.replace("batch_seed=47", "")
    main(["info", "tiny.ckpt"])  # the default --seed 0: not the 42 of the batches
    assert "  seed: 0 (mygpt train --seed 0;" in capsys.readouterr().out


def test_info_of_a_checkpoint_without_training_state(run, capsys):
    ckpt = torch.load("tiny.ckpt", weights_only=True)
    del ckpt["torch_version"], ckpt["training_state"]
    torch.save(ckpt, "old.ckpt")
    main(["info", "old.ckpt"])
    out = capsys.readouterr().out
    assert "torch version not recorded" in out and "training:     none" in out


@pytest.mark.parametrize("command, words", [("eval", "perplexity"), ("info", "parameters"),
                                            ("plot", "validation loss"), ("attention", "heatmap")])
def test_help_says_what_the_command_does(command, words, capsys):
    with pytest.raises(SystemExit):
        main([command, "--help"])
    assert words in capsys.readouterr().out


@needs_matplotlib
def test_bpe_checkpoint_bits_per_character_count_characters_not_tokens(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "text.txt").write_text(TEXT, encoding="utf-8")
    main(["train", "text.txt", *TINY, "--tokenizer", "bpe", "--num-merges", "10", "--output", "bpe.ckpt"])
    capsys.readouterr()
    main(["eval", "--checkpoint", "bpe.ckpt", "text.txt", "--json"])
    result = json.loads(capsys.readouterr().out)
    _, tokenizer = load_checkpoint("bpe.ckpt")
    ids = tokenizer.encode_corpus(TEXT)
    chars = len(tokenizer.decode(ids[1:]))
    assert result["tokens"] == len(ids) - 1 < chars
    assert result["bits_per_char"] == pytest.approx(result["loss"] * result["tokens"] / chars / math.log(2))
    main(["info", "bpe.ckpt"])
    assert f"tokenizer:    bpe, vocabulary {tokenizer.vocab_size} (17 symbols + 10 merges)" in capsys.readouterr().out
    main(["attention", "--checkpoint", "bpe.ckpt", "--prompt", "To be, or not", "--out", "bpe.png"])
    assert "wrote bpe.png (layer 0, 2 head(s), " in capsys.readouterr().out
    _png_size(tmp_path / "bpe.png")
