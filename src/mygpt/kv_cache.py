"""Keys and values of earlier positions, kept for incremental decoding (the KV cache).

During generation every new token attends to the keys and values of all earlier tokens. Those do not
change while the context window only grows, so they are computed once and appended here instead of
being recomputed from the whole context at every step. Buffers are allocated once per layer at the
model's ``max_seq_len`` and filled left to right; a cache is only valid until the window would crop.
"""

import torch


class LayerKVCache:
    """One attention layer's keys and values ``(B, h_kv, length, d)`` inside preallocated buffers."""

    def __init__(self, max_seq_len: int):
        self.max_seq_len = max_seq_len
        self.length = 0
        self._k: torch.Tensor | None = None
        self._v: torch.Tensor | None = None

    def append(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store ``k``, ``v`` ``(B, h_kv, T, d)`` after the cached positions; return all keys and values."""
        start, end = self.length, self.length + k.shape[2]
        if end > self.max_seq_len:
            raise ValueError(f"KV cache holds at most max_seq_len={self.max_seq_len} positions, got {end}")
        if self._k is None:
            shape = (k.shape[0], k.shape[1], self.max_seq_len, k.shape[3])
            self._k = k.new_empty(shape)
            self._v = v.new_empty(shape)
        self._k[:, :, start:end] = k
        self._v[:, :, start:end] = v
        self.length = end
        return self._k[:, :, :end], self._v[:, :, :end]


class KVCache:
    """The per-layer caches of one ``GPT``; ``length`` counts the positions already processed.

    ``GPT.forward(ids, cache=cache)`` reads ``length`` as the position of ``ids[:, 0]`` and advances it.
    """

    def __init__(self, num_layers: int, max_seq_len: int):
        self.max_seq_len = max_seq_len
        self.length = 0
        self.layers = [LayerKVCache(max_seq_len) for _ in range(num_layers)]
