"""Held-out evaluation: a model's mean loss over a whole text, as perplexity and bits per character.

The text is cut into consecutive, non-overlapping windows of ``seq_len`` inputs, each predicting its
next ``seq_len`` tokens, so every token after the first is predicted exactly once, from at most
``seq_len`` tokens of context (the last window may be shorter). The loss of a window is the model's
own cross-entropy (Ch.13); the mean is weighted by tokens.
"""

import math
from dataclasses import dataclass

import torch

from ..errors import require
from ..fast.weight_copies import kept_copies
from ..utils import evaluating


def text_unit(tokenizer) -> str:
    """``"byte"`` for a byte-level tokenizer (``tokenizer.byte_level`` is true), else ``"char"``."""
    return "byte" if getattr(tokenizer, "byte_level", False) else "char"


def count_units(text: str, unit: str) -> int:
    """Length of ``text`` in characters or in UTF-8 bytes."""
    return len(text.encode("utf-8")) if unit == "byte" else len(text)


@dataclass(frozen=True)
class Evaluation:
    """The result of ``evaluate``: mean loss in nats per token, over ``tokens`` predicted tokens."""

    loss: float
    tokens: int
    windows: int
    seq_len: int

    @property
    def perplexity(self) -> float:
        return math.exp(self.loss)

    def bits_per_unit(self, units: int) -> float:
        """Bits per character (or byte) when the predicted tokens spell ``units`` characters (bytes)."""
        return self.loss * self.tokens / units / math.log(2)


def windows(ids: torch.Tensor, seq_len: int) -> list[tuple[int, int]]:
    """``(start, length)`` of each non-overlapping window: inputs ``ids[start:start+length]``."""
    n = len(ids) - 1
    return [(start, min(seq_len, n - start)) for start in range(0, n, seq_len)]


def evaluate(model, ids: torch.Tensor, seq_len: int, batch_size: int = 32, progress: bool = False
             ) -> Evaluation:
    """Mean next-token loss of ``model`` over all of ``ids`` (1-D), in eval mode.

    Windows of equal length are batched ``batch_size`` at a time; ``progress=True`` shows a bar on
    stderr. The losses are summed in float64, so the mean does not depend on the batching.
    """
    from tqdm import tqdm  # the bar is the only user; the library imports without tqdm

    window = model.max_seq_len
    require(1 <= seq_len <= window,
            lambda n: f"{n('seq_len')} must be in 1..{window}, the model's context window (got {seq_len})")
    require(batch_size >= 1, lambda n: f"{n('batch_size')} must be at least 1 (got {batch_size})")
    require(ids.dim() == 1, f"ids must be a 1-D tensor of token ids (got shape {tuple(ids.shape)})")
    require(len(ids) >= 2, f"the text has {len(ids)} token(s); evaluation needs at least 2 (one to read, one "
                           "to predict)")
    spans = windows(ids, seq_len)
    batches = [spans[i:i + batch_size] for i in range(0, len(spans), batch_size)]
    batches = [[s for s in batch if s[1] == length] for batch in batches
               for length in dict.fromkeys(s[1] for s in batch)]  # a short last window goes alone
    device = model.token_embedding.embedding.weight.device
    total, tokens = 0.0, 0
    with evaluating(model), kept_copies(model):
        for batch in tqdm(batches, desc="eval", unit="batch", disable=not progress, leave=False):
            x = torch.stack([ids[s:s + n] for s, n in batch]).to(device)
            y = torch.stack([ids[s + 1:s + 1 + n] for s, n in batch]).to(device)
            _, loss = model(x, y)
            total += loss.double().item() * y.numel()
            tokens += y.numel()
    return Evaluation(total / tokens, tokens, len(spans), seq_len)
