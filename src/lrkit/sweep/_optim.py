"""Optimizer updates vectorised over K copies held in one flat ``(K, P)`` buffer.

Every copy's parameters are one row of a contiguous ``(K, P)`` tensor, so an update is a
handful of large element-wise ops whatever the number of layers. The per-copy learning rate
is a ``(K, 1)`` tensor broadcast along the row. The order of operations follows
``torch/optim/sgd.py::_single_tensor_sgd`` and ``torch/optim/adam.py::_single_tensor_adam``
(PyTorch 2.13) so that float64 trajectories agree with ``torch.optim`` to rounding.
"""

from __future__ import annotations

import math

import torch

__all__ = ["OPTIMIZERS", "FlatOptimizer"]

OPTIMIZERS = ("sgd", "sgd_momentum", "adam", "adamw")


class FlatOptimizer:
    """SGD (with momentum), Adam or AdamW over a ``(K, P)`` parameter buffer."""

    def __init__(
        self,
        kind: str,
        params: torch.Tensor,
        *,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        fused: bool = True,
    ) -> None:
        self.kind = kind
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.beta1, self.beta2 = betas
        self.eps = eps
        self.t = 0
        self._fused = fused and kind in ("adam", "adamw")
        self._scratch: torch.Tensor | None = None
        self._step_t: torch.Tensor | None = None
        # A zero-initialised buffer gives exactly torch's first step (buf = grad) when
        # dampening is 0: 0 * m + g == g.
        self.state: list[torch.Tensor] = []
        if kind == "sgd_momentum":
            self.state = [torch.zeros_like(params)]
        elif kind in ("adam", "adamw"):
            self.state = [torch.zeros_like(params), torch.zeros_like(params)]

    def _fused_step(self, p: torch.Tensor, g: torch.Tensor, lr: torch.Tensor) -> None:
        # torch's fused Adam kernel takes one LR for all tensors, so run it at LR 1 on a
        # zeroed scratch "parameter": it then holds -m_hat / (sqrt(v_hat) + eps), and one
        # addcmul applies each copy's LR. 3 passes over (K, P) instead of 8.
        if self._scratch is None:
            self._scratch = torch.empty_like(p)
            self._step_t = torch.zeros((), dtype=torch.float32, device=p.device)
        assert self._step_t is not None
        upd = self._scratch.zero_()
        self._step_t += 1
        torch._fused_adam_(
            [upd], [g], [self.state[0]], [self.state[1]], [], [self._step_t],
            lr=1.0, beta1=self.beta1, beta2=self.beta2, weight_decay=0.0, eps=self.eps,
            amsgrad=False, maximize=False,
        )  # fmt: skip
        p.addcmul_(upd, lr)

    def copy_rows(self, dst: torch.Tensor, src: torch.Tensor) -> None:
        """Copy copies ``src``'s optimizer state (momentum, Adam moments) into rows ``dst``.

        ``dst`` and ``src`` are index tensors of equal length; ``dst`` must not repeat. The
        step count (Adam's bias correction) is one counter shared by all copies, which always
        make the same number of updates, so there is no per-copy count to copy.
        """
        for buf in self.state:
            buf[dst] = buf[src]

    @staticmethod
    def state_slots(kind: str) -> int:
        """Number of ``(K, P)`` state buffers ``kind`` keeps (for the memory estimate)."""
        return {"sgd": 0, "sgd_momentum": 1, "adam": 3, "adamw": 3}[kind]  # Adam: + scratch

    def step(self, p: torch.Tensor, g: torch.Tensor, lr: torch.Tensor) -> None:
        """Update ``p`` in place from the gradient ``g`` (overwritten) and per-copy ``lr`` (K, 1)."""
        self.t += 1
        wd = self.weight_decay
        if self.kind in ("sgd", "sgd_momentum"):
            if wd != 0:
                g.add_(p, alpha=wd)
            if self.kind == "sgd_momentum":
                buf = self.state[0]
                buf.mul_(self.momentum).add_(g)
                g = buf
            p.addcmul_(g, lr, value=-1)
            return
        exp_avg, exp_avg_sq = self.state
        if wd != 0:
            if self.kind == "adamw":
                p.mul_(1 - lr * wd)
            else:
                g.add_(p, alpha=wd)
        if self._fused:
            try:
                self._fused_step(p, g, lr)
                return
            except (RuntimeError, NotImplementedError, AttributeError):
                self._fused = False  # no fused kernel for this device/dtype: plain ops below
        exp_avg.lerp_(g, 1 - self.beta1)
        exp_avg_sq.mul_(self.beta2).addcmul_(g, g, value=1 - self.beta2)
        bias_correction1 = 1 - self.beta1**self.t
        bias_correction2_sqrt = math.sqrt(1 - self.beta2**self.t)
        step_size = lr / bias_correction1
        denom = exp_avg_sq.sqrt().div_(bias_correction2_sqrt).add_(self.eps)
        p.addcdiv_(exp_avg * step_size, denom, value=-1)
