"""Where training text comes from: a file, the built-in corpus, or a named downloadable corpus.

The built-in corpus needs no network: it is the text of Python's own documentation topics, which
ship inside CPython's standard library (``pydoc_data.topics``; its ~230 KB of prose are kept).
Named corpora are downloaded once into a user cache, checked against a SHA-256, and reused offline.
"""

import importlib
import inspect
import os
import re
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ..errors import CorpusError, notify
from ..utils import cache_dir, file_sha256


@dataclass(frozen=True)
class NamedCorpus:
    """A public text file known by a short name, pinned by its SHA-256."""

    filename: str
    url: str
    sha256: str


NAMED_CORPORA = {
    "shakespeare": NamedCorpus(
        filename="tinyshakespeare.txt",
        url="https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
        sha256="86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
    ),
}

BUILTIN_NAME = "Python documentation topics (built into CPython's pydoc_data)"

# Used only when pydoc_data is missing (some slimmed-down Python builds drop it).
_FALLBACK_MODULES = ("argparse", "collections", "functools", "itertools", "json", "logging", "os",
                     "pathlib", "re", "string", "subprocess", "textwrap", "threading")


def _prose(text: str) -> str:
    """Keep the flowing text: drop indented lines (code examples, grammar) and table rules."""
    lines = [line for line in text.splitlines() if not line[:1].isspace() and line[:1] not in "+|="]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip() + "\n"


def builtin_text() -> str:
    """The offline corpus: the prose of pydoc's topic texts in sorted-key order, else stdlib docstrings."""
    try:
        from pydoc_data.topics import topics
        return _prose("\n\n".join(topics[key] for key in sorted(topics)))
    except ImportError:
        pass
    docs = []
    for name in _FALLBACK_MODULES:
        module = importlib.import_module(name)
        members = [obj for _, obj in inspect.getmembers(module, lambda o: inspect.isclass(o) or
                                                         inspect.isfunction(o)) if obj.__module__ == name]
        docs += [inspect.getdoc(obj) or "" for obj in [module, *members]]
    text = _prose("\n\n".join(doc for doc in docs if doc))
    if not text.strip():
        raise CorpusError("this Python has no built-in documentation text (pydoc_data missing, "
                          "docstrings stripped); pass a text file: mygpt train FILE")
    return text


def fetch_named(name: str, log=None) -> Path:
    """Path of the cached file of corpus ``name``, downloading and verifying it the first time.

    The download goes to a temp file that is renamed only once its SHA-256 matches, so the cache
    never holds a partial or wrong file. ``log`` (default: a notice, ``errors.notify``) receives one
    progress line.
    """
    corpus = NAMED_CORPORA[name]
    path = cache_dir() / corpus.filename
    if path.is_file() and file_sha256(path) == corpus.sha256:
        return path
    log = log or notify
    log(f"downloading {name} corpus from {corpus.url} to {path}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise CorpusError(f"cannot create the cache directory {path.parent} ({err.strerror}); "
                          "set MYGPT_CACHE to a writable directory") from err
    tmp = path.with_name(path.name + ".part")
    try:
        with urllib.request.urlopen(corpus.url, timeout=60) as response, open(tmp, "wb") as f:
            while block := response.read(1 << 16):
                f.write(block)
        digest = file_sha256(tmp)
        if digest != corpus.sha256:
            raise CorpusError(f"downloaded {name} corpus has SHA-256 {digest}, expected {corpus.sha256}; "
                              f"retry later or put a verified copy at {path}")
        os.replace(tmp, path)
    except OSError as err:  # URLError, HTTPError, timeouts and disk errors are all OSErrors
        raise CorpusError(f"could not download the {name} corpus from {corpus.url} ({err}); check the "
                          f"network, or download it yourself and pass the file path") from err
    finally:
        tmp.unlink(missing_ok=True)
    return path


def read_text_file(path: str) -> str:
    """Read a UTF-8 text file for training; missing, empty or undecodable files raise ``CorpusError``."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError as err:
        raise CorpusError(f"text file not found: {path}; pass an existing UTF-8 text file, "
                          f"'shakespeare', or nothing for the built-in corpus") from err
    except IsADirectoryError as err:
        raise CorpusError(f"{path} is a directory; pass a UTF-8 text file") from err
    except UnicodeDecodeError as err:
        raise CorpusError(f"{path} is not UTF-8 text ({err.reason} at byte {err.start}); "
                          "convert it to UTF-8 first") from err
    except OSError as err:
        raise CorpusError(f"cannot read {path} ({err.strerror}); check the path and permissions") from err
    if not text:
        raise CorpusError(f"text file {path} is empty; pass a file with training text")
    return text


def load_corpus(text_file: str | None) -> tuple[str, str]:
    """Resolve the ``train`` argument into ``(text, description)``.

    ``None`` is the built-in corpus; an existing path is read as is (a real file wins over a name);
    a name from ``NAMED_CORPORA`` is fetched into the cache.
    """
    if text_file is None:
        return builtin_text(), BUILTIN_NAME
    if text_file in NAMED_CORPORA and not os.path.exists(text_file):
        path = fetch_named(text_file)
        return read_text_file(str(path)), str(path)
    return read_text_file(text_file), text_file
