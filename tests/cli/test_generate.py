"""``mygpt generate``: the book's output unchanged, streamed; greedy, top-p, samples, stops, probabilities."""

import json
import os
import select
import signal
import subprocess
import sys
import time

import pytest
import torch
from support.cli import TEXT, fails_cleanly

from mygpt import GPT, BPETokenizer, CharTokenizer, generate, save_checkpoint, set_seed
from mygpt.cli import main
from mygpt.cli.common import sample


def _save(path, tokenizer) -> GPT:
    torch.manual_seed(0)
    model = GPT(tokenizer.vocab_size, 16, 2, num_layers=1, max_seq_len=8)
    save_checkpoint(model, tokenizer, str(path))
    return model.eval()


@pytest.fixture
def ckpt(tmp_path, monkeypatch):
    """A random (untrained, so varied) char model with a context of 8, and its tokenizer."""
    monkeypatch.chdir(tmp_path)
    tokenizer = CharTokenizer.from_text(TEXT)
    return _save(tmp_path / "tiny.ckpt", tokenizer), tokenizer


def _generate(capsys, *options: str, checkpoint: str = "tiny.ckpt") -> tuple[str, str]:
    main(["generate", "--checkpoint", checkpoint, "--prompt", "To", "--device", "cpu", *options])
    return capsys.readouterr()


def _book_output(model, tokenizer, seed=0, **kwargs) -> str:
    """What the book's generate printed: the device line, then prompt + continuation in one print."""
    options = {"max_new_tokens": 200, "temperature": 1.0, "top_k": 10, **kwargs}
    text = sample(model, tokenizer, "To", torch.device("cpu"), seed=seed, precision="fp32", **options)
    return f"device: cpu\n\n{text}\n"


@pytest.mark.parametrize("options, kwargs", [
    ([], {}),
    (["--max-new-tokens", "30", "--seed", "123", "--temperature", "0.8", "--top-k", "5"],
     {"max_new_tokens": 30, "seed": 123, "temperature": 0.8, "top_k": 5}),
    (["--max-new-tokens", "0"], {"max_new_tokens": 0}),
])
def test_default_output_is_the_books_byte_for_byte(ckpt, capsys, options, kwargs):
    out, err = _generate(capsys, *options)
    assert out == _book_output(*ckpt, **kwargs) and err == ""


