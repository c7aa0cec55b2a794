"""``prepare``: stream text files into token shards once, for corpora bigger than memory (Ch.28 at scale).

``prepare`` reads its inputs as one stream of text cut at word ends (never the whole corpus at once),
builds the tokenizer (char: every character of the corpus; BPE: trained on the first
``bpe_train_bytes`` characters, the book's ``--bpe-train-bytes`` rule), encodes the stream on all cores
and writes train/val token shards with the book's split rule: the first ``1 - val_split`` of the tokens
train, the rest validate (Ch.21). The folder appears only once complete (``meta.json`` is written
last, then the folder is renamed into place), so a half-written one is never taken for a prepared one.
``shards`` reads them back, checking every file against ``meta.json``.
"""

import json
import os
import re
import signal
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import CorpusError, require
from ..files.outputs import OutputKind, write_directory
from ..tokenizer import CharTokenizer, Tokenizer, tokenizer_for
from ..utils import file_sha256
from .shards import FORMAT, META, TOKENIZER_FILE
from .sources import check_corpus_options

CHUNK_CHARS = 1 << 20


SHARD_TOKENS = 1 << 28  # 512 MB of uint16 tokens per file


DEFAULT_BPE_TRAIN_BYTES = 10_000_000



# The last place in a chunk where a new word begins (whitespace after non-whitespace): cutting there
# gives every word whole to one chunk, so the BPE word encoder sees the words the whole text has.
_LAST_WORD_START = re.compile(r"(?s:.*)\S(?=\s)")


@dataclass
class Survey:
    """What one streaming pass over the corpus learns: its characters, their count, the BPE sample."""

    chars: set[str] = field(default_factory=set)
    n_chars: int = 0
    sample: str = ""


def text_files(inputs: Iterable[str]) -> list[Path]:
    """The files to read: each input file, and every file under each input folder (sorted, recursively)."""
    files = []
    for name in inputs:
        path = Path(name)
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
        elif path.is_file():
            files.append(path)
        else:
            raise CorpusError(f"input not found: {name}; pass text files or folders of text files")
    if not files:
        raise CorpusError("the inputs hold no files; pass text files or folders of text files")
    return files


def read_chunks(files: Iterable[Path], chunk_chars: int = CHUNK_CHARS) -> Iterator[str]:
    """The files' text, concatenated, as pieces of about ``chunk_chars`` characters cut where a word starts.

    Text without whitespace (some scripts write none) is cut anyway once it reaches 4 chunks, which
    keeps memory bounded; BPE then sees one word split in two there.
    """
    carry = ""
    for path in files:
        try:
            with open(path, encoding="utf-8") as f:
                while block := f.read(chunk_chars):
                    text = carry + block
                    cut = _LAST_WORD_START.match(text)
                    end = cut.end() if cut else 0
                    if not end and len(text) >= 4 * chunk_chars:
                        end = len(text)
                    if end:
                        yield text[:end]
                    carry = text[end:]
        except UnicodeDecodeError as err:
            raise CorpusError(f"{path} is not UTF-8 text ({err.reason}); convert it to UTF-8 first") from err
    if carry:
        yield carry


def survey(files: list[Path], sample_chars: int | None) -> Survey:
    """One streaming pass: the character set, the character count and the first ``sample_chars``
    characters (``None``: all of them, ``0``: no sample)."""
    result, sample, sampled = Survey(), [], 0
    for chunk in read_chunks(files):
        result.chars.update(chunk)
        result.n_chars += len(chunk)
        if sample_chars is None or sampled < sample_chars:
            sample.append(chunk)
            sampled += len(chunk)
    result.sample = "".join(sample)[:sample_chars]
    if not result.n_chars:
        raise CorpusError("the inputs are empty; pass files with training text")
    return result


def token_dtype(vocab_size: int) -> np.dtype:
    """uint16 when every id fits (vocabularies up to 65,536), uint32 otherwise."""
    return np.dtype(np.uint16 if vocab_size <= 1 << 16 else np.uint32)


_worker: dict = {}
PARENT_POLL_S = 0.2  # how often a worker checks that the process that started it is still alive


def max_workers() -> int:
    """The most encoding processes ``prepare`` starts: 4 per core (at least 8); more only cost memory."""
    return max(8, 4 * (os.cpu_count() or 1))


