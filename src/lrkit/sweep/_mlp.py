"""Fast path for ``nn.Sequential`` stacks of ``nn.Linear`` and element-wise activations.

Forward with ``baddbmm`` and an explicit backward (no autograd graph), writing gradients
straight into the flat ``(K, P)`` buffer of :class:`~lrkit.sweep._layout.Engine`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from lrkit.sweep._layout import Engine, LossFn

__all__ = ["MLPEngine"]


# Element-wise activations with a cheap closed-form derivative, as functions of the
# pre-activation z and the activation a.
_DERIVATIVES: dict[type, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    nn.Tanh: lambda z, a: 1 - a * a,
    nn.Sigmoid: lambda z, a: a * (1 - a),
    nn.Identity: lambda z, a: torch.ones_like(z),
}
# Other element-wise activations: derivative through a local autograd call.
_ELEMENTWISE = (
    nn.ReLU,
    nn.Tanh,
    nn.Sigmoid,
    nn.Identity,
    nn.GELU,
    nn.SiLU,
    nn.LeakyReLU,
    nn.ELU,
    nn.Softplus,
    nn.Mish,
    nn.Hardtanh,
    nn.ReLU6,
    nn.Softsign,
    nn.SELU,
    nn.CELU,
    nn.Tanhshrink,
    nn.Hardswish,
    nn.Hardsigmoid,
)


def _flatten_sequential(model: nn.Module) -> list[nn.Module] | None:
    if not isinstance(model, nn.Sequential):
        return None
    layers: list[nn.Module] = []
    for m in model:
        if isinstance(m, nn.Sequential):
            inner = _flatten_sequential(m)
            if inner is None:
                return None
            layers.extend(inner)
        else:
            layers.append(m)
    return layers


def _is_plain_cross_entropy(loss_fn: Any) -> bool:
    # lrkit's built-in tasks wrap F.cross_entropy (to import torch lazily) and say so.
    if loss_fn is F.cross_entropy or getattr(loss_fn, "_lrkit_plain_cross_entropy", False):
        return True
    return (
        type(loss_fn) is nn.CrossEntropyLoss
        and loss_fn.weight is None
        and loss_fn.reduction == "mean"
        and loss_fn.label_smoothing == 0.0
    )


class MLPEngine(Engine):
    """``nn.Sequential`` of ``nn.Linear`` and element-wise activations, batched by hand."""

    name = "batched-mlp"

    @staticmethod
    def supports(model: nn.Module) -> bool:
        layers = _flatten_sequential(model)
        if not layers or not any(isinstance(m, nn.Linear) for m in layers):
            return False
        if any(len(list(m.buffers())) for m in layers):
            return False
        for m in layers:
            if isinstance(m, nn.Linear):
                if not m.weight.requires_grad or (m.bias is not None and not m.bias.requires_grad):
                    return False
            elif not isinstance(m, _ELEMENTWISE):
                return False
        return True

    def __init__(self, model: nn.Module, loss_fn: LossFn) -> None:
        super().__init__(model, loss_fn)
        self.layers = _flatten_sequential(model) or []
        # Map each Linear to the indices of its weight/bias in the flat layout.
        index = {n: i for i, n in enumerate(self.names)}
        name_of = {id(p): n for n, p in model.named_parameters()}
        self.plan: list[tuple[str, Any]] = []
        for m in self.layers:
            if isinstance(m, nn.Linear):
                wi = index[name_of[id(m.weight)]]
                bi = index[name_of[id(m.bias)]] if m.bias is not None else None
                self.plan.append(("linear", (wi, bi)))
            else:
                self.plan.append(("act", m))
        self._ce = _is_plain_cross_entropy(loss_fn)
        self._ws: dict[tuple[Any, ...], dict[str, dict[int, torch.Tensor]]] = {}

    @staticmethod
    def _linear(
        a: torch.Tensor, w: torch.Tensor, b: torch.Tensor | None, out: torch.Tensor | None = None
    ) -> torch.Tensor:
        # a: (B, i) shared by every copy, or (K, B, i); w: (K, o, i); b: (K, o); out: (K, B, o),
        # a reused workspace (training) or None (a fresh tensor).
        if a.dim() == 2:
            a = a.expand(w.shape[0], *a.shape)  # a broadcast view: the batch is not copied
        if b is None:
            return torch.bmm(a, w.transpose(1, 2), out=out)
        return torch.baddbmm(b.unsqueeze(1), a, w.transpose(1, 2), out=out)

    def forward(self, flat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        views = self.views(flat)
        a = x.reshape(x.shape[0], -1)
        for kind, arg in self.plan:
            if kind == "linear":
                wi, bi = arg
                a = self._linear(a, views[wi], views[bi] if bi is not None else None)
            else:
                a = arg(a)
        if a.dim() == 2:  # a model with no Linear output layer cannot happen (supports())
            a = a.expand(flat.shape[0], *a.shape)
        return a

    def _loss_grad_out(
        self, out: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if (
            self._ce
            and y.dtype in (torch.int64, torch.int32)
            and y.dim() == 1
            and bool((y >= 0).all())
        ):
            # Closed form of mean cross-entropy and its gradient: (softmax - onehot) / B.
            # Spelled out with max/exp/sum: aten's log_softmax over a short last dimension
            # (10 classes) is ~3x slower on CPU than these few element-wise passes.
            z = out - out.amax(dim=-1, keepdim=True)
            e = z.exp()
            s = e.sum(dim=-1, keepdim=True)
            idx = y.view(1, -1, 1).expand(out.shape[0], -1, 1)
            loss = (s.log() - z.gather(-1, idx)).squeeze(-1).mean(1)
            d = e.div_(s)
            d.scatter_add_(-1, idx, torch.full_like(idx, -1, dtype=d.dtype))
            d.div_(out.shape[1])
            return loss, d
        from torch.func import vmap

        with torch.enable_grad():
            z = out.detach().requires_grad_(True)
            loss = vmap(self.loss_fn, in_dims=(0, None))(z, y)
            (d,) = torch.autograd.grad(loss.sum(), z)
        return loss.detach(), d

    def _workspace(self, k: int, b: int, flat: torch.Tensor) -> dict[str, dict[int, torch.Tensor]]:
        """Step buffers for ``k`` copies and batch ``b``, allocated once and reused.

        Fresh multi-megabyte tensors every step cost more than the arithmetic on them on
        CPU: glibc hands large blocks back to the OS on free and page-faults them in again
        on the next allocation (measured: a (128, 128, 100) float32 GEMM output 0.45 ms
        reused, ~3 ms freshly allocated). Keyed by plan index: ``out`` (K, B, o) outputs of
        each Linear, ``gw`` (K, o, i) its weight gradient, ``dout`` (K, B, i) the gradient
        w.r.t. its input (not for the first Linear, whose input gradient is never needed).
        The two latest shapes are kept (full and last partial batch).
        """
        key = (k, b, flat.dtype, flat.device)
        ws = self._ws.get(key)
        if ws is not None:
            return ws
        ws = {"out": {}, "gw": {}, "dout": {}}
        views = self.views(flat)
        first = True
        for step, (kind, arg) in enumerate(self.plan):
            if kind != "linear":
                continue
            o, i = views[arg[0]].shape[1:]
            ws["out"][step] = flat.new_empty((k, b, o))
            ws["gw"][step] = flat.new_empty((k, o, i))
            if not first:
                ws["dout"][step] = flat.new_empty((k, b, i))
            first = False
        if len(self._ws) >= 2:
            self._ws.pop(next(iter(self._ws)))
        self._ws[key] = ws
        return ws

    def loss_and_grad(
        self, flat: torch.Tensor, x: torch.Tensor, y: torch.Tensor, grad: torch.Tensor
    ) -> torch.Tensor:
        views = self.views(flat)
        gviews = self.views(grad)
        k = flat.shape[0]
        a = x.reshape(x.shape[0], -1)
        ws = self._workspace(k, a.shape[0], flat)
        saved: list[Any] = []
        for step, (kind, arg) in enumerate(self.plan):
            if kind == "linear":
                wi, bi = arg
                saved.append(a)
                bias = views[bi] if bi is not None else None
                a = self._linear(a, views[wi], bias, ws["out"][step])
            elif type(arg) is nn.ReLU and step > 0 and self.plan[step - 1][0] == "linear":
                # In place on the workspace: backward only needs the output (a > 0 iff z > 0).
                a = a.relu_()
                saved.append((None, a))
            else:
                z = a
                a = arg(z)
                saved.append((z, a))
        loss, d = self._loss_grad_out(a, y)
        for step in range(len(self.plan) - 1, -1, -1):
            kind, arg = self.plan[step]
            if kind == "linear":
                wi, bi = arg
                inp = saved[step]
                if inp.dim() == 2:
                    inp = inp.expand(k, *inp.shape)
                # bmm(out=) into a strided view of the flat buffer falls back to a per-matrix
                # loop on CPU (~40x slower here); a contiguous workspace plus one copy does not.
                gw = ws["gw"][step]
                gviews[wi].copy_(torch.bmm(d.transpose(1, 2), inp, out=gw))
                if bi is not None:
                    torch.sum(d, dim=1, out=gviews[bi])
                if step > 0:
                    d = torch.bmm(d, views[wi], out=ws["dout"][step])
            else:
                z, act = saved[step]
                deriv = _DERIVATIVES.get(type(arg))
                if type(arg) is nn.ReLU:
                    # One fused kernel, in place: d is a workspace buffer or a fresh tensor.
                    d = torch.ops.aten.threshold_backward.grad_input(d, act, 0, grad_input=d)
                elif deriv is not None:
                    d = d * deriv(z, act)
                else:
                    with torch.enable_grad():
                        zz = z.detach().requires_grad_(True)
                        (d,) = torch.autograd.grad(arg(zz), zz, d)
        return loss
