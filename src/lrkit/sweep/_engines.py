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

from typing import Any

import torch
from torch import nn

from lrkit._validate import check_choice
from lrkit.errors import ConfigError
from lrkit.sweep._layout import Engine, LossFn
from lrkit.sweep._mlp import MLPEngine

__all__ = ["Engine", "FuncEngine", "MLPEngine", "make_engine"]


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


def make_engine(model: nn.Module, loss_fn: LossFn, engine: str = "auto") -> Engine:
    """Pick the batched MLP path when the model allows it, else ``torch.func``."""
    check_choice("sweep", "engine", engine, ("auto", "vmap", "batched-mlp"))
    if engine == "batched-mlp" and not MLPEngine.supports(model):
        raise ConfigError(
            "engine='batched-mlp' needs an nn.Sequential of nn.Linear and element-wise "
            f"activations, but got model={type(model).__name__}"
        )
    if engine != "vmap" and MLPEngine.supports(model):
        return MLPEngine(model, loss_fn)
    return FuncEngine(model, loss_fn)
