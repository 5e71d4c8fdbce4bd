"""Warmup-stable-decay ("trapezoidal") schedules."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from lrkit.errors import ScheduleError
from lrkit.schedules._base import Schedule, arg, schedule_factory

__all__ = ["wsd"]


@dataclasses.dataclass(frozen=True, repr=False)
class _WSD(Schedule):
    lr: float = arg(low=0.0)
    steps: int = arg("int")
    decay_steps: int = arg("int")
    warmup_steps: int = arg("int", default=0, low=0)
    decay_shape: str = arg("choice", default="1-sqrt", choices=("1-sqrt", "linear", "cosine"))
    min_lr: float = arg(default=0.0, low=0.0)

    def formula(self, k: Any, xp: Any) -> Any:
        decay_start = self.steps - self.decay_steps
        p = xp.minimum(xp.maximum(k - decay_start, 0.0), float(self.decay_steps)) / self.decay_steps
        if self.decay_shape == "linear":
            f = 1.0 - p
        elif self.decay_shape == "cosine":
            f = 0.5 * (1.0 + xp.cos(math.pi * p))
        else:
            f = 1.0 - xp.sqrt(p)
        out = self.min_lr + (self.lr - self.min_lr) * f
        if self.warmup_steps:
            # the same rule as the warmup() combinator: no update runs at LR 0
            ramp = self.lr * (k + 1.0) / (self.warmup_steps + 1.0)
            out = xp.where(k < self.warmup_steps, ramp, out)
        return out

    @property
    def horizon(self) -> int:
        return self.steps

    def validate(self) -> None:
        if self.warmup_steps + self.decay_steps > self.steps:
            raise ScheduleError(
                f"{self.name}: warmup_steps + decay_steps must be <= steps, but got "
                f"warmup_steps={self.warmup_steps}, decay_steps={self.decay_steps}, "
                f"steps={self.steps}"
            )


@schedule_factory("wsd", _WSD)
def wsd(
    lr: float,
    *,
    steps: int,
    decay_steps: int,
    warmup_steps: int = 0,
    decay_shape: str = "1-sqrt",
    min_lr: float = 0.0,
) -> Schedule:
    r"""Warmup-stable-decay: a linear warmup, a long constant phase, a short cooldown.

    Over ``steps`` updates in all: ``warmup_steps`` rising linearly to ``lr`` (update ``k`` at
    :math:`\text{lr}\,(k+1)/(W+1)`), constant ``lr``, then the last ``decay_steps`` decay to
    ``min_lr`` with progress :math:`p \in [0, 1]`:

    .. math:: s(k) = \text{min\_lr} + (\text{lr} - \text{min\_lr}) \cdot f(p), \quad
              f = 1 - \sqrt{p}\ (\text{"1-sqrt"}),\ 1 - p\ (\text{"linear"}),\
              (1 + \cos \pi p)/2\ (\text{"cosine"})

    The 1−sqrt cooldown matches cosine at equal compute (Hägele et al., 2024). transformers'
    ``get_wsd_schedule`` with ``W`` warmup steps equals
    ``warmup(wsd(lr, steps=steps - W, decay_steps=decay_steps, decay_shape=...), steps=W,
    start=min_lr, zero_first=True)``.

    >>> s = wsd(lr=1.0, steps=10, decay_steps=4, decay_shape="linear")
    >>> [s(k) for k in range(11)]
    [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.75, 0.5, 0.25, 0.0]
    """
    return _WSD(lr, steps, decay_steps, warmup_steps, decay_shape, min_lr)
