"""``mygpt serve`` on the command line: what it refuses in one line, where it listens, its default model."""

import contextlib
import socket
import sys

import pytest
import torch
from support.cli import fails_cleanly

from mygpt.cli import main
from mygpt.cli import serve as serve_command
from mygpt.cli import train as train_command
from mygpt.serve.models import load_models


@pytest.mark.parametrize("args, words", [
    (["missing.ckpt"], "checkpoint not found: missing.ckpt"),
    (["text.txt"], "cannot read checkpoint text.txt"),
    (["char.ckpt", "missing.ckpt"], "checkpoint not found: missing.ckpt"),
    (["char.ckpt", "--port", "70000"], "--port must be from 0 to 65535"),
    (["char.ckpt", "--max-concurrent", "0"], "--max-concurrent must be at least 1"),
    (["char.ckpt", "--max-new-tokens", "-5"], "--max-new-tokens must be at least 1"),
    (["char.ckpt", "--threads", "0"], "--threads must be at least 1"),
])
def test_what_cannot_be_served_is_refused_at_start_in_one_line(checkpoints, monkeypatch, capsys, args, words):
    monkeypatch.chdir(checkpoints)
    fails_cleanly(["serve", *args], capsys, words)


def test_a_port_in_use_is_one_line(checkpoints, monkeypatch, capsys):
    monkeypatch.chdir(checkpoints)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        fails_cleanly(["serve", "char.ckpt", "--port", str(port)], capsys,
                      f"cannot listen on 127.0.0.1 port {port}", "choose another --port")


def test_without_the_serve_extra_the_command_says_what_to_install(checkpoints, monkeypatch, capsys):
    monkeypatch.chdir(checkpoints)
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # as if mygpt[serve] were not installed
    fails_cleanly(["serve", "char.ckpt"], capsys, "pip install 'mygpt[serve]'")


@pytest.mark.parametrize("host, url, local", [
    ("127.0.0.1", "http://127.0.0.1:8000/", True),
    ("::1", "http://[::1]:8000/", True),
    ("0.0.0.0", "http://127.0.0.1:8000/", False),
    ("::", "http://[::1]:8000/", False),
    ("192.0.2.7", "http://192.0.2.7:8000/", False),
])
def test_the_address_printed_and_whether_the_network_can_reach_it(host, url, local):
    assert serve_command._url(host, 8000) == (url, local)


def test_listening_beyond_this_machine_is_said_out_loud(checkpoints, capsys):
    models = load_models([str(checkpoints / "char.ckpt")], torch.device("cpu"))
    serve_command._announce(models, "http://127.0.0.1:8000/", True, "127.0.0.1", 8000)
    out, err = capsys.readouterr()
    assert out.endswith("serving on http://127.0.0.1:8000/ (Ctrl-C stops)\n") and err == ""
    assert "model char: " in out and "char tokenizer" in out and "fast (KV cache) sampling" in out
    serve_command._announce(models, "http://127.0.0.1:8000/", False, "0.0.0.0", 8000)
    err = capsys.readouterr().err
    assert err.startswith("mygpt: warning: listening on 0.0.0.0, not only on this machine") and err.count("\n") == 1


def test_without_a_checkpoint_it_serves_model_ckpt_or_trains_the_quickstart_model_once(
        checkpoints, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MYGPT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setitem(train_command.BUILTIN_STEPS, "steps", 2)  # the Quickstart's run, cut short
    torch.set_num_threads(1)  # its 200-token sample crawls with 2 threads on a busy 2-core machine
    path = serve_command._default_checkpoint()
    out = capsys.readouterr().out
    assert path == str(tmp_path / "cache" / "quickstart.ckpt")
    assert "training the Quickstart's default model" in out and "corpus:       Python documentation" in out
    (model,) = load_models([path], torch.device("cpu"))
    assert model.card["parameters"]["total"] > 200_000 and model.card["training"]["step"] == 2
    assert serve_command._default_checkpoint() == path and "training" not in capsys.readouterr().out
    (tmp_path / "model.ckpt").write_bytes((checkpoints / "char.ckpt").read_bytes())
    assert serve_command._default_checkpoint() == "model.ckpt"
    assert "serving model.ckpt from this directory" in capsys.readouterr().out


def test_serve_has_help_for_every_option(capsys):
    with contextlib.suppress(SystemExit):
        main(["serve", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "CHECKPOINT" in text and "127.0.0.1 (this machine only)" in text and "side by side" in text
