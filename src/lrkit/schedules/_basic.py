"""Constant, linear and step-wise schedules."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from lrkit.errors import ScheduleError
from lrkit.schedules._base import Schedule, arg, check_boundaries, schedule_factory

__all__ = ["constant", "linear", "multistep", "piecewise", "step_decay"]


@dataclasses.dataclass(frozen=True, repr=False)
class _Constant(Schedule):
    lr: float = arg(low=0.0)

    def formula(self, k: Any, xp: Any) -> Any:
        return k * 0.0 + self.lr


@schedule_factory("constant", _Constant)
def constant(lr: float) -> Schedule:
    r"""A constant learning rate.

    .. math:: s(k) = \text{lr}

    >>> constant(lr=0.1)(1000)
    0.1
    """
    return _Constant(lr)


@dataclasses.dataclass(frozen=True, repr=False)
class _Linear(Schedule):
    start: float = arg(low=0.0)
    end: float = arg(low=0.0)
    steps: int = arg("int")

    def formula(self, k: Any, xp: Any) -> Any:
        t = xp.minimum(k, self.steps) / self.steps
        return self.start + (self.end - self.start) * t

    @property
    def horizon(self) -> int:
        return self.steps


@schedule_factory("linear", _Linear)
def linear(start: float, *, end: float, steps: int) -> Schedule:
    r"""Linear interpolation from ``start`` to ``end`` over ``steps`` updates, then held at ``end``.

    .. math:: s(k) = \text{start} + (\text{end} - \text{start}) \cdot \min(k, T) / T

    PyTorch's ``LinearLR(start_factor, end_factor, total_iters)`` is
    ``linear(lr * start_factor, end=lr * end_factor, steps=total_iters)``.

    >>> s = linear(start=1.0, end=0.0, steps=4)
    >>> [s(k) for k in range(6)]
    [1.0, 0.75, 0.5, 0.25, 0.0, 0.0]
    """
    return _Linear(start, end, steps)


@dataclasses.dataclass(frozen=True, repr=False)
class _StepDecay(Schedule):
    lr: float = arg(low=0.0)
    step_size: int = arg("int")
    gamma: float = arg(default=0.1, low=0.0, low_open=True)

    def formula(self, k: Any, xp: Any) -> Any:
        return self.lr * xp.power(self.gamma, xp.floor(k / self.step_size))


@schedule_factory("step_decay", _StepDecay)
def step_decay(lr: float, *, step_size: int, gamma: float = 0.1) -> Schedule:
    r"""Multiply the LR by ``gamma`` every ``step_size`` updates (PyTorch ``StepLR``).

    .. math:: s(k) = \text{lr} \cdot \gamma^{\lfloor k / \text{step\_size} \rfloor}

    >>> s = step_decay(lr=1.0, step_size=2, gamma=0.5)
    >>> [s(k) for k in range(5)]
    [1.0, 1.0, 0.5, 0.5, 0.25]
    """
    return _StepDecay(lr, step_size, gamma)


@dataclasses.dataclass(frozen=True, repr=False)
class _MultiStep(Schedule):
    lr: float = arg(low=0.0)
    milestones: tuple[int, ...] = arg("ints", low=0)
    gamma: float = arg(default=0.1, low=0.0, low_open=True)

    def formula(self, k: Any, xp: Any) -> Any:
        n = k * 0.0
        for m in self.milestones:
            n = n + xp.where(k >= m, 1.0, 0.0)
        return self.lr * xp.power(self.gamma, n)

    def validate(self) -> None:
        ms = list(self.milestones)
        if ms != sorted(ms):
            raise ScheduleError(
                f"{self.name}: milestones must be non-decreasing, but got milestones={ms}"
            )


@schedule_factory("multistep", _MultiStep)
def multistep(lr: float, *, milestones: Sequence[int], gamma: float = 0.1) -> Schedule:
    r"""Multiply the LR by ``gamma`` at each milestone (PyTorch ``MultiStepLR``).

    .. math:: s(k) = \text{lr} \cdot \gamma^{|\{m \in \text{milestones} : m \le k\}|}

    The switch happens *at* the milestone: the update with index ``m`` already runs at the
    reduced LR, as in PyTorch and optax (timm switches one update earlier, Keras's
    ``PiecewiseConstantDecay`` one later). Milestones must be non-decreasing; a repeated
    milestone applies ``gamma`` twice, as in PyTorch.

    >>> s = multistep(lr=1.0, milestones=[2, 4], gamma=0.1)
    >>> [round(s(k), 6) for k in range(6)]
    [1.0, 1.0, 0.1, 0.1, 0.01, 0.01]
    """
    return _MultiStep(lr, milestones, gamma)  # type: ignore[arg-type]  # checked on the fields


@dataclasses.dataclass(frozen=True, repr=False)
class _Piecewise(Schedule):
    boundaries: tuple[int, ...] = arg("ints")
    values: tuple[float, ...] = arg("floats", low=0.0)

    def formula(self, k: Any, xp: Any) -> Any:
        out = k * 0.0 + self.values[0]
        for b, v in zip(self.boundaries, self.values[1:], strict=True):
            out = xp.where(k >= b, v, out)
        return out

    @property
    def horizon(self) -> int | None:
        return self.boundaries[-1] if self.boundaries else None

    def validate(self) -> None:
        check_boundaries(self.name, self.boundaries, "values", self.values)


@schedule_factory("piecewise", _Piecewise)
def piecewise(boundaries: Sequence[int], *, values: Sequence[float]) -> Schedule:
    r"""Piecewise-constant LR: ``values[i]`` from ``boundaries[i-1]`` up to ``boundaries[i]``.

    .. math:: s(k) = v_i \quad\text{for}\quad b_{i-1} \le k < b_i, \qquad b_{-1} = 0, b_n = \infty

    ``len(values) == len(boundaries) + 1``, boundaries strictly increasing and positive. The
    value changes *at* the boundary (optax ``piecewise_constant_schedule`` semantics with
    absolute values); Keras's ``PiecewiseConstantDecay`` changes one update later.

    >>> s = piecewise(boundaries=[2, 4], values=[1.0, 0.5, 0.1])
    >>> [s(k) for k in range(6)]
    [1.0, 1.0, 0.5, 0.5, 0.1, 0.1]
    """
    return _Piecewise(boundaries, values)  # type: ignore[arg-type]  # checked on the fields
