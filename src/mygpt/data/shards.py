"""Reading a folder written by ``mygpt prepare``: token shards served window by window to ``get_batch``."""

import bisect
import hashlib
import json
from pathlib import Path

import numpy as np
import torch

from ..errors import CorpusError
from ..tokenizer import TOKENIZERS, load_tokenizer_file
from ..utils import file_sha256

META = "meta.json"


TOKENIZER_FILE = "tokenizer.json"


FORMAT = 1



class TokenShards:
    """One split of a prepared directory as a sequence of tokens that ``get_batch`` can slice.

    ``shards[i : i + n]`` reads those tokens from the shard files (across a file boundary if need
    be) as a CPU int64 tensor; ``windows`` gives ``get_batch`` a batch on ``device``. Each window is a
    positioned read of its own bytes, so only the windows drawn are ever in this process's memory and
    the operating system's page cache keeps the hot parts of the files. (A memory map would do the
    same work but count as resident every page it has touched, and Linux maps whole cached folios,
    up to megabytes, around each touched page: resident memory would creep up to the corpus size.)
    """

    def __init__(self, folder: str | Path, shards: list[dict], dtype: str, device: torch.device | str = "cpu",
                 vocab_size: int | None = None):
        self.folder, self.shards, self.dtype = Path(folder), shards, np.dtype(dtype)
        self.device, self.vocab_size = torch.device(device), vocab_size
        self.starts = np.cumsum([0] + [s["tokens"] for s in shards]).tolist()
        self._files = [open(self.folder / s["file"], "rb", buffering=0) for s in shards]  # noqa: SIM115

    def __len__(self) -> int:
        return self.starts[-1]

    def to(self, device: torch.device | str) -> "TokenShards":
        """The same tokens, served on ``device`` (a tensor's ``.to``, so callers need not tell them apart)."""
        return TokenShards(self.folder, self.shards, self.dtype.name, device, self.vocab_size)

    def _read(self, shard: int, begin: int, end: int) -> bytes:
        f = self._files[shard]
        f.seek(begin * self.dtype.itemsize)
        return f.read((end - begin) * self.dtype.itemsize)

    def __getitem__(self, index: slice) -> torch.Tensor:
        if not isinstance(index, slice) or index.step not in (None, 1):
            raise TypeError("TokenShards supports contiguous slices only, e.g. shards[i : i + n]")
        start, stop, _ = index.indices(len(self))
        shard = bisect.bisect_right(self.starts, start) - 1
        pieces = []
        while start < stop:
            end = min(stop, self.starts[shard + 1])
            pieces.append(self._read(shard, start - self.starts[shard], end - self.starts[shard]))
            start, shard = end, shard + 1
        return torch.from_numpy(np.frombuffer(b"".join(pieces), dtype=self.dtype).astype(np.int64))

    def fingerprint(self) -> str:
        """A digest of the shards' names and sizes (reading a corpus bigger than memory to hash it would
        cost a pass over it at every start)."""
        listing = json.dumps([[s["file"], s["tokens"]] for s in self.shards]) + self.dtype.name
        return hashlib.sha256(listing.encode()).hexdigest()[:16]

    def windows(self, starts: torch.Tensor, seq_len: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs and next-token targets of the windows at ``starts`` on ``device``: one read per window."""
        rows = torch.stack([self[i : i + seq_len + 1] for i in starts.tolist()])
        if self.vocab_size is not None and rows.numel() and int(rows.max()) >= self.vocab_size:
            raise CorpusError(f"{self.folder} holds the token id {int(rows.max())}, outside its vocabulary of "
                              f"{self.vocab_size:,}: a shard was changed after `mygpt prepare`; prepare it again")
        rows = rows.to(self.device)
        return rows[:, :-1].contiguous(), rows[:, 1:].contiguous()


def is_prepared(path: str | None) -> bool:
    """Whether ``path`` is a folder written completely by ``prepare`` (its ``meta.json`` comes last)."""
    return path is not None and (Path(path) / META).is_file()


DTYPES = ("uint16", "uint32")


def _whole(value, minimum: int = 0) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _fail(folder: Path, problem: str) -> CorpusError:
    return CorpusError(f"{folder} is not a usable `mygpt prepare` folder: {problem}; prepare it again into a "
                       "new folder")


def read_meta(folder: str | Path) -> dict:
    """``meta.json`` of a prepared folder, checked: its types, its shard list (plain file names inside the
    folder) and its token counts against each other. Keys a newer mygpt may add are kept as they are."""
    folder = Path(folder)
    try:
        meta = json.loads((folder / META).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:  # missing, unreadable, not UTF-8, not JSON
        raise _fail(folder, f"cannot read {META} ({getattr(err, 'strerror', None) or err})") from err
    if not isinstance(meta, dict):
        raise _fail(folder, f"{META} is not a JSON object")
    if meta.get("format") != FORMAT:
        newer = _whole(meta.get("format")) and meta["format"] > FORMAT
        raise _fail(folder, f"{META} has format {meta.get('format')!r}"
                    + ("; it was written by a newer mygpt (upgrade mygpt to read it)" if newer else
                       f", this mygpt reads format {FORMAT}"))
    if meta.get("tokenizer") not in TOKENIZERS:
        raise _fail(folder, f"{META} names the tokenizer {meta.get('tokenizer')!r} (expected one of "
                            f"{', '.join(TOKENIZERS)})")
    if meta.get("dtype") not in DTYPES or not _whole(meta.get("vocab_size"), 1):
        raise _fail(folder, f"{META} needs a vocab_size of 1 or more and a dtype of {' or '.join(DTYPES)}")
    if meta["vocab_size"] > np.iinfo(np.dtype(meta["dtype"])).max + 1:
        raise _fail(folder, f"{META}: vocab_size {meta['vocab_size']} does not fit its dtype {meta['dtype']}")
    for part in ("train", "val"):
        shards = meta.get(part)
        if not isinstance(shards, list) or not all(
                isinstance(s, dict) and isinstance(s.get("file"), str) and _whole(s.get("tokens"))
                for s in shards):
            raise _fail(folder, f"{META}: {part} must be a list of {{file, tokens}} entries")
        for shard in shards:
            name = shard["file"]
            if not name or name != Path(name).name or name.startswith(".") or name in (META, TOKENIZER_FILE):
                raise _fail(folder, f"{META} names the shard {name!r}, which is not a shard file inside the folder")
    if not _whole(meta.get("tokens")) or meta["tokens"] != sum(s["tokens"] for p in ("train", "val")
                                                               for s in meta[p]):
        raise _fail(folder, f"{META}: tokens {meta.get('tokens')!r} is not the sum of its shards' tokens")
    return meta


def _check_shards(folder: Path, meta: dict) -> None:
    """Every shard a regular file inside the folder, of exactly its tokens' bytes."""
    itemsize, root = np.dtype(meta["dtype"]).itemsize, folder.resolve()
    for part in ("train", "val"):
        for shard in meta[part]:
            path = folder / shard["file"]
            if not path.is_file() or path.resolve().parent != root:
                raise _fail(folder, f"its {part} shard {shard['file']} is missing or not a file inside the folder")
            size, expected = path.stat().st_size, shard["tokens"] * itemsize
            if size != expected:
                raise _fail(folder, f"its {part} shard {shard['file']} has {size:,} bytes but {META} promises "
                                    f"{shard['tokens']:,} {meta['dtype']} tokens ({expected:,} bytes): truncated "
                                    "or replaced")


def _load_tokenizer(folder: Path, meta: dict):
    """The folder's ``tokenizer.json``, checked to be the one ``prepare`` wrote with these shards."""
    path = folder / TOKENIZER_FILE
    try:
        digest = file_sha256(path)
        tokenizer = load_tokenizer_file(str(path), meta["tokenizer"])
    except (OSError, ValueError, TypeError) as err:
        raise _fail(folder, f"cannot read its {TOKENIZER_FILE} as a {meta['tokenizer']} tokenizer "
                            f"({getattr(err, 'strerror', None) or err})") from err
    expected = meta.get("tokenizer_sha256")
    if tokenizer.vocab_size != meta["vocab_size"]:
        raise _fail(folder, f"its {TOKENIZER_FILE} is not the one its shards were made with (vocabulary "
                            f"{tokenizer.vocab_size:,}, {META} says {meta['vocab_size']:,})")
    if expected is not None and digest != expected:
        raise _fail(folder, f"its {TOKENIZER_FILE} is not the one its shards were made with (its SHA-256 "
                            f"differs from the one {META} recorded)")
    return tokenizer


def load_prepared(folder: str | Path, device: torch.device | str = "cpu") -> tuple[object, dict, TokenShards,
                                                                                    TokenShards | None]:
    """``(tokenizer, meta, train, val)`` of a prepared folder; ``val`` is None when it has no val tokens.

    Everything is checked before any training (``read_meta``, the shards' sizes, the tokenizer
    against the shards); a problem raises ``CorpusError`` naming the folder, the file and the fix.
    The token ids themselves are checked against the vocabulary as windows are read.
    """
    folder = Path(folder)
    meta = read_meta(folder)
    _check_shards(folder, meta)
    tokenizer = _load_tokenizer(folder, meta)
    train_shards = TokenShards(folder, meta["train"], meta["dtype"], device, meta["vocab_size"])
    if not len(train_shards):
        raise _fail(folder, "it holds no training tokens")
    val = TokenShards(folder, meta["val"], meta["dtype"], device, meta["vocab_size"])
    return tokenizer, meta, train_shards, val if len(val) else None
