"""Combinators: build big schedules from small ones (warmup, join, scale, clip)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

from lrkit.errors import ScheduleError
from lrkit.schedules._base import (
    Schedule,
    arg,
    check_boundaries,
    ordered,
    schedule_factory,
)

__all__ = ["clip", "join", "scale", "warmup"]


@dataclasses.dataclass(frozen=True, repr=False)
class _Warmup(Schedule):
    schedule: Schedule = arg("schedule")  # noqa: RUF009  # arg() is a dataclasses.field
    steps: int = arg("int")
    start: float = arg(default=0.0, low=0.0)
    shape: str = arg("choice", default="linear", choices=("linear", "cosine", "exponential"))
    zero_first: bool = arg("bool", default=False)

    def validate(self) -> None:
        if self.shape == "exponential" and self.start <= 0.0:
            raise ScheduleError(
                f"{self.name}: shape='exponential' needs start > 0, but got start={self.start!r}"
            )

    def formula(self, k: Any, xp: Any) -> Any:
        target = self.schedule.evaluate(k * 0.0, xp)
        # the ramp is only used below `steps`; clamping keeps it from overflowing far beyond
        kr = xp.minimum(k, float(self.steps))
        if self.zero_first:
            frac = kr / self.steps
        else:
            frac = (kr + 1.0) / (self.steps + 1.0)
        if self.shape == "linear":
            ramp = self.start + (target - self.start) * frac
        elif self.shape == "cosine":
            ramp = self.start + (target - self.start) * 0.5 * (1.0 - xp.cos(math.pi * frac))
        else:
            ramp = self.start * xp.power(target / self.start, frac)
        after = self.schedule.evaluate(xp.maximum(k - self.steps, 0.0), xp)
        return xp.where(k < self.steps, ramp, after)

    @property
    def horizon(self) -> int | None:
        inner = self.schedule.horizon
        return None if inner is None else self.steps + inner


@schedule_factory("warmup", _Warmup)
def warmup(
    schedule: Schedule,
    *,
    steps: int,
    start: float = 0.0,
    shape: str = "linear",
    zero_first: bool = False,
) -> Schedule:
    r"""Prefix ``schedule`` with ``steps`` warmup updates rising from ``start`` to its first LR.

    With :math:`T` = ``steps``, :math:`v = s_{\text{inner}}(0)` and
    :math:`f = (k + 1) / (T + 1)` (or :math:`k / T` with ``zero_first=True``), for
    :math:`k < T`:

    .. math:: \text{linear: } \text{start} + (v - \text{start}) f, \quad
              \text{cosine: } \text{start} + (v - \text{start}) (1 - \cos \pi f)/2, \quad
              \text{exponential: } \text{start} \cdot (v/\text{start})^{f}

    and :math:`s(k) = s_{\text{inner}}(k - T)` afterwards: the inner schedule starts after the
    warmup. By default no update runs at LR ``start`` (many warmups waste their first update at
    LR 0: transformers#34754); ``zero_first=True`` reproduces that convention exactly.
    ``exponential`` needs ``start > 0``.

    >>> from lrkit.schedules import constant
    >>> s = warmup(constant(1.0), steps=3)
    >>> [s(k) for k in range(5)]
    [0.25, 0.5, 0.75, 1.0, 1.0]
    >>> s = warmup(constant(1.0), steps=4, zero_first=True)
    >>> [s(k) for k in range(5)]
    [0.0, 0.25, 0.5, 0.75, 1.0]
    """
    return _Warmup(schedule, steps, start, shape, zero_first)


@dataclasses.dataclass(frozen=True, repr=False)
class _Join(Schedule):
    schedules: tuple[Schedule, ...] = arg("schedules")
    boundaries: tuple[int, ...] = arg("ints")

    def formula(self, k: Any, xp: Any) -> Any:
        out = self.schedules[0].evaluate(k, xp)
        for b, s in zip(self.boundaries, self.schedules[1:], strict=True):
            out = xp.where(k >= b, s.evaluate(xp.maximum(k - b, 0.0), xp), out)
        return out

    @property
    def horizon(self) -> int | None:
        inner = self.schedules[-1].horizon
        if inner is None:
            return None
        return (self.boundaries[-1] if self.boundaries else 0) + inner

    def validate(self) -> None:
        check_boundaries(self.name, self.boundaries, "schedules", self.schedules)


@schedule_factory("join", _Join)
def join(schedules: Sequence[Schedule], *, boundaries: Sequence[int]) -> Schedule:
    r"""Run ``schedules[i]`` from ``boundaries[i-1]`` to ``boundaries[i]``, each from its own step 0.

    .. math:: s(k) = s_i(k - b_{i-1}) \quad\text{for}\quad b_{i-1} \le k < b_i, \qquad b_{-1} = 0

    (optax ``join_schedules`` semantics.) ``len(boundaries) == len(schedules) - 1``.

    >>> from lrkit.schedules import constant, linear
    >>> s = join([linear(0.0, end=1.0, steps=2), constant(0.5)], boundaries=[2])
    >>> [s(k) for k in range(4)]
    [0.0, 0.5, 0.5, 0.5]
    """
    return _Join(schedules, boundaries)  # type: ignore[arg-type]  # checked on the fields


@dataclasses.dataclass(frozen=True, repr=False)
class _Scale(Schedule):
    schedule: Schedule = arg("schedule")  # noqa: RUF009  # arg() is a dataclasses.field
    factor: float = arg(low=0.0)

    def formula(self, k: Any, xp: Any) -> Any:
        return self.factor * self.schedule.evaluate(k, xp)

    @property
    def horizon(self) -> int | None:
        return self.schedule.horizon


@schedule_factory("scale", _Scale)
def scale(schedule: Schedule, *, factor: float) -> Schedule:
    r"""Multiply a schedule by a constant: :math:`s(k) = \text{factor} \cdot s_{\text{inner}}(k)`.

    ``schedule * factor`` is the same.

    >>> from lrkit.schedules import constant
    >>> scale(constant(0.5), factor=0.1)(0)
    0.05
    """
    return _Scale(schedule, factor)


@dataclasses.dataclass(frozen=True, repr=False)
class _Clip(Schedule):
    schedule: Schedule = arg("schedule")  # noqa: RUF009  # arg() is a dataclasses.field
    min_lr: float = arg(default=0.0, low=0.0)
    max_lr: float = arg(default=math.inf, allow_inf=True)

    def validate(self) -> None:
        ordered(self.name, "min_lr", self.min_lr, "max_lr", self.max_lr)

    def formula(self, k: Any, xp: Any) -> Any:
        v = xp.maximum(self.schedule.evaluate(k, xp), self.min_lr)
        return v if math.isinf(self.max_lr) else xp.minimum(v, self.max_lr)

    @property
    def horizon(self) -> int | None:
        return self.schedule.horizon

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        if math.isinf(self.max_lr):
            d["max_lr"] = None  # JSON has no infinity
        return d


@schedule_factory("clip", _Clip)
def clip(schedule: Schedule, *, min_lr: float = 0.0, max_lr: float | None = None) -> Schedule:
    r"""Clamp a schedule into ``[min_lr, max_lr]`` (``max_lr=None``: no upper bound).

    .. math:: s(k) = \min(\max(s_{\text{inner}}(k), \text{min\_lr}), \text{max\_lr})

    >>> from lrkit.schedules import linear
    >>> s = clip(linear(1.0, end=0.0, steps=10), min_lr=0.2, max_lr=0.5)
    >>> [round(s(k), 2) for k in (0, 7, 10)]
    [0.5, 0.3, 0.2]
    """
    return _Clip(schedule, min_lr, math.inf if max_lr is None else max_lr)
