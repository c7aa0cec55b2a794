"""The attention weights a trained GPT computes for a sequence, layer by layer (Ch.7-8).

The book applies dropout to the softmax weights (Ch.7), so the input of every ``attn_drop`` of the
exact path is exactly the attention matrix. A forward hook on it reads the weights during an
ordinary forward: nothing is recomputed, and whatever the exact path computes is what is shown.
"""

import torch

from ..errors import require
from ..utils import evaluating


def attention_weights(model, ids: torch.Tensor) -> list[torch.Tensor]:
    """One ``(num_heads, T, T)`` tensor per layer for the 1-D token ids ``ids``, on the CPU.

    Row ``i`` of a head holds how much query position ``i`` attends to each key position: it sums
    to 1 over positions ``0..i`` and is 0 above the diagonal (causal mask). Grouped-query models give
    one matrix per query head. Runs in eval mode (no dropout) on the exact path.
    """
    require(ids.dim() == 1 and len(ids) > 0,
            f"ids must be a non-empty 1-D tensor of token ids (got shape {tuple(ids.shape)})")
    captured: list[torch.Tensor] = []
    hooks = [block.mha.attn_drop.register_forward_hook(lambda _m, inputs, _out: captured.append(inputs[0][0]))
             for block in model.blocks]
    try:
        with evaluating(model):
            model(ids.unsqueeze(0).to(model.token_embedding.embedding.weight.device))
    finally:
        for hook in hooks:
            hook.remove()
    require(len(captured) == len(model.blocks), "the model is on the fast path, whose fused kernel never forms "
                                                 "the attention matrix; call model.set_fast(False) first")
    return [weights.float().cpu() for weights in captured]
