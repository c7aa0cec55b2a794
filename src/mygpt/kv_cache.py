"""Keys and values of earlier positions, kept for incremental decoding (the KV cache).

During generation every new token attends to the keys and values of all earlier tokens. Those do not
change while the context window only grows, so they are computed once and stored here instead of
being recomputed from the whole context at every step. Each layer's buffers are allocated once, at
the model's ``max_seq_len``, and filled left to right; a cache is only valid until the window would
crop (``generate`` then recomputes the window).
"""

import torch


class LayerKVCache:
    """One attention layer's keys and values ``(B, h_kv, positions, d)`` in preallocated buffers."""

    def __init__(self, max_seq_len: int):
        self.max_seq_len = max_seq_len
        self._k: torch.Tensor | None = None
        self._v: torch.Tensor | None = None

    def store(self, k: torch.Tensor, v: torch.Tensor, past: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Write ``k``, ``v`` ``(B, h_kv, T, d)`` at positions ``past..past+T-1``; return positions ``0..past+T-1``."""
        end = past + k.shape[2]
        if end > self.max_seq_len:
            raise ValueError(f"KV cache holds at most max_seq_len={self.max_seq_len} positions, got {end}")
        if self._k is None:
            shape = (k.shape[0], k.shape[1], self.max_seq_len, k.shape[3])
            self._k, self._v = k.new_empty(shape), v.new_empty(shape)
        self._k[:, :, past:end] = k
        self._v[:, :, past:end] = v
        return self._k[:, :, :end], self._v[:, :, :end]


class KVCache:
    """The per-layer caches of one ``GPT`` and ``length``, the one count of positions already processed.

    ``GPT.forward(ids, cache=cache)`` places ``ids[:, 0]`` at position ``length`` and advances
    ``length`` by ``ids.shape[1]`` once every layer has stored its keys and values.
    """

    def __init__(self, num_layers: int, max_seq_len: int):
        self.length = 0
        self.layers = [LayerKVCache(max_seq_len) for _ in range(num_layers)]
