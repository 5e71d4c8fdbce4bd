"""Exponential, inverse-time, inverse-square-root, polynomial and tanh decays."""

from __future__ import annotations

import dataclasses
from typing import Any

from lrkit.errors import ScheduleError
from lrkit.schedules._base import Schedule, arg, schedule_factory

__all__ = ["exponential", "inverse_sqrt", "inverse_time", "polynomial", "tanh_decay"]


@dataclasses.dataclass(frozen=True, repr=False)
class _Exponential(Schedule):
    lr: float = arg(low=0.0)
    rate: float = arg(low=0.0, low_open=True)
    steps: int = arg("int", default=1)
    staircase: bool = arg("bool", default=False)
    min_lr: float = arg(default=0.0, low=0.0)

    def formula(self, k: Any, xp: Any) -> Any:
        return xp.maximum(self.min_lr, self.lr * xp.power(self.rate, _progress(self, k, xp)))


def _progress(s: _Exponential | _InverseTime, k: Any, xp: Any) -> Any:
    """Decay periods elapsed at step ``k``: ``k / steps``, floored when staircased."""
    p = k / s.steps
    return xp.floor(p) if s.staircase else p


@schedule_factory("exponential", _Exponential)
def exponential(
    lr: float, *, rate: float, steps: int = 1, staircase: bool = False, min_lr: float = 0.0
) -> Schedule:
    r"""Exponential decay (or growth when ``rate > 1``), optionally staircased, with a floor.

    .. math:: s(k) = \max\left(\text{min\_lr},\ \text{lr} \cdot \text{rate}^{p}\right),
              \quad p = k / \text{steps} \ (\lfloor k / \text{steps} \rfloor \text{ if staircase})

    PyTorch ``ExponentialLR(gamma)`` is ``exponential(lr, rate=gamma)``; Keras
    ``ExponentialDecay(lr, decay_steps, decay_rate, staircase)`` and optax
    ``exponential_decay`` (without its ``transition_begin``) match with ``steps=decay_steps``.

    >>> s = exponential(lr=1.0, rate=0.5, steps=2)
    >>> [round(s(k), 4) for k in range(5)]
    [1.0, 0.7071, 0.5, 0.3536, 0.25]
    """
    return _Exponential(lr, rate, steps, staircase, min_lr)


@dataclasses.dataclass(frozen=True, repr=False)
class _InverseTime(Schedule):
    lr: float = arg(low=0.0)
    rate: float = arg(low=0.0)
    steps: int = arg("int", default=1)
    staircase: bool = arg("bool", default=False)

    def formula(self, k: Any, xp: Any) -> Any:
        return self.lr / (1.0 + self.rate * _progress(self, k, xp))


@schedule_factory("inverse_time", _InverseTime)
def inverse_time(lr: float, *, rate: float, steps: int = 1, staircase: bool = False) -> Schedule:
    r"""Inverse-time decay (Keras ``InverseTimeDecay``).

    .. math:: s(k) = \frac{\text{lr}}{1 + \text{rate} \cdot p},
              \quad p = k / \text{steps} \ (\lfloor k / \text{steps} \rfloor \text{ if staircase})

    >>> s = inverse_time(lr=1.0, rate=1.0)
    >>> [s(k) for k in range(4)]
    [1.0, 0.5, 0.3333333333333333, 0.25]
    """
    return _InverseTime(lr, rate, steps, staircase)


@dataclasses.dataclass(frozen=True, repr=False)
class _InverseSqrt(Schedule):
    lr: float = arg(low=0.0)
    timescale: int = arg("int")

    def formula(self, k: Any, xp: Any) -> Any:
        return self.lr / xp.sqrt(1.0 + k / self.timescale)


