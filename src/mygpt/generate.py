"""Autoregressive sampling (Ch.15): temperature, top-k, top-p, greedy decoding, stop tokens, streaming.

``stream`` is the one sampling loop: it yields each new position as soon as it is drawn. ``generate``
(the book's function) collects it. With the book's arguments every step is exactly the book's:
crop the context to the window, scale the last logits by ``1 / temperature``, keep the top k,
softmax, one multinomial draw, so seeded samples stay byte-identical. ``TextStream`` turns the ids
into text as they arrive and cuts it at stop strings.
"""

import math
import numbers
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F

from .errors import require
from .fast.weight_copies import kept_copies
from .model import check_ids


class Step(NamedTuple):
    """One generated position of every row.

    ``ids`` ``(B, 1)``: the tokens chosen. ``probs`` ``(B, V)``: the distribution they were drawn from,
    after temperature, top-k and top-p (one-hot when greedy). ``logits`` ``(B, V)``: the model's raw
    last-position logits, before any of these (their softmax is the model's own distribution).
    """

    ids: torch.Tensor
    probs: torch.Tensor
    logits: torch.Tensor


def check_sampling(temperature: float = 1.0, top_k: int | None = None, top_p: float | None = None,
                   max_new_tokens: int = 0) -> None:
    """Refuse impossible sampling settings with a ``ValueError`` (``ConfigError``) naming the fix."""
    require(isinstance(max_new_tokens, numbers.Integral) and max_new_tokens >= 0,
           lambda n: f"{n('max_new_tokens')} must be a whole number, 0 or more (got {max_new_tokens!r})")
    require(isinstance(temperature, numbers.Real) and math.isfinite(temperature) and temperature >= 0,
           lambda n: f"{n('temperature')} must be 0 (greedy: always the most likely token) or a positive "
                     f"number such as 0.8 (got {temperature!r})")
    require(top_k is None or (isinstance(top_k, numbers.Integral) and top_k >= 1),
           lambda n: f"{n('top_k')} must be at least 1 (got {top_k!r}); "
                     "None (in Python) samples from every token")
    require(top_p is None or (isinstance(top_p, numbers.Real) and 0 < top_p <= 1),
           lambda n: f"{n('top_p')} must be in (0, 1] (got {top_p!r}), e.g. 0.9 keeps the most likely "
                     "tokens that together hold 90% of the probability; 1 keeps all")


def _check_prompt(prompt_ids: torch.Tensor, vocab_size: int | None) -> None:
    """The model's own check of its ids (``model.check_ids``), and at least one token in every row."""
    check_ids("prompt_ids", prompt_ids, vocab_size)
    require(prompt_ids.shape[0] >= 1 and prompt_ids.shape[1] >= 1,
            f"prompt_ids is empty (shape {tuple(prompt_ids.shape)}); give every row at least one "
            "token to continue, e.g. the id of a newline")


