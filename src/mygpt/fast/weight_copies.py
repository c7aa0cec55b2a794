"""The fast path's linear layers when no gradient is needed (sampling, validation): weight copies kept
in the layout the device multiplies fastest.

A sampled token multiplies one vector by every weight matrix, so a sampling step mostly streams the
weights from memory. Two things cost time there that this module removes. Q, K and V are one fused
matmul on the fast path, and concatenating their weights anew would copy them on every step. And on a
CPU, ``x @ W_t`` over a weight stored ``(in, out)`` runs faster than ``nn.Linear``'s ``x @ W.T`` over
``W`` stored ``(out, in)`` (the README gives the figures). So without autograd the layers multiply by
a copy, fused and (on a CPU) transposed, that is made once and remade only when one of its
parameters changed: its storage, dtype or in-place version counter, so an optimiser step or
``load_state_dict`` never leaves a stale copy. With autograd on, the live parameters are used, so
gradients reach them. Same function either way, to float rounding.
"""

import torch
import torch.nn.functional as F
from torch import nn


def _params(layers: tuple[nn.Linear, ...]) -> list[torch.Tensor]:
    return [p for layer in layers for p in (layer.weight, layer.bias) if p is not None]


def _fused(layers: tuple[nn.Linear, ...]) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The layers' weights stacked along the output axis, and their biases (None without)."""
    if len(layers) == 1:
        return layers[0].weight, layers[0].bias
    bias = None if layers[0].bias is None else torch.cat([layer.bias for layer in layers])
    return torch.cat([layer.weight for layer in layers]), bias


def fast_linear(owner: nn.Module, name: str, x: torch.Tensor, *layers: nn.Linear) -> torch.Tensor:
    """``cat([layer(x) for layer in layers], -1)``, as one matmul; ``owner`` keeps the copy named ``name``."""
    if torch.is_grad_enabled():
        return F.linear(x, *_fused(layers))
    copies = owner.__dict__.setdefault("_weight_copies", {})
    key = tuple((p.data_ptr(), p.dtype, p._version) for p in _params(layers))
    if name not in copies or copies[name][0] != key:
        weight, bias = _fused(layers)
        if weight.device.type == "cpu":
            weight = weight.t().contiguous()
        copies[name] = (key, weight, bias)
    _, weight, bias = copies[name]
    if weight.device.type != "cpu":
        return F.linear(x, weight, bias)
    flat = x.reshape(-1, x.shape[-1])
    out = flat @ weight if bias is None else torch.addmm(bias, flat, weight)
    return out.view(*x.shape[:-1], weight.shape[1])
