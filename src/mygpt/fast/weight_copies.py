"""The fast path's linear layers when no gradient is needed (sampling, validation): weight copies kept
in the layout the device multiplies fastest, for as long as the weights cannot change.

A sampled token multiplies one vector by every weight matrix, so a sampling step mostly streams the
weights from memory. Two things cost time there that this module removes. Q, K and V are one fused
matmul on the fast path, and concatenating their weights anew would copy them on every step. And on a
CPU, ``x @ W_t`` over a weight stored ``(in, out)`` runs faster than ``nn.Linear``'s ``x @ W.T`` over
``W`` stored ``(out, in)`` (the README gives the figures). So inside ``kept_copies(model)`` (which
``generate``, ``estimate_val_loss`` and ``evaluate`` enter) gradient-free forwards multiply by a copy,
fused and (on a CPU) transposed, made once and dropped when the block ends.

Copies live only inside that block, never between two of them, because nothing reliable says when a
weight changed: fused AdamW updates parameters without bumping their version counter, and an edit
through ``param.data`` bumps none either. Outside the block, and whenever autograd is on, the live
parameters are multiplied, so the fast path is the exact path's function on the *current* weights
after any optimizer step, ``load_state_dict`` or in-place edit. Same function either way, to float
rounding.
"""

import contextlib
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

_DEPTH = "_weight_copies_depth"  # how many ``kept_copies`` blocks a module is in
_COPIES = "_weight_copies"


def _params(layers: tuple[nn.Linear, ...]) -> list[torch.Tensor]:
    return [p for layer in layers for p in (layer.weight, layer.bias) if p is not None]


def _fused(layers: tuple[nn.Linear, ...]) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The layers' weights stacked along the output axis, and their biases (None without)."""
    if len(layers) == 1:
        return layers[0].weight, layers[0].bias
    bias = None if layers[0].bias is None else torch.cat([layer.bias for layer in layers])
    return torch.cat([layer.weight for layer in layers]), bias


@contextlib.contextmanager
def kept_copies(model: nn.Module) -> Iterator[nn.Module]:
    """A block in which ``model``'s gradient-free fast forwards reuse weight copies made once.

    The weights must not change inside the block (sampling and evaluation do not change them); each
    copy is still remade if a parameter's storage, dtype or version counter moves. Blocks nest; the
    copies are freed when the outermost one ends.
    """
    modules = list(model.modules())
    for module in modules:
        module.__dict__[_DEPTH] = module.__dict__.get(_DEPTH, 0) + 1
    try:
        yield model
    finally:
        for module in modules:
            depth = module.__dict__.get(_DEPTH, 1) - 1
            module.__dict__[_DEPTH] = depth
            if depth <= 0:
                module.__dict__.pop(_COPIES, None)


def fast_linear(owner: nn.Module, name: str, x: torch.Tensor, *layers: nn.Linear) -> torch.Tensor:
    """``cat([layer(x) for layer in layers], -1)``, as one matmul; inside ``kept_copies``, ``owner``
    keeps the weight copy named ``name``."""
    if torch.is_grad_enabled() or not owner.__dict__.get(_DEPTH):
        return F.linear(x, *_fused(layers))
    copies = owner.__dict__.setdefault(_COPIES, {})
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
