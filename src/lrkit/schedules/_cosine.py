"""Cosine annealing and cosine annealing with warm restarts (SGDR)."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from lrkit.schedules._base import Schedule, arg, schedule_factory

__all__ = ["cosine", "cosine_restarts"]


@dataclasses.dataclass(frozen=True, repr=False)
class _Cosine(Schedule):
    lr: float = arg(low=0.0)
    steps: int = arg("int")
    min_lr: float = arg(default=0.0, low=0.0)

    def formula(self, k: Any, xp: Any) -> Any:
        t = xp.minimum(k, self.steps) / self.steps
        return self.min_lr + (self.lr - self.min_lr) * 0.5 * (1.0 + xp.cos(math.pi * t))

    @property
    def horizon(self) -> int:
        return self.steps


@schedule_factory("cosine", _Cosine)
def cosine(lr: float, *, steps: int, min_lr: float = 0.0) -> Schedule:
    r"""Cosine annealing from ``lr`` to ``min_lr`` over ``steps`` updates, then held at ``min_lr``.

    .. math:: s(k) = \text{min\_lr} + \frac{\text{lr} - \text{min\_lr}}{2}
              \left(1 + \cos\left(\pi \min(k, T) / T\right)\right)

    Past ``steps`` the LR stays at ``min_lr`` (as in optax and Keras). PyTorch's
    ``CosineAnnealingLR(T_max=steps, eta_min=min_lr)`` agrees up to ``steps`` and then rises
    again (it is periodic); use :func:`cosine_restarts` for deliberate restarts.

    >>> s = cosine(lr=1.0, steps=4)
    >>> [round(s(k), 4) for k in range(6)]
    [1.0, 0.8536, 0.5, 0.1464, 0.0, 0.0]
    """
    return _Cosine(lr, steps, min_lr)


@dataclasses.dataclass(frozen=True, repr=False)
class _CosineRestarts(Schedule):
    lr: float = arg(low=0.0)
    period: int = arg("int")
    mult: float = arg(default=1.0, low=1.0)
    decay: float = arg(default=1.0, low=0.0, low_open=True, high=1.0)
    min_lr: float = arg(default=0.0, low=0.0)

    def _start(self, i: Any, xp: Any) -> Any:
        # first step of cycle i: period * (mult^i - 1) / (mult - 1)
        return self.period * (xp.power(self.mult, i) - 1.0) / (self.mult - 1.0)

    def formula(self, k: Any, xp: Any) -> Any:
        if self.mult == 1.0:
            i = xp.floor(k / self.period)
            start = i * self.period
            length = k * 0.0 + self.period
        else:
            m = self.mult
            i = xp.floor(xp.log(1.0 + k * (m - 1.0) / self.period) / math.log(m))
            # the logarithm can land a hair off an integer at cycle boundaries: correct by one
            i = xp.where(self._start(i + 1.0, xp) <= k, i + 1.0, i)
            i = xp.where(self._start(i, xp) > k, i - 1.0, i)
            start = self._start(i, xp)
            length = self.period * xp.power(m, i)
        t = (k - start) / length
        peak = xp.maximum(self.lr * xp.power(self.decay, i), self.min_lr)
        return self.min_lr + (peak - self.min_lr) * 0.5 * (1.0 + xp.cos(math.pi * t))


@schedule_factory("cosine_restarts", _CosineRestarts)
def cosine_restarts(
    lr: float, *, period: int, mult: float = 1.0, decay: float = 1.0, min_lr: float = 0.0
) -> Schedule:
    r"""Cosine annealing with warm restarts (SGDR, Loshchilov & Hutter 2017).

    Cycle :math:`i` lasts :math:`T_i = \text{period} \cdot \text{mult}^i` updates and starts
    at peak :math:`\text{lr} \cdot \text{decay}^i`:

    .. math:: s(k) = \text{min\_lr} + \frac{\text{lr}\,\text{decay}^i - \text{min\_lr}}{2}
              \left(1 + \cos\left(\pi\, t_k / T_i\right)\right)

    where :math:`t_k` is the number of updates since the start of the current cycle. PyTorch's
    ``CosineAnnealingWarmRestarts(T_0, T_mult, eta_min)`` is the case ``decay=1`` with an
    integer ``mult``; PyTorch has no peak decay (pytorch#62640).

    >>> s = cosine_restarts(lr=1.0, period=2, mult=2.0, decay=0.5)
    >>> [round(s(k), 3) for k in range(8)]
    [1.0, 0.5, 0.5, 0.427, 0.25, 0.073, 0.25, 0.24]
    """
    return _CosineRestarts(lr, period, mult, decay, min_lr)
