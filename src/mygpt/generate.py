"""Autoregressive sampling with temperature and top-k (Ch.15), optionally with a KV cache."""

import torch
import torch.nn.functional as F


@torch.no_grad()
def generate(model, prompt_ids: torch.Tensor, max_new_tokens: int, temperature: float = 1.0,
             top_k: int | None = None, use_cache: bool = False) -> torch.Tensor:
    """Append ``max_new_tokens`` sampled tokens to ``prompt_ids`` ``(B, T0)``; returns ``(B, T0 + n)``.

    The context is cropped to the last ``model.max_seq_len`` tokens, and every step draws exactly one
    multinomial sample per row (even with ``top_k=1``). Leaves the model in eval mode.

    ``use_cache=True`` feeds only the new token at each step and reuses the keys and values of earlier
    positions (same function, float-rounding close, not bit-identical). Once the context would crop,
    every position of the window shifts, so from then on each step recomputes the window in full.
    """
    model.eval()
    ids = prompt_ids
    cache = model.new_cache() if use_cache else None
    for _ in range(max_new_tokens):
        if cache is not None and ids.shape[1] <= model.max_seq_len:
            logits, _ = model(ids[:, cache.length:], cache=cache)
        else:
            context = ids[:, -model.max_seq_len:]
            logits, _ = model(context)
        logits = logits[:, -1, :] / temperature
        if top_k is not None:
            kth = torch.topk(logits, min(top_k, logits.shape[-1])).values[:, -1:]
            logits[logits < kth] = float("-inf")
        probs = F.softmax(logits, dim=-1)
        next_id = torch.multinomial(probs, num_samples=1)
        ids = torch.cat([ids, next_id], dim=1)
    return ids
