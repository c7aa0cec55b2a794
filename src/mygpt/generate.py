"""Autoregressive sampling with temperature and top-k (Ch.15)."""

import torch
import torch.nn.functional as F


@torch.no_grad()
def generate(model, prompt_ids: torch.Tensor, max_new_tokens: int, temperature: float = 1.0,
             top_k: int | None = None) -> torch.Tensor:
    """Append ``max_new_tokens`` sampled tokens to ``prompt_ids`` ``(B, T0)``; returns ``(B, T0 + n)``.

    The context is cropped to the last ``model.max_seq_len`` tokens, and every step draws exactly one
    multinomial sample per row (even with ``top_k=1``). Leaves the model in eval mode.
    """
    model.eval()
    ids = prompt_ids
    for _ in range(max_new_tokens):
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
