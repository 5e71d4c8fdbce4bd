"""Two ways of running K copies of one model on a shared batch.

* :class:`FuncEngine` works for any module ``torch.func`` supports: ``vmap`` over
  ``grad_and_value`` of a ``functional_call`` (the pattern of the PyTorch "model
  ensembling" tutorial and the ``torch.func`` docs), with the batch broadcast
  (``in_dims=None``) rather than copied K times.
* :class:`MLPEngine` is a fast path for ``nn.Sequential`` stacks of ``nn.Linear`` and
  element-wise activations: forward with ``baddbmm`` and an explicit backward (no
  autograd graph), writing gradients straight into the flat ``(K, P)`` buffer.

Both keep the copies' parameters as rows of one ``(K, P)`` tensor (see ``_optim.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from lrkit.errors import ConfigError

__all__ = ["Engine", "FuncEngine", "MLPEngine", "make_engine"]

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class Engine:
    """Common layout: named parameter slices of a flat ``(K, P)`` buffer."""

    name = "engine"

    def __init__(self, model: nn.Module, loss_fn: LossFn) -> None:
        self.model = model
        self.loss_fn = loss_fn
        named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        if not named:
            raise ConfigError(
                f"model has no trainable parameters, but got model={type(model).__name__}"
            )
        self.names = [n for n, _ in named]
        self.shapes = [tuple(p.shape) for _, p in named]
        self.sizes = [p.numel() for _, p in named]
        self.offsets = [0]
        for s in self.sizes:
            self.offsets.append(self.offsets[-1] + s)
        self.num_params = self.offsets[-1]
        self._initial = torch.cat([p.detach().reshape(-1) for _, p in named])

    def init_flat(self, k: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        """K identical rows holding the model's current parameters."""
        row = self._initial.to(device=device, dtype=dtype)
        return row.unsqueeze(0).repeat(k, 1)

    def copy_rows(self, dst: torch.Tensor, src: torch.Tensor) -> None:
        """Copies ``dst`` take the per-copy state other than parameters of copies ``src``."""

    def buffers_of(self, copy: int) -> dict[str, torch.Tensor]:
        """Copy ``copy``'s buffers by name (detached CPU clones); none by default."""
        return {}

    def views(self, flat: torch.Tensor) -> list[torch.Tensor]:
        """Per-parameter ``(K, *shape)`` views into ``flat`` (no copies)."""
        k = flat.shape[0]
        return [
            flat[:, a:b].view(k, *shape)
            for a, b, shape in zip(self.offsets[:-1], self.offsets[1:], self.shapes)
        ]

    def loss_and_grad(
        self, flat: torch.Tensor, x: torch.Tensor, y: torch.Tensor, grad: torch.Tensor
    ) -> torch.Tensor:
        """Per-copy losses ``(K,)``; writes the gradients into ``grad`` ``(K, P)``."""
        raise NotImplementedError

    def forward(self, flat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Outputs of all copies on a shared input: ``(K, N, ...)``."""
        raise NotImplementedError


class FuncEngine(Engine):
    """Any module: ``vmap(grad_and_value(functional_call))`` over the copies.

    Buffers (BatchNorm's running statistics and counter) are per copy, stacked ``(K, ...)``
    and updated in place under ``vmap``, as K separate trainings would update their own;
    :meth:`init_flat` resets them to the model's. Frozen parameters are shared.
    """

    name = "vmap"

    def __init__(self, model: nn.Module, loss_fn: LossFn) -> None:
        super().__init__(model, loss_fn)
        from torch.func import functional_call, grad_and_value, vjp, vmap

        self._buffer_init = {n: b.detach().clone() for n, b in model.named_buffers()}
        self._frozen = {n: p.detach() for n, p in model.named_parameters() if not p.requires_grad}
        self._kbuf: dict[str, torch.Tensor] = {}
        names = self.names

        def call(params: Any, buffers: Any, frozen: Any, x: torch.Tensor) -> torch.Tensor:
            state = {**dict(zip(names, params)), **buffers, **frozen}
            out: torch.Tensor = functional_call(model, (state,), (x,))
            return out

        def loss_one(
            params: Any, buffers: Any, frozen: Any, x: torch.Tensor, y: torch.Tensor
        ) -> torch.Tensor:
            return loss_fn(call(params, buffers, frozen, x), y)

        def forward_under_vjp(
            params: Any, buffers: Any, frozen: Any, x: torch.Tensor
        ) -> torch.Tensor:
            # Some ops have no batching rule outside a grad transform (aten::gru/lstm on
            # CPU); under vjp they decompose into ops that have one. The pullback is never
            # called, so this costs a forward plus the saved activations.
            result = vjp(lambda p: call(p, buffers, frozen, x), params)
            return result[0]  # type: ignore[no-any-return]

        # randomness="same": dropout masks are shared by the copies, like the batches.
        self._grad = vmap(
            grad_and_value(loss_one), in_dims=(0, 0, None, None, None), randomness="same"
        )
        self._fwd = vmap(call, in_dims=(0, 0, None, None), randomness="same")
        self._fwd_vjp = vmap(forward_under_vjp, in_dims=(0, 0, None, None), randomness="same")
        self._use_vjp = False

    def init_flat(self, k: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        """K identical rows of parameters; each copy's buffers reset to the model's."""
        self._kbuf = {
            n: (b.to(device=device, dtype=dtype) if b.is_floating_point() else b.to(device))
            .unsqueeze(0)
            .repeat(k, *([1] * b.dim()))
            for n, b in self._buffer_init.items()
        }
        return super().init_flat(k, dtype, device)

    def copy_rows(self, dst: torch.Tensor, src: torch.Tensor) -> None:
        """Copies ``dst`` take the buffers of copies ``src`` (see :meth:`Engine.copy_rows`)."""
        for b in self._kbuf.values():
            b[dst] = b[src]

    def buffers_of(self, copy: int) -> dict[str, torch.Tensor]:
        return {n: b[copy].detach().cpu().clone() for n, b in self._kbuf.items()}

    def _state(self, flat: torch.Tensor) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        k = flat.shape[0]
        if any(b.shape[0] != k or b.device != flat.device for b in self._kbuf.values()) or (
            self._buffer_init and not self._kbuf
        ):
            self.init_flat(k, flat.dtype, flat.device)  # first use without init_flat
        frozen = {n: p.to(device=flat.device, dtype=flat.dtype) for n, p in self._frozen.items()}
        return self._kbuf, frozen

    def loss_and_grad(
        self, flat: torch.Tensor, x: torch.Tensor, y: torch.Tensor, grad: torch.Tensor
    ) -> torch.Tensor:
        buffers, frozen = self._state(flat)
        grads, loss = self._grad(tuple(self.views(flat)), buffers, frozen, x, y)
        k = flat.shape[0]
        torch.cat([g.reshape(k, -1) for g in grads], dim=1, out=grad)
        return loss.detach()

    def forward(self, flat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        buffers, frozen = self._state(flat)
        params = tuple(self.views(flat))
        if not self._use_vjp:
            try:
                out: torch.Tensor = self._fwd(params, buffers, frozen, x)
                return out
            except RuntimeError as exc:
                if "Batching rule not implemented" not in str(exc):
                    raise
                self._use_vjp = True
        out = self._fwd_vjp(params, buffers, frozen, x)
        return out.detach()


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


def make_engine(model: nn.Module, loss_fn: LossFn, engine: str = "auto") -> Engine:
    """Pick the batched MLP path when the model allows it, else ``torch.func``."""
    if engine not in ("auto", "vmap", "batched-mlp"):
        raise ConfigError(
            f"engine must be 'auto', 'vmap' or 'batched-mlp', but got engine={engine!r}"
        )
    if engine == "batched-mlp" and not MLPEngine.supports(model):
        raise ConfigError(
            "engine='batched-mlp' needs an nn.Sequential of nn.Linear and element-wise "
            f"activations, but got model={type(model).__name__}"
        )
    if engine != "vmap" and MLPEngine.supports(model):
        return MLPEngine(model, loss_fn)
    return FuncEngine(model, loss_fn)