def check_workers(workers: int | None) -> None:
    """``workers`` must be None (every core) or a whole number from 0 (every core) to ``max_workers()``."""
    top = max_workers()
    require(workers is None or (isinstance(workers, int) and not isinstance(workers, bool) and 0 <= workers <= top),
            lambda n: f"{n('workers')} must be a whole number from 0 (one per core) to {top} (4 per core; got "
                      f"{workers!r})")


def _exit_with_parent(parent: int) -> None:
    """End this worker as soon as ``parent`` is gone, however it ended (even ``kill -9``): a worker left
    behind would wait for work forever."""
    def watch() -> None:
        ppid = os.getppid()
        while True:
            time.sleep(PARENT_POLL_S)
            try:
                os.kill(parent, 0)
            except ProcessLookupError:
                os._exit(1)
            except OSError:
                pass  # alive, but ours to signal no longer (should not happen)
            if os.getppid() != ppid:  # reparented: the process that started us is gone
                os._exit(1)

    threading.Thread(target=watch, name="mygpt-parent-watch", daemon=True).start()


def _start_worker(tokenizer, dtype: np.dtype, parent: int | None = None) -> None:
    if parent is not None:  # a worker process: Ctrl-C reaches the whole process group, the parent handles it
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        _exit_with_parent(parent)
    _worker.clear()  # a forked worker inherits what an earlier encoding in its parent left here
    _worker.update(tokenizer=tokenizer, dtype=dtype)
    if isinstance(tokenizer, CharTokenizer):  # a table indexed by code point: 100x faster than a dict loop
        points = [ord(c) for c in tokenizer.chars]
        _worker["table"] = np.zeros(max(points) + 1, dtype=dtype)
        _worker["table"][points] = np.arange(len(points))


def _encode(text: str) -> tuple[int, np.ndarray]:
    """One chunk's length and its ids in the shard dtype (in a worker process)."""
    if "table" in _worker:
        return len(text), _worker["table"][np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)]
    return len(text), _worker["tokenizer"].encode_corpus(text).numpy().astype(_worker["dtype"])


def encode_stream(chunks: Iterable[str], tokenizer, dtype: np.dtype,
                  workers: int) -> Iterator[tuple[int, np.ndarray]]:
    """``(characters, ids)`` per chunk, in order, encoded on ``workers`` processes with at most
    ``2 * workers`` chunks in flight (so memory does not grow with the corpus).

    The workers end with this process: they ignore Ctrl-C (this process stops them), queued chunks
    are cancelled on any exception, and each worker exits by itself if this process is killed.
    """
    check_workers(workers)
    if workers <= 1:
        _start_worker(tokenizer, dtype)
        yield from map(_encode, chunks)
        return
    pool = ProcessPoolExecutor(workers, initializer=_start_worker, initargs=(tokenizer, dtype, os.getpid()))
    try:
        pending = []
        for chunk in chunks:
            pending.append(pool.submit(_encode, chunk))
            if len(pending) >= 2 * workers:
                yield pending.pop(0).result()
        for future in pending:
            yield future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


class _ShardWriter:
    """Appends tokens to ``tokens-NNNNN.bin`` files of at most ``shard_tokens`` tokens each."""

    def __init__(self, out: Path, shard_tokens: int):
        self.out, self.shard_tokens = out, shard_tokens
        self.sizes: list[int] = []
        self.file = None

    def write(self, ids: np.ndarray) -> None:
        while len(ids):
            if self.file is None or self.sizes[-1] == self.shard_tokens:
                self._next_file()
            room = self.shard_tokens - self.sizes[-1]
            self.file.write(ids[:room].tobytes())
            self.sizes[-1] += len(ids[:room])
            ids = ids[room:]

    def _next_file(self) -> None:
        self.close()
        self.file = open(self.out / f"tokens-{len(self.sizes):05d}.bin", "wb")  # noqa: SIM115 - see close()
        self.sizes.append(0)

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


