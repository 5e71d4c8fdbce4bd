"""Combinators: build big schedules from small ones (warmup, join, scale, clip)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

from lrkit.errors import ScheduleError
from lrkit.schedules._base import (
    Schedule,
    check_bool,
    check_choice,
    check_float,
    check_int,
    check_schedule,
    schedule_factory,
)

__all__ = ["clip", "join", "scale", "warmup"]


@dataclasses.dataclass(frozen=True, repr=False)
class _Warmup(Schedule):
    schedule: Schedule
    steps: int
    start: float = 0.0
    shape: str = "linear"
    zero_first: bool = False

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
    w = "warmup"
    sh = check_choice(w, "shape", shape, ("linear", "cosine", "exponential"))
    st = check_float(w, "start", start, low=0.0)
    if sh == "exponential" and st <= 0.0:
        raise ScheduleError(f"{w}: shape='exponential' needs start > 0, but got start={start!r}")
    return _Warmup(
        check_schedule(w, "schedule", schedule),
        check_int(w, "steps", steps),
        st,
        sh,
        check_bool(w, "zero_first", zero_first),
    )


@dataclasses.dataclass(frozen=True, repr=False)
class _Join(Schedule):
    schedules: tuple[Schedule, ...]
    boundaries: tuple[int, ...]

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


@schedule_factory("join", _Join)
def join(schedules: Sequence[Schedule], boundaries: Sequence[int]) -> Schedule:
    r"""Run ``schedules[i]`` from ``boundaries[i-1]`` to ``boundaries[i]``, each from its own step 0.

    .. math:: s(k) = s_i(k - b_{i-1}) \quad\text{for}\quad b_{i-1} \le k < b_i, \qquad b_{-1} = 0

    (optax ``join_schedules`` semantics.) ``len(boundaries) == len(schedules) - 1``.

    >>> from lrkit.schedules import constant, linear
    >>> s = join([linear(0.0, 1.0, 2), constant(0.5)], boundaries=[2])
    >>> [s(k) for k in range(4)]
    [0.0, 0.5, 0.5, 0.5]
    """
    w = "join"
    if isinstance(schedules, Schedule) or not isinstance(schedules, Sequence) or not schedules:
        raise ScheduleError(f"{w}: schedules must be a non-empty list, but got {schedules!r}")
    ss = tuple(check_schedule(w, f"schedules[{i}]", s) for i, s in enumerate(schedules))
    if isinstance(boundaries, str | bytes) or not isinstance(boundaries, Sequence):
        raise ScheduleError(f"{w}: boundaries must be a list of integers, but got {boundaries!r}")
    bs = tuple(check_int(w, f"boundaries[{i}]", b) for i, b in enumerate(boundaries))
    if len(bs) != len(ss) - 1:
        raise ScheduleError(
            f"{w}: needs len(schedules) - 1 boundaries, but got {len(bs)} boundaries for "
            f"{len(ss)} schedules: boundaries={list(bs)}"
        )
    if any(b2 <= b1 for b1, b2 in zip(bs, bs[1:], strict=False)):
        raise ScheduleError(f"{w}: boundaries must be strictly increasing, but got {list(bs)}")
    return _Join(ss, bs)


@dataclasses.dataclass(frozen=True, repr=False)
class _Scale(Schedule):
    schedule: Schedule
    factor: float

    def formula(self, k: Any, xp: Any) -> Any:
        return self.factor * self.schedule.evaluate(k, xp)

    @property
    def horizon(self) -> int | None:
        return self.schedule.horizon


@schedule_factory("scale", _Scale)
def scale(schedule: Schedule, factor: float) -> Schedule:
    r"""Multiply a schedule by a constant: :math:`s(k) = \text{factor} \cdot s_{\text{inner}}(k)`.

    ``schedule * factor`` is the same.

    >>> from lrkit.schedules import constant
    >>> scale(constant(0.5), 0.1)(0)
    0.05
    """
    w = "scale"
    return _Scale(
        check_schedule(w, "schedule", schedule), check_float(w, "factor", factor, low=0.0)
    )


@dataclasses.dataclass(frozen=True, repr=False)
class _Clip(Schedule):
    schedule: Schedule
    min_lr: float = 0.0
    max_lr: float = math.inf

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
def clip(schedule: Schedule, min_lr: float = 0.0, max_lr: float | None = None) -> Schedule:
    r"""Clamp a schedule into ``[min_lr, max_lr]`` (``max_lr=None``: no upper bound).

    .. math:: s(k) = \min(\max(s_{\text{inner}}(k), \text{min\_lr}), \text{max\_lr})

    >>> from lrkit.schedules import linear
    >>> s = clip(linear(1.0, 0.0, 10), min_lr=0.2, max_lr=0.5)
    >>> [round(s(k), 2) for k in (0, 7, 10)]
    [0.5, 0.3, 0.2]
    """
    w = "clip"
    lo = check_float(w, "min_lr", min_lr, low=0.0)
    hi = math.inf if max_lr is None else check_float(w, "max_lr", max_lr, allow_inf=True)
    if hi < lo:
        raise ScheduleError(f"{w}: max_lr must be >= min_lr, but got min_lr={lo!r}, max_lr={hi!r}")
    return _Clip(check_schedule(w, "schedule", schedule), lo, hi)