@schedule_factory("inverse_sqrt", _InverseSqrt)
def inverse_sqrt(lr: float, *, timescale: int) -> Schedule:
    r"""Inverse-square-root decay ("Noam"/T5 style without its warmup).

    .. math:: s(k) = \text{lr} / \sqrt{1 + k / \text{timescale}}

    transformers' ``get_inverse_sqrt_schedule(num_warmup_steps=W, timescale=T)`` is
    ``warmup(inverse_sqrt(lr, timescale=T), steps=W, zero_first=True)``.

    >>> s = inverse_sqrt(lr=1.0, timescale=1)
    >>> [s(k) for k in (0, 3, 8)]
    [1.0, 0.5, 0.3333333333333333]
    """
    return _InverseSqrt(lr, timescale)


@dataclasses.dataclass(frozen=True, repr=False)
class _Polynomial(Schedule):
    lr: float = arg(low=0.0)
    steps: int = arg("int")
    end: float = arg(default=0.0, low=0.0)
    power: float = arg(default=1.0, low=0.0, low_open=True)

    def formula(self, k: Any, xp: Any) -> Any:
        # (T - min(k, T)) / T, not 1 - min(k, T) / T: XLA turns the division into a multiply by
        # 1/T that lands a hair below 1 at k = T, which power < 1 magnifies in float32
        frac = (self.steps - xp.minimum(k, self.steps)) / self.steps
        return (self.lr - self.end) * xp.power(frac, self.power) + self.end

    @property
    def horizon(self) -> int:
        return self.steps


@schedule_factory("polynomial", _Polynomial)
def polynomial(lr: float, *, steps: int, end: float = 0.0, power: float = 1.0) -> Schedule:
    r"""Polynomial decay from ``lr`` to ``end`` over ``steps`` updates, then held at ``end``.

    .. math:: s(k) = (\text{lr} - \text{end}) (1 - \min(k, T)/T)^{\text{power}} + \text{end}

    PyTorch ``PolynomialLR(total_iters, power)`` is
    ``polynomial(lr, steps=total_iters, power=power)``.

    >>> s = polynomial(lr=1.0, steps=4, power=2.0)
    >>> [s(k) for k in range(6)]
    [1.0, 0.5625, 0.25, 0.0625, 0.0, 0.0]
    """
    return _Polynomial(lr, steps, end, power)


@dataclasses.dataclass(frozen=True, repr=False)
class _TanhDecay(Schedule):
    lr: float = arg(low=0.0)
    steps: int = arg("int")
    min_lr: float = arg(default=0.0, low=0.0)
    lower: float = arg(default=-6.0)
    upper: float = arg(default=3.0)

    def formula(self, k: Any, xp: Any) -> Any:
        t = xp.minimum(k, self.steps) / self.steps
        z = self.lower + (self.upper - self.lower) * t
        return self.min_lr + (self.lr - self.min_lr) * 0.5 * (1.0 - xp.tanh(z))

    def validate(self) -> None:
        if self.upper <= self.lower:
            raise ScheduleError(
                f"{self.name}: upper must be > lower, but got "
                f"lower={self.lower!r}, upper={self.upper!r}"
            )

    @property
    def horizon(self) -> int:
        return self.steps


@schedule_factory("tanh_decay", _TanhDecay)
def tanh_decay(
    lr: float, *, steps: int, min_lr: float = 0.0, lower: float = -6.0, upper: float = 3.0
) -> Schedule:
    r"""Hyperbolic-tangent decay (Hsueh et al., 2019, "SGD with hyperbolic-tangent decay").

    .. math:: s(k) = \text{min\_lr} + \frac{\text{lr} - \text{min\_lr}}{2}
              \left(1 - \tanh\left(L + (U - L)\,\min(k, T)/T\right)\right)

    with ``L = lower`` and ``U = upper`` (the paper's defaults -6 and 3); held after ``steps``.

    >>> s = tanh_decay(lr=1.0, steps=100)
    >>> round(s(0), 4), round(s(100), 4)
    (1.0, 0.0025)
    """
    return _TanhDecay(lr, steps, min_lr, lower, upper)
