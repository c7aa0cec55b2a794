"""Reading a folder written by ``mygpt prepare``: token shards served window by window to ``get_batch``."""

import bisect
import hashlib
import json
from pathlib import Path

import numpy as np
import torch

from ..errors import CorpusError
from ..tokenizer import tokenizer_for

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

    def __init__(self, folder: str | Path, shards: list[dict], dtype: str, device: torch.device | str = "cpu"):
        self.folder, self.shards, self.dtype = Path(folder), shards, np.dtype(dtype)
        self.device = torch.device(device)
        self.starts = np.cumsum([0] + [s["tokens"] for s in shards]).tolist()
        self._files = [open(self.folder / s["file"], "rb", buffering=0) for s in shards]  # noqa: SIM115

    def __len__(self) -> int:
        return self.starts[-1]

    def to(self, device: torch.device | str) -> "TokenShards":
        """The same tokens, served on ``device`` (a tensor's ``.to``, so callers need not tell them apart)."""
        return TokenShards(self.folder, self.shards, self.dtype.name, device)

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
        rows = torch.stack([self[i : i + seq_len + 1] for i in starts.tolist()]).to(self.device)
        return rows[:, :-1].contiguous(), rows[:, 1:].contiguous()


def is_prepared(path: str | None) -> bool:
    """Whether ``path`` is a folder written completely by ``prepare`` (its ``meta.json`` comes last)."""
    return path is not None and (Path(path) / META).is_file()


def load_prepared(folder: str | Path, device: torch.device | str = "cpu") -> tuple[object, dict, TokenShards,
                                                                                    TokenShards | None]:
    """``(tokenizer, meta, train, val)`` of a prepared folder; ``val`` is None when it has no val tokens."""
    folder = Path(folder)
    try:
        meta = json.loads((folder / META).read_text())
        tokenizer = tokenizer_for(meta["tokenizer"]).load(str(folder / TOKENIZER_FILE))
        splits = {part: TokenShards(folder, meta[part], meta["dtype"], device) for part in ("train", "val")}
    except (OSError, KeyError, ValueError) as err:
        raise CorpusError(f"{folder} is not a complete `mygpt prepare` folder ({err}); prepare it again "
                          "into a new folder") from err
    return tokenizer, meta, splits["train"], splits["val"] if len(splits["val"]) else None

