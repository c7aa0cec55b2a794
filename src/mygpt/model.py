"""The GPT model: embeddings, a stack of transformer blocks, a final norm and a tied head (Ch.12-13)."""

import torch
import torch.nn.functional as F
from torch import nn

from .attention import MultiHeadAttention, _check_length
from .block import TransformerBlock
from .config import GPTConfig
from .embedding import TokenEmbedding
from .errors import require
from .kv_cache import KVCache
from .mlp import MLP
from .norm import LayerNorm, RMSNorm, _make_norm
from .utils import count_params


class GPT(nn.Module):
    """A GPT-2-style decoder. ``forward(ids, targets=None) -> (logits, loss | None)``.

    The output head reuses the token-embedding matrix (weight tying), so it adds no parameters.
    Submodules are created in the book's order: that order fixes the random numbers each weight
    receives under a seed and the ``state_dict`` key order of checkpoints.

    The arguments are those of ``GPTConfig``, which checks them; ``GPT.from_config(cfg)`` builds the
    same model from a config, and ``model.config`` gives it back.
    """

    def __init__(self, vocab_size: int, embed_dim: int, num_heads: int, num_layers: int,
                 max_seq_len: int = 64, dropout: float = 0.0, norm_type: str = "layer",
                 position_type: str = "learned", num_kv_heads: int | None = None, attn_bias: bool = False,
                 gelu: str = "erf", store_masks: bool = True):
        super().__init__()
        self.config = config = GPTConfig(vocab_size, embed_dim, num_heads, num_layers, max_seq_len, dropout,
                                         norm_type, position_type, num_kv_heads, attn_bias, gelu, store_masks)
        self.vocab_size = vocab_size
        self.embed_dim = embed_dim
        self.num_heads = num_heads
        self.num_kv_heads = config.num_kv_heads
        self.num_layers = num_layers
        self.max_seq_len = max_seq_len
        self.norm_type = norm_type
        self.position_type = position_type
        self.token_embedding = TokenEmbedding(vocab_size, embed_dim)
        if position_type == "learned":
            self.position_embedding = nn.Embedding(max_seq_len, embed_dim)
        self.embed_drop = nn.Dropout(dropout)
        self.blocks = nn.Sequential(*[
            TransformerBlock(embed_dim, num_heads, max_seq_len, dropout, norm_type=norm_type,
                             position_type=position_type, num_kv_heads=config.num_kv_heads,
                             attn_bias=attn_bias, gelu=gelu, store_masks=store_masks)
            for _ in range(num_layers)
        ])
        self.ln_f = _make_norm(embed_dim, norm_type)

    @classmethod
    def from_config(cls, config: GPTConfig) -> "GPT":
        """The model ``config`` describes, built (and therefore seeded) exactly as ``GPT(...)`` builds it."""
        return cls(config.vocab_size, config.embed_dim, config.num_heads, config.num_layers,
                   config.max_seq_len, config.dropout, config.norm_type, config.position_type,
                   config.num_kv_heads, config.attn_bias, config.gelu, config.store_masks)

    def num_params(self) -> int:
        """Number of trainable parameters; the tied head shares the embedding's, counted once."""
        return count_params(self)

    def forward(self, ids: torch.Tensor, targets: torch.Tensor | None = None, cache: KVCache | None = None
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Logits ``(B, T, V)`` and, given ``targets``, the mean cross-entropy loss (Ch.13).

        With a ``cache`` (see ``new_cache``), ``ids`` continue the ``cache.length`` positions already
        processed: only the new positions are computed, attending to the cached keys and values.
        """
        check_ids("ids", ids)
        if targets is not None:
            _check_targets(ids, targets)
        T = ids.shape[1]
        past = 0 if cache is None else cache.length
        _check_length(past + T, self.max_seq_len)
        if not torch.compiler.is_compiling():  # a value check would break the compiled graph
            check_ids("ids", ids, self.vocab_size, rows=False)
            if targets is not None:
                check_ids("targets", targets, self.vocab_size, rows=False, ignore_index=IGNORE_INDEX)
        x = self.token_embedding(ids)
        if self.position_type == "learned":
            x = x + self.position_embedding(torch.arange(past, past + T, device=ids.device))
        x = self.embed_drop(x)
        if cache is None:
            x = self.blocks(x)
        else:
            for block, layer_cache in zip(self.blocks, cache.layers):
                x = block(x, layer_cache, past)
            cache.length += T
        x = self.ln_f(x)
        logits = x @ self.token_embedding.embedding.weight.T
        if targets is None:
            return logits, None
        loss = F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1))
        return logits, loss

    def new_cache(self) -> KVCache:
        """An empty KV cache for incremental decoding with ``forward(ids, cache=...)``."""
        return KVCache(self.num_layers, self.max_seq_len)

    def set_fast(self, enabled: bool = True) -> "GPT":
        """Switch every norm, attention and MLP module between the exact book path and the fast kernels.

        Same parameters, same function; the fast kernels (fused norms, fused QKV matmul, SDPA, weight
        copies for gradient-free steps) agree with the exact ones to float rounding, not bit for bit.
        Returns ``self``.
        """
        for module in self.modules():
            if isinstance(module, (LayerNorm, RMSNorm, MultiHeadAttention, MLP)):
                module.fast = enabled
        return self


# cross_entropy's default: targets with this value are left out of the loss.
IGNORE_INDEX = -100


def check_ids(name: str, ids, vocab_size: int | None = None, *, rows: bool = True,
              ignore_index: int | None = None) -> None:
    """Token ids a model reads (``forward``, ``generate``): with ``rows``, a (batch, time) tensor of
    integers; each a row of an embedding table of ``vocab_size`` (None: not checked) or ``ignore_index``
    (the loss's ignore value, for targets). Raises ``ConfigError`` (a ``ValueError``) naming ``name``."""
    if rows:
        got = f"shape {tuple(ids.shape)}" if isinstance(ids, torch.Tensor) else type(ids).__name__
        require(isinstance(ids, torch.Tensor) and ids.dim() == 2,
                f"{name} must be a 2-D tensor of token ids, (batch, time) (got {got}); "
                "for one sequence use ids.unsqueeze(0)")
        require(ids.dtype in (torch.long, torch.int),
                f"{name} must hold integer token ids (got dtype {ids.dtype}); convert with ids.long()")
    if vocab_size is None or ids.numel() == 0:
        return
    low, high = (int(v) for v in torch.aminmax(ids))
    if low < 0 and ignore_index is not None:
        low = int(ids[ids != ignore_index].min()) if bool((ids != ignore_index).any()) else 0
    require(0 <= low and high < vocab_size,
            f"{name} must be token ids in [0, {vocab_size}) for this model's vocab_size {vocab_size} (got values "
            f"from {low} to {high}); encode text with the tokenizer the model was trained with")


def _check_targets(ids: torch.Tensor, targets) -> None:
    """``forward``'s targets are shaped like the ids (the ids shifted by one position), int64."""
    got = f"shape {tuple(targets.shape)}" if isinstance(targets, torch.Tensor) else type(targets).__name__
    require(isinstance(targets, torch.Tensor) and targets.shape == ids.shape,
            f"targets must have the shape of ids, {tuple(ids.shape)} (got {got}); "
            "targets are the ids shifted by one position")
    require(targets.dtype == torch.long,
            f"targets must be int64 token ids (got dtype {targets.dtype}); convert with targets.long()")
