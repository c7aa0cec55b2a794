"""Where training text comes from: the offline built-in corpus and the cached, verified download.

Downloads are tested against a server on 127.0.0.1 only, never the internet.
"""

import hashlib
import http.server
import sys
import threading
from pathlib import Path

import pytest

from mygpt.cli import _build_parser, main
from mygpt.cli.train import BUILTIN_STEPS, train_config
from mygpt.data import corpus
from mygpt.data.corpus import NamedCorpus, builtin_text, fetch_named, load_corpus
from mygpt.errors import CorpusError

PAYLOAD = ("First Citizen:\nBefore we proceed any further, hear me speak.\n" * 30).encode()
TINY = ["--steps", "2", "--print-every", "1", "--batch-size", "2", "--seq-len", "8", "--max-seq-len", "8",
        "--embed-dim", "8", "--num-heads", "2", "--num-layers", "1", "--device", "cpu"]


class Server:
    """A one-file HTTP server on 127.0.0.1 that counts its requests."""

    def __init__(self, body: bytes):
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                server.requests += 1
                if self.path != "/input.txt":
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.requests = 0
        self.httpd = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = Server(PAYLOAD)
    yield s
    s.stop()


@pytest.fixture
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("MYGPT_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)
    return tmp_path / "cache"


def use_corpus(monkeypatch, url: str, sha256: str) -> None:
    monkeypatch.setitem(corpus.NAMED_CORPORA, "shakespeare", NamedCorpus("tinyshakespeare.txt", url, sha256))


def test_shakespeare_is_pinned_to_the_canonical_file():
    entry = corpus.NAMED_CORPORA["shakespeare"]
    assert entry.url == ("https://raw.githubusercontent.com/karpathy/char-rnn/master/data/"
                         "tinyshakespeare/input.txt")
    assert entry.sha256 == "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"


def test_download_verifies_caches_and_then_works_offline(server, cache, monkeypatch):
    use_corpus(monkeypatch, server.url + "/input.txt", hashlib.sha256(PAYLOAD).hexdigest())
    logged = []
    path = fetch_named("shakespeare", log=logged.append)
    assert path == cache / "tinyshakespeare.txt" and path.read_bytes() == PAYLOAD
    assert server.requests == 1 and len(logged) == 1
    assert sorted(p.name for p in cache.iterdir()) == ["tinyshakespeare.txt"]
    server.stop()  # offline from now on
    assert fetch_named("shakespeare", log=logged.append) == path
    assert len(logged) == 1


def test_wrong_checksum_keeps_nothing(server, cache, monkeypatch):
    use_corpus(monkeypatch, server.url + "/input.txt", "0" * 64)
    with pytest.raises(CorpusError, match="expected 0000"):
        fetch_named("shakespeare", log=lambda msg: None)
    assert list(cache.iterdir()) == []


def test_a_damaged_cached_file_is_downloaded_again(server, cache, monkeypatch):
    use_corpus(monkeypatch, server.url + "/input.txt", hashlib.sha256(PAYLOAD).hexdigest())
    cache.mkdir()
    (cache / "tinyshakespeare.txt").write_bytes(PAYLOAD[:100])
    assert fetch_named("shakespeare", log=lambda msg: None).read_bytes() == PAYLOAD
    assert server.requests == 1


def test_http_error_is_a_clear_error(server, cache, monkeypatch):
    use_corpus(monkeypatch, server.url + "/missing.txt", hashlib.sha256(PAYLOAD).hexdigest())
    with pytest.raises(CorpusError, match="could not download the shakespeare corpus"):
        fetch_named("shakespeare", log=lambda msg: None)


def test_cli_trains_on_the_downloaded_corpus(server, cache, monkeypatch, capsys):
    use_corpus(monkeypatch, server.url + "/input.txt", hashlib.sha256(PAYLOAD).hexdigest())
    main(["train", "shakespeare", *TINY])
    out, err = capsys.readouterr()
    assert f"corpus chars: {len(PAYLOAD):,}\n" in out and "saved checkpoint to model.ckpt" in out
    assert "downloading shakespeare corpus" in err
    main(["train", "shakespeare", *TINY])  # second time from the cache, silently
    assert capsys.readouterr().err == "" and server.requests == 1


def test_cli_download_failure_is_one_line(cache, monkeypatch, capsys):
    use_corpus(monkeypatch, "http://127.0.0.1:9/input.txt", "0" * 64)  # port 9: nothing listens
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "shakespeare", *TINY])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.splitlines()[-1].startswith("mygpt: error: could not download")


def test_a_real_file_wins_over_the_name(cache, monkeypatch):
    use_corpus(monkeypatch, "http://127.0.0.1:9/input.txt", "0" * 64)
    Path("shakespeare").write_text("my own text", encoding="utf-8")
    assert load_corpus("shakespeare") == ("my own text", "shakespeare")


def test_builtin_corpus_is_offline_and_deterministic():
    text = builtin_text()
    assert len(text) > 100_000 and text == builtin_text()


def test_builtin_corpus_falls_back_to_docstrings(monkeypatch):
    monkeypatch.setitem(sys.modules, "pydoc_data.topics", None)  # as if pydoc_data were not shipped
    text = builtin_text()
    assert len(text) > 10_000 and "command-line" in text.lower()


def test_default_job_without_a_text_file(tmp_path, monkeypatch, capsys):
    """No text file: the built-in corpus, the book's header, then a sample that `generate` reproduces."""
    monkeypatch.chdir(tmp_path)
    main(["train", *TINY])
    out = capsys.readouterr().out
    assert out.startswith("corpus:       Python documentation") and "\ndevice:       cpu\n" in out
    assert "steps:        2\n" in out and "saved checkpoint to model.ckpt" in out
    sample = out.split("top-k 10):\n\n")[1].split("\n\nmore: ")[0]
    assert sample.startswith("The ") and len(sample) == 204
    main(["generate", "--checkpoint", "model.ckpt", "--prompt", "The ", "--device", "cpu"])
    assert capsys.readouterr().out == f"device: cpu\n\n{sample}\n"


@pytest.mark.parametrize("argv, steps, print_every", [
    (["train", "t.txt"], 2000, 500),
    (["train"], BUILTIN_STEPS["steps"], BUILTIN_STEPS["print_every"]),
    (["train", "--steps", "7", "--print-every", "3"], 7, 3),
])
def test_shorter_defaults_only_for_the_builtin_job(argv, steps, print_every):
    config = train_config(_build_parser().parse_args(argv))
    assert (config.steps, config.print_every) == (steps, print_every)
