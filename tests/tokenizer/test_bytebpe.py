"""Byte-level BPE (GPT-2's tokenizer through the ``tokenizers`` library): any text round-trips, it is
trained by ``mygpt train --tokenizer bytebpe``, stored in checkpoints and used by generation."""

import json
import sys

import pytest
import torch
from support.cli import TEXT, TINY, fails_cleanly

from mygpt import tokenizer as tokenizer_module
from mygpt.checkpoint import load_checkpoint
from mygpt.cli import main
from mygpt.tokenizer import ByteBPETokenizer, tokenizer_for

pytest.importorskip("tokenizers")
hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings
from hypothesis import strategies as st

CORPUS = TEXT + " ".join(f"word{i} is number {i * 7}," for i in range(300))
TRAINED = ByteBPETokenizer.from_text(CORPUS, 40)


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_any_text_round_trips(text):
    ids = TRAINED.encode(text)
    assert ids.dtype == torch.long and all(0 <= i < TRAINED.vocab_size for i in ids.tolist())
    assert TRAINED.decode(ids) == text


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(codec="utf-8")) | st.text(" \n\ta'sb1!\u3000\u00a0\x1c\x1f"), st.integers(1, 8))
def test_corpus_encoding_in_pieces_gives_the_whole_texts_ids(text, size):
    """``encode_corpus`` (``mygpt prepare``) encodes byte-level text in pieces cut where GPT-2's pre-tokenizer
    cuts anyway: the ids are those of the whole text."""
    pieces = tokenizer_module._byte_level_pieces(text, size)
    assert "".join(pieces) == text
    ids = [i for e in TRAINED.tokenizer.encode_batch(pieces, add_special_tokens=False) for i in e.ids]
    assert ids == TRAINED.encode(text).tolist()
    assert TRAINED.encode_corpus(text).tolist() == TRAINED.encode(text).tolist()


def test_training_learns_merges_and_end_of_text():
    assert TRAINED.vocab_size == 257 + 40  # 256 byte symbols, <|endoftext|>, 40 merges
    assert len(TRAINED.encode(TEXT)) < len(TEXT.encode()) / 2
    assert TRAINED.tokenizer.token_to_id("<|endoftext|>") is not None
    assert tokenizer_for("bytebpe").learn(CORPUS, 40).encode(TEXT).tolist() == TRAINED.encode(TEXT).tolist()
    assert ByteBPETokenizer.from_text(TEXT, 100).vocab_size < 257 + 100  # the text ran out of pairs
    with pytest.raises(ValueError, match="unknown tokenizer 'words'"):
        tokenizer_for("words")


def test_vocab_merges_files_and_tokenizer_json_agree(tmp_path):
    TRAINED.tokenizer.model.save(str(tmp_path))
    TRAINED.save(str(tmp_path / "tokenizer.json"))
    from_files = ByteBPETokenizer.from_files(str(tmp_path / "vocab.json"), str(tmp_path / "merges.txt"))
    from_json = ByteBPETokenizer.load(str(tmp_path / "tokenizer.json"))
    text = "To be, or not — ☃ ünï\n\n  question"
    assert from_files.encode(text).tolist() == from_json.encode(text).tolist() == TRAINED.encode(text).tolist()
    assert from_files.vocab_size == TRAINED.vocab_size


def test_train_and_generate_with_bytebpe(tmp_path, capsys):
    (tmp_path / "t.txt").write_text(CORPUS)
    out = str(tmp_path / "b.ckpt")
    main(["train", str(tmp_path / "t.txt"), *TINY, "--tokenizer", "bytebpe", "--num-merges", "30", "--output", out])
    assert "tokenizer:    bytebpe" in capsys.readouterr().out
    model, tokenizer = load_checkpoint(out)
    assert isinstance(tokenizer, ByteBPETokenizer) and tokenizer.vocab_size == model.vocab_size == 287
    assert tokenizer.encode(TEXT).tolist() == ByteBPETokenizer.from_text(CORPUS, 30).encode(TEXT).tolist()
    main(["generate", "--checkpoint", out, "--prompt", "Никогда ☃", "--max-new-tokens", "4"])
    assert "Никогда ☃" in capsys.readouterr().out  # characters never seen in training are fine
    (tmp_path / "held_out.txt").write_text("Никогда ☃ " + TEXT)
    main(["eval", "--checkpoint", out, str(tmp_path / "held_out.txt"), "--json"])
    result = json.loads(capsys.readouterr().out)
    assert result["bits_per_byte"] > 0 and "bits_per_char" not in result  # any text evaluates, per byte


def test_missing_tokenizers_package_is_one_line(tmp_path, capsys, monkeypatch):
    (tmp_path / "t.txt").write_text(CORPUS)
    out = str(tmp_path / "b.ckpt")
    main(["train", str(tmp_path / "t.txt"), *TINY, "--tokenizer", "bytebpe", "--num-merges", "5", "--output", out])
    capsys.readouterr()
    monkeypatch.setitem(sys.modules, "tokenizers", None)  # as if mygpt[hf] were not installed
    fails_cleanly(["generate", "--checkpoint", out, "--prompt", "To"], capsys, "pip install 'mygpt[hf]'")
    fails_cleanly(["train", str(tmp_path / "t.txt"), *TINY, "--tokenizer", "bytebpe"], capsys, "tokenizers")


def test_a_bytebpe_run_resumes_exactly(tmp_path, monkeypatch, capsys):
    """--resume compares a byte-level tokenizer by its saved form; the resumed run ends where a straight one does."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "text.txt").write_text(CORPUS, encoding="utf-8")
    flags = [*TINY[2:], "--tokenizer", "bytebpe", "--num-merges", "40"]  # TINY without its --steps
    main(["train", "text.txt", "--steps", "4", *flags, "--output", "straight.ckpt"])
    main(["train", "text.txt", "--steps", "2", *flags, "--output", "part.ckpt"])
    capsys.readouterr()
    main(["train", "text.txt", "--steps", "4", *flags, "--output", "part.ckpt", "--resume", "part.ckpt"])
    assert "step     4:" in capsys.readouterr().out
    straight, part = (torch.load(tmp_path / f"{n}.ckpt", weights_only=True)["model_state_dict"]
                      for n in ("straight", "part"))
    assert all(torch.equal(straight[k], part[k]) for k in straight)
    with pytest.raises(SystemExit):  # more merges: another tokenizer, refused in one line
        main(["train", "text.txt", "--steps", "6", *flags[:-1], "50", "--output", "part.ckpt",
              "--resume", "part.ckpt"])
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "tokenizer's vocabulary or merges differs" in err, err
