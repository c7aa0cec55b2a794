"""The optimizers of a training run (Ch.14): the book's AdamW, its fused form for the fast path, and
Muon for the blocks' matrices with AdamW for the rest (``TrainConfig(optimizer="muon")``).

Muon (``torch.optim.Muon``) replaces each 2-D hidden weight's momentum by its nearest orthogonal
matrix (a few Newton-Schulz iterations) before stepping; embeddings, the head, norm gains and biases
are not hidden matrices and stay with AdamW. The fast path's ``BatchedMuon`` computes the same update
with the iterations batched over same-shaped matrices, in bf16 only where the CPU multiplies it
natively (torch's own runs them one matrix at a time, always in bf16).
"""

import torch
from torch import Tensor, nn

from ..fast.hardware import bf16_is_native

# Muon's settings beyond the learning rate: torch's defaults (momentum 0.95, Nesterov, five
# iterations) and no weight decay, which measured best on the recipes here (docs/time-to-loss.md).
MUON_WEIGHT_DECAY = 0.0


def make_optimizer(model: nn.Module, lr: float, fast: bool = False, kind: str = "adamw",
                   muon_lr: float = 0.02) -> torch.optim.Optimizer:
    """The book's ``AdamW(model.parameters(), lr)``; with ``fast``, its fused single-kernel form.

    Fused AdamW runs on CPU and CUDA (one kernel for all parameters instead of a Python loop of small
    ops per parameter); elsewhere the multi-tensor ``foreach`` form is used. The fused form updates
    the same way to float rounding. ``kind="muon"``: ``MuonAdamW``, Muon at ``muon_lr`` on the hidden
    matrices (``BatchedMuon`` when ``fast``) and that AdamW at ``lr`` on the other parameters.
    """
    if kind == "muon":
        hidden, rest = split_hidden_matrices(model)
        return MuonAdamW(_adamw(rest, lr, fast),
                         (BatchedMuon if fast else torch.optim.Muon)(hidden, lr=muon_lr,
                                                                      weight_decay=MUON_WEIGHT_DECAY),
                         (lr, muon_lr))
    return _adamw(list(model.parameters()), lr, fast)


def _adamw(params: list[Tensor], lr: float, fast: bool) -> torch.optim.AdamW:
    if not fast:
        return torch.optim.AdamW(params, lr=lr)
    if params[0].device.type in ("cpu", "cuda"):
        return torch.optim.AdamW(params, lr=lr, fused=True)
    return torch.optim.AdamW(params, lr=lr, foreach=True)


def split_hidden_matrices(model: nn.Module) -> tuple[list[Tensor], list[Tensor]]:
    """``(hidden, rest)``: the 2-D weights inside the transformer blocks, and every other parameter."""
    hidden, rest = [], []
    for name, param in model.named_parameters():
        (hidden if param.ndim == 2 and name.startswith("blocks.") else rest).append(param)
    return hidden, rest


class MuonAdamW:
    """AdamW and Muon stepped as one optimizer: ``param_groups`` lists AdamW's groups first, so
    ``param_groups[0]["lr"]`` is the ``lr`` of the book's runs. Each group keeps its peak learning
    rate as ``"peak_lr"``, which the cosine schedule scales (``loop``)."""

    def __init__(self, adamw: torch.optim.Optimizer, muon: torch.optim.Optimizer, peaks: tuple[float, float]):
        self.adamw, self.muon = adamw, muon
        for optimizer, peak in zip((adamw, muon), peaks):
            for group in optimizer.param_groups:
                group["peak_lr"] = peak

    @property
    def param_groups(self) -> list[dict]:
        return self.adamw.param_groups + self.muon.param_groups

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.adamw.zero_grad(set_to_none)
        self.muon.zero_grad(set_to_none)

    def step(self) -> None:
        self.adamw.step()
        self.muon.step()

    def state_dict(self) -> dict:
        return {"adamw": self.adamw.state_dict(), "muon": self.muon.state_dict()}

    def load_state_dict(self, state: dict) -> None:
        self.adamw.load_state_dict(state["adamw"])
        self.muon.load_state_dict(state["muon"])


