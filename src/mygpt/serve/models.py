"""The checkpoints a server holds, and what the page asks of them: pieces, sampled tokens, attention.

Each checkpoint is loaded once through the library's loader (``checkpoint.read_checkpoint`` and
``rebuild``, so a bad file is refused at start). Sampling runs on the fast path with the KV cache
(``fast.prepare_fast``, ``generate.stream(use_cache=True)``), or on the book's exact path when asked;
every request draws from a generator of its own (``utils.seeded_generator``), so concurrent requests
keep their seeds' streams. The attention maps come from a twin of the model on the exact path that
shares its weights (the fast kernels never form the attention matrix) and is used by one request at
a time, since ``attention_weights`` reads it through hooks.
"""

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

from ..analysis.attention_weights import attention_weights
from ..analysis.model_card import model_card
from ..checkpoint import read_checkpoint, rebuild
from ..errors import ConfigError
from ..fast import prepare_fast
from ..generate import TextStream, check_sampling, step_report, stream
from ..model import GPT
from ..tokenizer import ByteBPETokenizer
from ..utils import MAX_SEED, seeded_generator

ATTENTION_DIGITS = 6  # attention weights are sent rounded to this many decimals


@dataclass(frozen=True)
class Limits:
    """What one request may ask, and how many generations may run at once (``mygpt serve`` flags)."""

    max_prompt_chars: int = 4000
    max_new_tokens: int = 1000
    max_concurrent: int = 32

    def __post_init__(self):
        for name in ("max_prompt_chars", "max_new_tokens", "max_concurrent"):
            value = getattr(self, name)
            if not value >= 1:
                raise ConfigError(lambda n, name=name, value=value: f"{n(name)} must be at least 1 (got {value})")

    @property
    def max_body_bytes(self) -> int:
        """A request body: a prompt of the largest size, 4 bytes a character, plus room for the rest."""
        return 4 * self.max_prompt_chars + 16 * (self.max_prompt_chars + self.max_new_tokens) + 4096


@dataclass(frozen=True)
class Sampling:
    """One generation request's settings, checked when built (``ConfigError`` names the field)."""

    max_new_tokens: int = 200
    temperature: float = 1.0
    top_k: int | None = 10
    top_p: float | None = None
    seed: int = 0
    alternatives: int = 5

    def __post_init__(self):
        check_sampling(self.temperature, self.top_k, self.top_p, self.max_new_tokens)
        if not (isinstance(self.seed, int) and 0 <= self.seed <= MAX_SEED):
            raise ConfigError(lambda n: f"{n('seed')} must be a whole number from 0 to {MAX_SEED} (got {self.seed!r})")
        if not 1 <= self.alternatives <= 50:
            raise ConfigError(lambda n: f"{n('alternatives')} must be from 1 to 50 (got {self.alternatives})")