def _scaled(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """``logits / temperature`` (Ch.15); a row whose quotient overflows (a temperature such as 1e-39) gets
    the limit of that division as the temperature goes to 0 instead: 0 for its largest logits, ``-inf``
    elsewhere, so the draw is greedy (ties shared) rather than NaN. Other rows are the book's, bit for bit."""
    scaled = logits / temperature
    overflowed = torch.isinf(scaled).any(dim=-1, keepdim=True) & torch.isfinite(logits).all(dim=-1, keepdim=True)
    limit = torch.where(logits == logits.max(dim=-1, keepdim=True).values, 0.0, float("-inf")).to(scaled.dtype)
    return torch.where(overflowed, limit, scaled)


def sample_next(logits: torch.Tensor, temperature: float = 1.0, top_k: int | None = None,
                top_p: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Choose the next token of each row from last-position ``logits`` ``(B, V)``: ``(ids (B, 1), probs (B, V))``.

    ``temperature`` 0 is greedy: the argmax, no random numbers drawn. Otherwise the logits are divided
    by ``temperature``; ``top_k`` keeps the k largest (ties with the k-th survive); ``top_p`` then keeps
    the most likely tokens whose probabilities add up to at least ``top_p`` (nucleus sampling); one
    multinomial draw follows. ``top_p=1`` (like ``None``) changes nothing. Does not modify ``logits``.
    """
    if temperature == 0:
        ids = logits.argmax(dim=-1, keepdim=True)
        return ids, torch.zeros_like(logits, dtype=torch.float32).scatter_(-1, ids, 1.0)
    logits = _scaled(logits, temperature)
    if top_k is not None:
        kth = torch.topk(logits, min(top_k, logits.shape[-1])).values[:, -1:]
        logits[logits < kth] = float("-inf")
    if top_p is not None and top_p < 1:
        sorted_probs, order = F.softmax(logits, dim=-1).sort(dim=-1, descending=True, stable=True)
        mass_before = sorted_probs.cumsum(dim=-1) - sorted_probs
        mass_before[:, 0] = 0.0  # the most likely token is always kept
        logits[torch.zeros_like(logits, dtype=torch.bool).scatter_(-1, order, mass_before >= top_p)] = float("-inf")
    probs = F.softmax(logits, dim=-1)
    return torch.multinomial(probs, num_samples=1), probs


def stream(model, prompt_ids: torch.Tensor, max_new_tokens: int, temperature: float = 1.0,
           top_k: int | None = None, use_cache: bool = False, *, top_p: float | None = None,
           stop_ids: Iterable[int] | None = None) -> Iterator[Step]:
    """Sample up to ``max_new_tokens`` tokens after ``prompt_ids`` ``(B, T0)``, yielding each ``Step`` as drawn.

    The arguments are ``generate``'s and are checked here, before the first step. Only the last
    ``model.max_seq_len`` tokens are kept as context, so memory does not grow with the length of the
    run (``max_new_tokens`` may be huge; stop consuming to end it). With ``stop_ids``, a row that has
    drawn one of them keeps repeating it, and the stream ends once every row has; rows still running
    draw exactly what they would draw without ``stop_ids``. Puts the model in eval mode when the first
    step is drawn.
    """
    vocab_size = getattr(model, "vocab_size", None)
    _check_prompt(prompt_ids, vocab_size)
    check_sampling(temperature, top_k, top_p, max_new_tokens)
    stops = None
    if stop_ids is not None:
        stops = torch.as_tensor(list(stop_ids), dtype=torch.long, device=prompt_ids.device)
        check_ids("stop_ids", stops, vocab_size, rows=False)
    return _steps(model, prompt_ids, max_new_tokens, temperature, top_k, top_p, use_cache, stops)


@torch.no_grad()
def _steps(model, ids: torch.Tensor, max_new_tokens: int, temperature: float, top_k: int | None,
           top_p: float | None, use_cache: bool, stops: torch.Tensor | None) -> Iterator[Step]:
    """The sampling loop of Ch.15. ``ids`` is the context window; ``length`` counts every token so far.

    The cache holds the positions fed so far while the sequence fits the window; once it would crop,
    every position of the window shifts, so from then on each step recomputes the window in full.
    """
    model.eval()
    window_len = model.max_seq_len
    length = ids.shape[1]
    cache = model.new_cache() if use_cache else None
    done = None
    with kept_copies(model):  # the weights stay as they are while this stream draws
        for _ in range(max_new_tokens):
            if cache is not None and length <= window_len:
                logits, _ = model(ids[:, cache.length:], cache=cache)
            else:
                logits, _ = model(ids[:, -window_len:])
            logits = logits[:, -1, :]
            next_ids, probs = sample_next(logits, temperature, top_k, top_p)
            if stops is not None:
                if done is not None:
                    next_ids = torch.where(done, ids[:, -1:], next_ids)  # a stopped row repeats its stop id
                done = torch.isin(next_ids, stops)
            ids = torch.cat([ids[:, -window_len:], next_ids], dim=1)
            length += 1
            yield Step(next_ids, probs, logits)
            if done is not None and bool(done.all()):
                return


def generate(model, prompt_ids: torch.Tensor, max_new_tokens: int, temperature: float = 1.0,
             top_k: int | None = None, use_cache: bool = False, *, top_p: float | None = None,
             stop_ids: Iterable[int] | None = None) -> torch.Tensor:
    """Append up to ``max_new_tokens`` sampled tokens to ``prompt_ids`` ``(B, T0)``; returns ``(B, T0 + n)``.

    The context is cropped to the last ``model.max_seq_len`` tokens, and every sampling step draws
    exactly one multinomial sample per row (even with ``top_k=1``), so seeded runs reproduce the
    book's samples. ``temperature=0`` is greedy decoding (argmax, no random numbers drawn); ``top_p``
    adds nucleus sampling after top-k. With ``stop_ids`` the result ends at the step where the last
    row drew a stop id; rows that stopped earlier are padded with their stop id. Leaves the model in
    eval mode.

    ``use_cache=True`` feeds only the new token at each step and reuses the keys and values of earlier
    positions (same function, float-rounding close, not bit-identical). Once the context would crop,
    every position of the window shifts, so from then on each step recomputes the window in full.
    """
    steps = [step.ids for step in stream(model, prompt_ids, max_new_tokens, temperature, top_k, use_cache,
                                         top_p=top_p, stop_ids=stop_ids)]
    return torch.cat([prompt_ids, *steps], dim=1)


def check_stops(stop: Sequence[str]) -> None:
    """Stop strings must each be some text: an empty one would end every sample before it began."""
    require("" not in stop, lambda n: f"{n('stop')} strings must not be empty; give the text that should end "
                                      "generation, e.g. a blank line")


class TextStream:
    """The text of token ids arriving one at a time, released piece by piece and cut at stop strings.

    ``push(id)`` returns the text that can be shown now; the pieces joined are ``decode`` of all the ids
    (the char and BPE tokenizers decode each id to a whole string; a byte-level tokenizer's id can end
    inside a character, which is held until the character is complete). Text that could be the start
    of a stop string is held back until it is known not to be one. Once a stop string appears,
    ``stopped`` is set and the text before it is the last piece: the stop string itself is not shown.
    """

    _INCOMPLETE = "\ufffd"  # what a byte-level decoder shows for a character cut in the middle
    _MAX_CHAR_TOKENS = 4  # a UTF-8 character has at most 4 bytes, so at most 4 tokens

    def __init__(self, decode: Callable[[list[int]], str], stop: Sequence[str] = ()):
        check_stops(stop)
        self.decode = decode
        self.stop = list(stop)
        self.stopped = False
        self._ids: list[int] = []
        self._held = ""

    def push(self, token_id: int) -> str:
        """Add one token id; return the text it releases (possibly empty)."""
        self._ids.append(int(token_id))
        text = self.decode(self._ids)
        if text.endswith(self._INCOMPLETE) and len(self._ids) < self._MAX_CHAR_TOKENS:
            return ""
        self._ids = []
        return self._release(self._held + text)

    def finish(self) -> str:
        """The text still held back, at the end of the stream."""
        text = self.decode(self._ids) if self._ids else ""
        self._ids = []
        released = self._release(self._held + text)
        released, self._held = released + self._held, ""
        return released

    def _release(self, text: str) -> str:
        found = [i for i in (text.find(s) for s in self.stop) if i >= 0]
        if found:
            self.stopped, self._held = True, ""
            return text[:min(found)]
        keep = next((k for k in range(min(len(text), max(map(len, self.stop), default=1) - 1), 0, -1)
                     if any(s.startswith(text[-k:]) for s in self.stop)), 0)
        self._held = text[len(text) - keep:]
        return text[:len(text) - keep]
