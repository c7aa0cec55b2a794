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

Opt-in, and then not the same function: ``set_weight_precision(model, "bf16" | "int8")`` makes the
kept copies bfloat16, or int8 with one float scale per output row (weight-only: the activations stay
in their dtype), for decoding. Sampling a token streams every weight once, so halving or quartering
the bytes read is what makes decoding faster once the weights outgrow the caches; the cost in loss is
measured by ``mygpt eval --weights``. On a CPU with native bf16 the bf16 copies are packed in oneDNN's
layout (its bf16 linear on them is ~2.4x the fp32 GEMV there).
"""

import contextlib
import functools
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

_DEPTH = "_weight_copies_depth"  # how many ``kept_copies`` blocks a module is in
_COPIES = "_weight_copies"


def _params(layers: tuple[nn.Linear, ...]) -> list[torch.Tensor]:
    return [p for layer in layers for p in (layer.weight, getattr(layer, "bias", None)) if p is not None]


def _fused(layers: tuple[nn.Linear, ...]) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The layers' weights stacked along the output axis, and their biases (None without)."""
    if len(layers) == 1:
        return layers[0].weight, getattr(layers[0], "bias", None)
    bias = None if layers[0].bias is None else torch.cat([layer.bias for layer in layers])
    return torch.cat([layer.weight for layer in layers]), bias


WEIGHT_PRECISIONS = ("fp32", "bf16", "int8")


def set_weight_precision(model: nn.Module, precision: str) -> nn.Module:
    """Make the gradient-free weight copies of every fast-path layer of ``model`` ``precision``.

    ``"fp32"`` (the default): the weights' own dtype, the same function. ``"bf16"``/``"int8"``: reduced
    copies for decoding, an approximation chosen by the caller. They are what ``kept_copies`` blocks
    (``generate``, ``evaluate``) multiply by; outside one the live fp32 weights are used. Returns ``model``.
    """
    if precision not in WEIGHT_PRECISIONS:
        raise ValueError(f"unknown weight precision {precision!r} (expected one of {', '.join(WEIGHT_PRECISIONS)})")
    for module in model.modules():
        module.__dict__["_weight_precision"] = precision
    return model


class _Copies(dict):
    """A module's weight copies: a cache remade from the parameters on demand, so a deep copy or a
    pickle of the module starts without it (packed copies cannot be copied, and a copy's parameters
    live elsewhere anyway)."""

    def __deepcopy__(self, memo) -> "_Copies":
        return _Copies()

    def __reduce__(self):
        return _Copies, ()


@functools.cache
def _packed_bf16() -> bool:
    """Whether oneDNN's bf16 linear with a prepacked weight runs here (a CPU with native bf16; a build
    without those private ops, or another CPU, falls back to ``F.linear`` on bf16 weights)."""
    try:
        return bool(torch.backends.mkldnn.is_available() and torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def _int8_rows(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``weight`` ``(out, in)`` as int8 rows and one scale per row (symmetric, round to nearest)."""
    scale = weight.abs().amax(dim=1).clamp(min=1e-12) / 127
    return torch.round(weight / scale[:, None]).clamp(-127, 127).to(torch.int8), scale


def _copy(weight: torch.Tensor, bias: torch.Tensor | None, precision: str) -> tuple:
    if precision == "int8":
        q, scale = _int8_rows(weight.detach())
        return "int8", q, scale, bias
    if precision == "bf16":
        weight, bias = weight.detach().to(torch.bfloat16), None if bias is None else bias.detach().to(torch.bfloat16)
        if weight.device.type == "cpu" and _packed_bf16():  # oneDNN's packed layout: ~2.4x the plain bf16 GEMV
            return "bf16-packed", torch.ops.mkldnn._reorder_linear_weight(weight, 1), None, bias
        return "bf16", weight, None, bias
    if weight.device.type == "cpu":
        weight = weight.t().contiguous()
    return "cpu" if weight.device.type == "cpu" else "device", weight, None, bias


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
    copies = owner.__dict__.setdefault(_COPIES, _Copies())
    precision = owner.__dict__.get("_weight_precision", "fp32")
    key = (precision, *((p.data_ptr(), p.dtype, p._version) for p in _params(layers)))
    if name not in copies or copies[name][0] != key:
        copies[name] = (key, *_copy(*_fused(layers), precision))
    _, form, weight, scale, bias = copies[name]
    if form == "int8" and weight.device.type != "cpu":  # the int8 kernel is the CPU's: dequantise elsewhere
        return F.linear(x, weight.to(x.dtype) * scale[:, None].to(x.dtype), None if bias is None else bias.to(x.dtype))
    if form == "int8":
        flat = x.reshape(-1, x.shape[-1])
        out = torch.ops.aten._weight_int8pack_mm(flat, weight, scale.to(flat.dtype))
        out = out if bias is None else out + bias.to(out.dtype)
        return out.view(*x.shape[:-1], weight.shape[0])
    if form == "bf16-packed":
        return torch.ops.mkldnn._linear_pointwise(x.to(torch.bfloat16), weight, bias, "none", [], "").to(x.dtype)
    if form == "bf16":
        return F.linear(x.to(torch.bfloat16), weight, bias).to(x.dtype)
    if form == "device":
        return F.linear(x, weight, bias)
    flat = x.reshape(-1, x.shape[-1])
    out = flat @ weight if bias is None else torch.addmm(bias, flat, weight)
    return out.view(*x.shape[:-1], weight.shape[1])