def _split_shards(out: Path, sizes: list[int], n_train: int, dtype: np.dtype) -> dict[str, list[dict]]:
    """Rename the token files into train and val shards at token ``n_train``; only the straddling file's
    tail is copied (into the first val shard)."""
    split: dict[str, list[dict]] = {"train": [], "val": []}

    def add(part: str, tokens: int) -> Path:
        name = f"{part}-{len(split[part]):05d}.bin"
        split[part].append({"file": name, "tokens": tokens})
        return out / name

    start = 0
    for i, size in enumerate(sizes):
        path = out / f"tokens-{i:05d}.bin"
        head = min(max(n_train - start, 0), size)
        start += size
        if head == 0:
            os.replace(path, add("val", size))
            continue
        if head < size:
            np.fromfile(path, dtype=dtype, offset=head * dtype.itemsize).tofile(add("val", size - head))
            os.truncate(path, head * dtype.itemsize)
        os.replace(path, add("train", head))
    return split


PREPARED_FOLDER = OutputKind("a prepared folder", "prepared folders", lambda path: not any(os.scandir(path)),
                             CorpusError, folder=True,
                             refusal="already exists and is not an empty folder; choose a new {choose} folder "
                                     "(prepare never overwrites)")


def prepare(inputs: Iterable[str], out: str, tokenizer: str = "char", num_merges: int = 1024,
            bpe_train_bytes: int = DEFAULT_BPE_TRAIN_BYTES, val_split: float = 0.0,
            workers: int | None = None, shard_tokens: int = SHARD_TOKENS,
            progress: Callable[[int, int], None] | None = None) -> dict:
    """Tokenize ``inputs`` into the new directory ``out``; return the metadata written to ``meta.json``.

    Two streaming passes: a survey (characters, size, BPE sample), then encoding on ``workers``
    processes (default: every core). ``progress(done, total)`` is called as each chunk is
    written (a progress bar). Memory holds the BPE sample and a few chunks per worker, never the corpus.

    The folder is written the guarded way (``files.outputs.write_directory``): ``out`` must be new or
    empty, a second ``prepare`` into it is refused while this one runs (``<out>.lock``), and the files
    are written under a temporary name beside ``out`` that becomes ``out`` only once complete, so an
    interrupted run leaves nothing behind.
    """
    check_corpus_options(tokenizer, num_merges, bpe_train_bytes, val_split)
    check_workers(workers)
    kind = tokenizer_for(tokenizer)
    files = text_files(inputs)
    result = {}

    def fill(folder: str) -> None:
        result.update(_prepare_into(Path(folder), files, tokenizer, kind, num_merges, bpe_train_bytes,
                                    val_split, workers, shard_tokens, progress))

    write_directory(out, PREPARED_FOLDER, fill, setting="out")
    return result


def _prepare_into(out_dir: Path, files: list[Path], tokenizer: str, kind: type[Tokenizer], num_merges: int,
                  bpe_train_bytes: int, val_split: float, workers: int | None, shard_tokens: int,
                  progress: Callable[[int, int], None] | None) -> dict:
    """``prepare``'s work, into the (temporary) folder ``out_dir``."""
    found = survey(files, (bpe_train_bytes or None) if kind.learns_merges else 0)
    tok = kind.learn(found.sample if kind.learns_merges else "".join(sorted(found.chars)), num_merges)
    dtype = token_dtype(tok.vocab_size)
    tok.save(str(out_dir / TOKENIZER_FILE))
    writer, done = _ShardWriter(out_dir, shard_tokens), 0
    try:
        for n_chars, ids in encode_stream(read_chunks(files), tok, dtype, workers or os.cpu_count() or 1):
            writer.write(ids)
            done += n_chars
            if progress is not None:
                progress(done, found.n_chars)
    finally:
        writer.close()
    n_tokens = sum(writer.sizes)
    n_train = int((1.0 - val_split) * n_tokens)
    meta = {"format": FORMAT, "tokenizer": tokenizer, "vocab_size": tok.vocab_size, "dtype": dtype.name,
            "chars": found.n_chars, "tokens": n_tokens, "val_split": val_split,
            "tokenizer_sha256": file_sha256(out_dir / TOKENIZER_FILE),
            "inputs": [str(f) for f in files], **_split_shards(out_dir, writer.sizes, n_train, dtype)}
    (out_dir / META).write_text(json.dumps(meta, indent=1))
    return meta
