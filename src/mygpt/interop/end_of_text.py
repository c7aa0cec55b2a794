"""An end-of-text token for exported models whose tokenizer has none (char, book BPE).

Consumers of an exported model expect one: lm-evaluation-harness starts every empty context with
it, Hugging Face ``generate`` and ``pipeline`` pad and stop with it, llama.cpp stops on it. A char or
book-BPE model never saw one, so it gets one more vocabulary row, id ``vocab_size``, made so that the
model's function on real text does not change: the new token's logit is the same large negative
number (``EOS_LOGIT``) after every input, so ``exp`` of it is exactly 0 in float32 and float64, every
real token's probability is what it was (to float rounding), and neither greedy nor sampled
decoding ever draws it. Nothing else about the model changes.

Why that is possible: the head is tied, so a token's logit is ``ln_f(x) · e`` for its embedding row
``e``, and ``ln_f(x) = γ ⊙ x̂ + β`` where ``x̂`` (the normalised input) has zero mean. With
``e_i = k / γ_i``, ``Σ γ_i x̂_i e_i = k Σ x̂_i = 0`` for every input, leaving the constant
``k Σ β_i / γ_i``; ``k`` is chosen to make it ``EOS_LOGIT``. A LayerNorm with zero bias (an untrained
model) has no such row: by symmetry some input gives any row a logit of at least 0. Then the row is
zeros (logit exactly 0 after every input) and the report says so. A zero logit still adds
``1 / Σ exp(logits)`` to the normaliser.

Chosen over the alternatives: reusing a real token (a newline, say) as end-of-text would stop
generation and lm-eval contexts at real text; a token in the tokenizer but not in the model would
index past the embedding when fed. Fed as input (lm-eval's empty-context prefix), the new token
carries a large embedding: what the model predicts right after it is arbitrary, as it would be for
any token the model never trained on.
"""

from dataclasses import dataclass, replace

import torch

from ..errors import InteropError, require
from ..model import GPT
from ..norm import LayerNorm
from ..tokenizer import END_OF_TEXT, ByteBPETokenizer

EOS_LOGIT = -1000.0  # exp(-1000 - max logit) underflows to exactly 0 in float32 and float64
_MAX_SCALE = 1e6     # |k| above this would let float rounding of Σ x̂_i (≈ 1e-7 · C) move the logit


@dataclass(frozen=True)
class EndOfText:
    """The end-of-text token of an export: its ``id``, whether it is a row the export ``added``, and the
    logit it has after every input (``logit``; None when the tokenizer already had the token)."""

    id: int
    added: bool
    logit: float | None = None

    def describe(self) -> str:
        if not self.added:
            return f"end-of-text token {END_OF_TEXT} is the tokenizer's own (id {self.id})"
        if self.logit is not None and self.logit <= EOS_LOGIT / 2:
            return (f"added end-of-text token {END_OF_TEXT} as id {self.id}, with logit {self.logit:g} after "
                    "every input (probability 0: the model's function on real text is unchanged)")
        return (f"added end-of-text token {END_OF_TEXT} as id {self.id} with logit 0 after every input "
                "(the final LayerNorm has no bias to make it negative, as in an untrained model)")


def tokenizer_end_of_text(tokenizer) -> int | None:
    """The id of ``<|endoftext|>`` in a byte-level BPE tokenizer; None for char and book BPE (they have none)."""
    if isinstance(tokenizer, ByteBPETokenizer):
        return tokenizer.tokenizer.token_to_id(END_OF_TEXT)
    return None


def _eos_row(ln_f: torch.nn.Module) -> tuple[torch.Tensor, float]:
    """The embedding row whose logit is a constant, and that constant (see the module docstring)."""
    gamma, beta = ln_f.weight.detach().double(), ln_f.bias.detach().double()
    total = float((beta / gamma).sum()) if bool((gamma != 0).all()) else 0.0
    scale = EOS_LOGIT / total if total != 0 else float("inf")
    if abs(scale) > _MAX_SCALE:
        return torch.zeros_like(gamma), 0.0
    return scale / gamma, EOS_LOGIT


def with_end_of_text(model: GPT, tokenizer) -> tuple[GPT, EndOfText]:
    """``model`` and its end-of-text token: the tokenizer's own, or a row added by ``add_end_of_text``.

    A tokenizer with more tokens than the model has rows is refused: its last ids would have no row,
    and the added token's id would be one of them.
    """
    require(tokenizer.vocab_size <= model.vocab_size,
            f"the tokenizer has {tokenizer.vocab_size} tokens but the model only {model.vocab_size} rows; "
            "the checkpoint's tokenizer does not belong to its model", InteropError)
    own = tokenizer_end_of_text(tokenizer)
    if own is not None:
        return model, EndOfText(own, added=False)
    return add_end_of_text(model)


def add_end_of_text(model: GPT) -> tuple[GPT, EndOfText]:
    """A copy of ``model`` (CPU, float32, eval mode) with one more vocabulary row: the end-of-text token."""
    config = model.config
    ours = {key: value.detach().float().cpu() for key, value in model.state_dict().items()}
    if isinstance(model.ln_f, LayerNorm):
        row, logit = _eos_row(model.ln_f)
    else:  # RMSNorm: no mean to cancel; a zero row has logit 0 after every input
        row, logit = torch.zeros(config.embed_dim, dtype=torch.float64), 0.0
    key = "token_embedding.embedding.weight"
    ours[key] = torch.cat([ours[key], row.float().unsqueeze(0)])
    bigger = GPT.from_config(replace(config, vocab_size=config.vocab_size + 1))
    bigger.load_state_dict(ours)
    return bigger.eval(), EndOfText(config.vocab_size, added=True, logit=logit)


def drop_end_of_text(state: dict[str, torch.Tensor], eos_id: int) -> dict[str, torch.Tensor]:
    """A ``state_dict`` without the row ``add_end_of_text`` added (it must be the last one)."""
    key = "token_embedding.embedding.weight"
    if state[key].shape[0] != eos_id + 1:
        raise ValueError(f"the end-of-text row {eos_id} is not the last of {state[key].shape[0]}")
    return {**state, key: state[key][:eos_id].contiguous()}