def test_bpe_tokens_stream_to_the_whole_decode(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    tokenizer = BPETokenizer.from_corpus(TEXT, 30)
    model = _save(tmp_path / "bpe.ckpt", tokenizer)
    out, _ = _generate(capsys, "--max-new-tokens", "50", checkpoint="bpe.ckpt")
    assert out == _book_output(model, tokenizer, max_new_tokens=50)


def test_temperature_0_is_greedy_whatever_the_seed(ckpt, capsys):
    model, tokenizer = ckpt
    outs = {_generate(capsys, "--temperature", "0", "--seed", str(seed), "--max-new-tokens", "20")[0]
            for seed in (0, 1, 2**40)}
    greedy = generate(model, tokenizer.encode("To")[None], 20, temperature=0)
    assert outs == {f"device: cpu\n\n{tokenizer.decode(greedy[0])}\n"}


def test_top_p_samples_what_the_library_samples(ckpt, capsys):
    model, tokenizer = ckpt
    out, _ = _generate(capsys, "--top-p", "0.6", "--seed", "9", "--max-new-tokens", "40")
    set_seed(9)
    expected = generate(model, tokenizer.encode("To")[None], 40, top_k=10, top_p=0.6)
    assert out == f"device: cpu\n\n{tokenizer.decode(expected[0])}\n"
    assert out != _generate(capsys, "--seed", "9", "--max-new-tokens", "40")[0]


def test_num_samples_are_seeded_one_after_the_other(ckpt, capsys):
    out, _ = _generate(capsys, "--num-samples", "3", "--seed", "7", "--max-new-tokens", "25")
    parts = out.split("\n")
    assert parts[:3] == ["device: cpu", "", "--- sample 1/3 (seed 7) ---"]
    for i in range(3):
        alone, _ = _generate(capsys, "--seed", str(7 + i), "--max-new-tokens", "25")
        body = alone.removeprefix("device: cpu\n\n")
        assert f"--- sample {i + 1}/3 (seed {7 + i}) ---\n{body}" in out
    assert out.count("--- sample ") == 3


@pytest.mark.parametrize("stop", ["e", "o t", "\\n", "zzz"])
def test_stop_strings_end_the_sample_and_are_not_printed(ckpt, capsys, stop):
    full, _ = _generate(capsys, "--seed", "4", "--max-new-tokens", "120")
    out, _ = _generate(capsys, "--seed", "4", "--max-new-tokens", "120", "--stop", stop, "--stop", "qqqq")
    sample_text = full.removeprefix("device: cpu\n\n")[:-1]
    text = stop.replace("\\n", "\n")
    cut = sample_text.find(text, len("To"))
    assert out == "device: cpu\n\n" + (sample_text if cut < 0 else sample_text[:cut]) + "\n"


def test_an_empty_stop_string_is_refused(ckpt, capsys):
    fails_cleanly(["generate", "--checkpoint", "tiny.ckpt", "--prompt", "To", "--stop", ""], capsys, "--stop")


@pytest.mark.parametrize("options, fragment", [(["--top-p", "0"], "--top-p must be in (0, 1]"),
                                               (["--top-p", "1.01"], "--top-p"),
                                               (["--temperature", "-0.1"], "--temperature must be 0 (greedy"),
                                               (["--num-samples", "0"], "--num-samples must be at least 1")])
def test_impossible_new_options(ckpt, capsys, options, fragment):
    fails_cleanly(["generate", "--checkpoint", "tiny.ckpt", "--prompt", "To", *options], capsys, fragment)


def _json_probs(capsys, *options: str) -> tuple[str, list[dict]]:
    out, err = _generate(capsys, "--show-probs", "json", "--max-new-tokens", "30", *options)
    return out, [json.loads(line) for line in err.splitlines()]


def test_show_probs_leaves_stdout_alone_and_names_each_token(ckpt, capsys):
    plain, _ = _generate(capsys, "--max-new-tokens", "30", "--top-k", "3")
    out, rows = _json_probs(capsys, "--top-k", "3")
    assert out == plain and len(rows) == 30
    assert "".join(row["token"] for row in rows) == plain.removeprefix("device: cpu\n\nTo")[:-1]
    text, err = _generate(capsys, "--show-probs", "--max-new-tokens", "30", "--top-k", "3")
    assert text == plain and len(err.splitlines()) == 30 and err.startswith("sample 1 step 1: ")


def test_samples_are_numbered_from_1_in_headers_text_and_json(ckpt, capsys):
    """One numbering: the header of sample 2, its --show-probs text lines and its JSON rows all say 2."""
    options = ["--num-samples", "2", "--seed", "5", "--max-new-tokens", "3"]
    out, err = _generate(capsys, "--show-probs", *options)
    assert "--- sample 2/2 (seed 6) ---" in out
    assert [line.split(" step")[0] for line in err.splitlines()] == ["sample 1"] * 3 + ["sample 2"] * 3
    _, rows = _json_probs(capsys, *options)
    assert [(row["sample"], row["seed"], row["step"]) for row in rows] == [
        (1, 5, 1), (1, 5, 2), (1, 5, 3), (2, 6, 1), (2, 6, 2), (2, 6, 3)]


def test_show_probs_numbers_are_the_sampling_distribution(ckpt, capsys):
    _, rows = _json_probs(capsys, "--top-k", "3", "--temperature", "1")
    for row in rows:
        top = row["top"]
        assert [e["model_p"] for e in top] == sorted((e["model_p"] for e in top), reverse=True)
        assert sum(e["p"] for e in top) == pytest.approx(1, abs=1e-5)  # top-k 3: all the mass is shown
        assert all(e["p"] == 0 for e in top[3:])
        kept = sum(e["model_p"] for e in top[:3])
        assert all(e["p"] == pytest.approx(e["model_p"] / kept, rel=1e-4) for e in top[:3])  # temperature 1
        assert row["p"] > 0 and row["id"] in [e["id"] for e in top[:3]]


def test_show_probs_of_greedy_and_of_a_low_temperature(ckpt, capsys):
    _, greedy = _json_probs(capsys, "--temperature", "0")
    assert all(row["p"] == 1.0 and row["id"] == row["top"][0]["id"] for row in greedy)
    _, cold = _json_probs(capsys, "--temperature", "0.5", "--top-k", "65")
    _, warm = _json_probs(capsys, "--temperature", "2", "--top-k", "65")
    assert cold[0]["top"][0]["p"] > cold[0]["top"][0]["model_p"] > warm[0]["top"][0]["p"]


def _read_until(stream, count: int, deadline: float) -> bytes:
    data = b""
    while len(data) < count and time.monotonic() < deadline:
        if select.select([stream], [], [], 0.5)[0]:
            chunk = os.read(stream.fileno(), 4096)
            if not chunk:
                break
            data += chunk
    return data


POSIX_ONLY = pytest.mark.skipif(sys.platform == "win32", reason="uses SIGINT and select() on pipes")


@POSIX_ONLY
def test_a_billion_tokens_stream_at_once_and_ctrl_c_keeps_them(ckpt, tmp_path, ctrl_c_reaches_children):
    env = {**os.environ, "LANG": "C.UTF-8", "PYTHONIOENCODING": "utf-8"}
    process = subprocess.Popen(
        [sys.executable, "-m", "mygpt", "generate", "--checkpoint", "tiny.ckpt", "--prompt", "To",
         "--device", "cpu", "--max-new-tokens", "1000000000"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        head = _read_until(process.stdout, len(b"device: cpu\n\nTo") + 50, time.monotonic() + 120)
        assert head.startswith(b"device: cpu\n\nTo") and len(head) >= len(b"device: cpu\n\nTo") + 50
        process.send_signal(signal.SIGINT)
        rest, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130
    assert err.decode().endswith("mygpt: interrupted; the text printed so far is kept\n")
    assert b"Traceback" not in err
    out = (head + rest).decode()
    assert out.endswith("\n") and len(out) > len(head)


@POSIX_ONLY
def test_a_reader_that_goes_away_ends_the_run_quietly(ckpt, tmp_path):
    """``mygpt generate ... | head``: the closed pipe ends the endless run, without a traceback."""
    process = subprocess.Popen(
        [sys.executable, "-m", "mygpt", "generate", "--checkpoint", "tiny.ckpt", "--prompt", "To",
         "--device", "cpu", "--max-new-tokens", "1000000000"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert _read_until(process.stdout, 20, time.monotonic() + 120).startswith(b"device: cpu")
        process.stdout.close()
        _, err = process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 1 and err == b""


def test_reduced_decoding_weights_need_fast_and_eval_prints_their_cost(tmp_path, capsys):
    """``generate --fast --weights int8`` decodes; without --fast it is refused in one line; ``eval
    --weights`` prints the loss difference they cost."""
    from mygpt import GPT, CharTokenizer, save_checkpoint
    from mygpt.cli import main

    tokenizer = CharTokenizer.from_text(TEXT)
    torch.manual_seed(0)
    save_checkpoint(GPT(tokenizer.vocab_size, 16, 2, 2, max_seq_len=16), tokenizer, str(tmp_path / "m.ckpt"))
    (tmp_path / "t.txt").write_text(TEXT)
    main(["generate", "--checkpoint", str(tmp_path / "m.ckpt"), "--prompt", "To", "--max-new-tokens", "30",
          "--fast", "--weights", "int8", "--device", "cpu"])
    assert capsys.readouterr().out.count("To") >= 1
    fails_cleanly(["generate", "--checkpoint", str(tmp_path / "m.ckpt"), "--prompt", "To", "--weights", "bf16"],
                  capsys, "--weights bf16 needs --fast")
    main(["eval", str(tmp_path / "t.txt"), "--checkpoint", str(tmp_path / "m.ckpt"), "--weights", "int8",
          "--device", "cpu", "--json"])
    result = json.loads(capsys.readouterr().out)
    assert abs(result["loss_int8_weights"] - result["loss"]) < 0.05
    assert result["loss_difference"] == result["loss_int8_weights"] - result["loss"]