class BatchedMuon(torch.optim.Muon):
    """``torch.optim.Muon`` with its Newton-Schulz iterations batched over same-shaped matrices.

    Same hyper-parameters, state (``momentum_buffer``) and update as torch's (tested); per step it
    stacks the momenta of matrices of one shape (a tall matrix transposed, as torch does) and
    orthogonalises each stack with batched matmuls, in bf16 where the device multiplies bf16
    natively and in fp32 elsewhere (where torch's bf16 would be emulated and several times slower).
    """

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            grads = [p.grad for p in params]
            bufs = [self.state[p].setdefault("momentum_buffer", torch.zeros_like(p)) for p in params]
            torch._foreach_lerp_(bufs, grads, 1 - group["momentum"])
            updates = torch._foreach_lerp(grads, bufs, group["momentum"]) if group["nesterov"] else bufs
            lr, decay = group["lr"], group["weight_decay"]
            if decay:
                torch._foreach_mul_(params, 1 - lr * decay)
            for shape, members in _same_shapes(params).items():
                ortho = orthogonalize([updates[i] for i in members], group["ns_coefficients"], group["ns_steps"],
                                      group["eps"])
                torch._foreach_add_([params[i] for i in members], list(ortho.unbind(0)),
                                    alpha=-_adjusted_lr(lr, group["adjust_lr_fn"], shape))
        return loss


def _adjusted_lr(lr: float, adjust_lr_fn: str | None, shape: tuple[int, int]) -> float:
    """torch's Muon rule for the learning rate of a ``(rows, cols)`` matrix (``torch.optim.Muon``'s
    ``adjust_lr_fn``): "original" (the default) scales by sqrt(max(1, rows/cols))."""
    rows, cols = shape
    if adjust_lr_fn in (None, "original"):
        return lr * max(1.0, rows / cols) ** 0.5
    if adjust_lr_fn == "match_rms_adamw":
        return lr * 0.2 * max(rows, cols) ** 0.5
    return lr


def _same_shapes(params: list[Tensor]) -> dict[tuple[int, int], list[int]]:
    """Indices of ``params`` grouped by shape, in order of first appearance."""
    groups: dict[tuple[int, int], list[int]] = {}
    for i, p in enumerate(params):
        groups.setdefault(tuple(p.shape), []).append(i)
    return groups


def ns_dtype(device: torch.device) -> torch.dtype:
    """bf16 where ``device`` multiplies it natively (as torch's Muon always does), else fp32."""
    return torch.bfloat16 if bf16_is_native(device) else torch.float32


def orthogonalize(matrices: list[Tensor], coefficients: tuple[float, float, float], steps: int,
                  eps: float) -> Tensor:
    """Muon's quintic Newton-Schulz iteration on a stack of same-shaped matrices; ``(n, rows, cols)``.

    Tall matrices are orthogonalised transposed (the Gram matrix is then the small one), as in
    torch's ``_zeropower_via_newtonschulz``; each matrix is first scaled to unit Frobenius norm.
    The result has the input's dtype.
    """
    a, b, c = coefficients
    x = torch.stack(matrices).to(ns_dtype(matrices[0].device))
    tall = x.shape[-2] > x.shape[-1]
    if tall:
        x = x.mT
    x = x / torch.linalg.vector_norm(x, dim=(-2, -1), keepdim=True, dtype=torch.float32).clamp(min=eps).to(x.dtype)
    for _ in range(steps):
        gram = x @ x.mT
        x = torch.baddbmm(x, torch.baddbmm(gram, gram, gram, beta=b, alpha=c), x, beta=a)
    return (x.mT if tall else x).to(matrices[0].dtype)