class ServedModel:
    """A checkpoint ready to serve: ``name``, ``path``, ``model`` (samples), ``tokenizer``, ``card``."""

    def __init__(self, name: str, path: str, device: torch.device, fast: bool = True):
        ckpt = read_checkpoint(path)
        model, self.tokenizer = rebuild(ckpt, path)
        self.name, self.path, self.device, self.fast = name, path, device, fast
        self.card = {"name": name, **model_card(ckpt, model, self.tokenizer, path),
                     "path": "fast (KV cache)" if fast else "exact (the book's)"}
        self.model = model.to(device).eval()
        if fast:
            prepare_fast(self.model)
        self.exact = GPT.from_config(model.config).to(device).eval()
        self.exact.load_state_dict(self.model.state_dict(), assign=True)  # the same tensors, not a copy
        self.exact.set_fast(False)
        self._attention_lock = threading.Lock()

    @property
    def window(self) -> int:
        """The context window: the most tokens the model sees at once."""
        return self.model.max_seq_len

    def encode(self, text: str) -> torch.Tensor:
        """The 1-D token ids of ``text``; characters the tokenizer never saw raise ``ConfigError``."""
        self.tokenizer.check_known(text, "the prompt", "use only characters from the training text")
        return self.tokenizer.encode(text)

    def piece(self, token_id: int) -> str:
        """How the tokenizer writes one token: a character, a BPE merge, or a byte-level symbol (``Ġthe``)."""
        if isinstance(self.tokenizer, ByteBPETokenizer):
            return self.tokenizer.tokenizer.id_to_token(token_id)
        return self.tokenizer.decode([token_id])

    def pieces(self, ids: list[int]) -> list[dict]:
        """``{"id", "piece", "text"}`` per token: ``text`` is the token decoded alone."""
        return [{"id": i, "piece": self.piece(i), "text": self.tokenizer.decode([i])} for i in ids]

    def check_ids(self, ids: list[int]) -> None:
        """Token ids sent by a client must be whole numbers inside the vocabulary."""
        vocab = self.tokenizer.vocab_size
        if not ids or not all(isinstance(i, int) and not isinstance(i, bool) and 0 <= i < vocab for i in ids):
            raise ConfigError(f"ids must be a non-empty list of token ids from 0 to {vocab - 1}")

    def sample(self, prompt_ids: torch.Tensor, settings: Sampling) -> Iterator[dict]:
        """Sample after ``prompt_ids`` (1-D), yielding one report per token (``generate.step_report``).

        Each report adds ``step`` (from 1) and ``text``: the text the token releases (a byte-level
        token that ends inside a character releases it with the next one). Closing the iterator stops
        the sampling.
        """
        generator = seeded_generator(settings.seed, self.device)
        steps = stream(self.model, prompt_ids.unsqueeze(0).to(self.device), settings.max_new_tokens,
                       settings.temperature, settings.top_k, use_cache=self.fast, top_p=settings.top_p,
                       generator=generator)
        text = TextStream(self.tokenizer.decode)
        try:
            for number, step in enumerate(steps, 1):
                report = step_report(step, self.tokenizer.decode, settings.alternatives)
                yield {"step": number, **report, "text": text.push(report["id"])}
        finally:
            steps.close()

    def attention(self, ids: list[int], layer: int | None = None) -> dict:
        """The attention of the last ``window`` of ``ids``, every layer or one: what each position attends to.

        ``{"offset", "ids", "pieces", "num_layers", "num_heads", "layers": {"L": [head][row][col]}}``:
        ``offset`` is where the window starts in ``ids``; each row sums to 1 over the positions up
        to its own (``analysis.attention_weights`` on the exact path, rounded).
        """
        num_layers = self.exact.num_layers
        if layer is not None and not -num_layers <= layer < num_layers:
            raise ConfigError(f"layer must be from 0 to {num_layers - 1} (or -1 for the last; got {layer})")
        self.check_ids(ids)
        offset = max(0, len(ids) - self.window)
        window = ids[offset:]
        with self._attention_lock:
            weights = attention_weights(self.exact, torch.tensor(window, dtype=torch.long))
        chosen = range(num_layers) if layer is None else [layer % num_layers]
        return {"offset": offset, "ids": window, "pieces": [self.piece(i) for i in window],
                "num_layers": num_layers, "num_heads": weights[0].shape[0],
                "layers": {str(n): weights[n].double().numpy().round(ATTENTION_DIGITS).tolist() for n in chosen}}


def model_names(paths: list[str]) -> list[str]:
    """A short, distinct name per checkpoint: its file name without the extension (``-2``... for repeats)."""
    names: list[str] = []
    for path in paths:
        stem, n = Path(path).stem or "model", 1
        name = stem
        while name in names:
            n += 1
            name = f"{stem}-{n}"
        names.append(name)
    return names


def load_models(paths: list[str], device: torch.device, fast: bool = True) -> list[ServedModel]:
    """Every checkpoint of ``paths`` loaded for serving; the first that cannot be read raises ``CheckpointError``."""
    return [ServedModel(name, path, device, fast) for name, path in zip(model_names(paths), paths)]
