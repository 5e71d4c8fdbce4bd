"""Cyclic learning rates (Smith 2017) and the one-cycle policy (Smith & Topin 2019)."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from lrkit.errors import ScheduleError
from lrkit.schedules._base import Schedule, arg, ordered, schedule_factory

__all__ = ["cyclic", "one_cycle"]

_MODES = ("triangular", "triangular2", "exp_range")


@dataclasses.dataclass(frozen=True, repr=False)
class _Cyclic(Schedule):
    base_lr: float = arg(low=0.0)
    max_lr: float = arg(low=0.0)
    step_size_up: int = arg("int")
    step_size_down: int | None = arg("int", default=None, optional=True)
    mode: str = arg("choice", default="triangular", choices=_MODES)
    gamma: float = arg(default=1.0, low=0.0, low_open=True, high=1.0)

    def validate(self) -> None:
        ordered(self.name, "base_lr", self.base_lr, "max_lr", self.max_lr)

    def formula(self, k: Any, xp: Any) -> Any:
        up = float(self.step_size_up)
        down = float(self.step_size_down if self.step_size_down is not None else self.step_size_up)
        total = up + down
        ratio = up / total
        # PyTorch's CyclicLR rule (get_lr), written to stay accurate in float32
        cycle = xp.floor(1.0 + k / total)
        # position in the cycle without cancelling large numbers (float32 under JAX/Keras)
        x = (k - (cycle - 1.0) * total) / total
        scale = xp.where(x <= ratio, x / ratio, (x - 1.0) / (ratio - 1.0))
        height = (self.max_lr - self.base_lr) * scale
        if self.mode == "triangular":
            return self.base_lr + height * 1.0
        if self.mode == "triangular2":
            # 0.5**(c-1) == 1/2**(c-1) exactly, but underflows quietly instead of overflowing
            return self.base_lr + height * xp.power(0.5, cycle - 1.0)
        return self.base_lr + height * xp.power(self.gamma, k)


@schedule_factory("cyclic", _Cyclic)
def cyclic(
    base_lr: float,
    *,
    max_lr: float,
    step_size_up: int,
    step_size_down: int | None = None,
    mode: str = "triangular",
    gamma: float = 1.0,
) -> Schedule:
    r"""Cyclical learning rate between ``base_lr`` and ``max_lr`` (Smith, 2017).

    One cycle rises for ``step_size_up`` updates and falls for ``step_size_down`` (default: the
    same). With :math:`x \in [0, 1)` the position in the current cycle :math:`c` (from 1) and
    :math:`r = \text{up} / (\text{up} + \text{down})`:

    .. math:: s(k) = \text{base} + (\text{max} - \text{base}) \cdot
              \begin{cases} x / r & x \le r \\ (x - 1)/(r - 1) & x > r \end{cases}
              \cdot \text{amp}(k)

    with ``amp = 1`` (``triangular``), :math:`2^{-(c-1)}` (``triangular2``) or
    :math:`\gamma^k` (``exp_range``). Matches PyTorch ``CyclicLR`` (momentum cycling aside).

    >>> s = cyclic(base_lr=0.1, max_lr=1.0, step_size_up=2)
    >>> [round(s(k), 2) for k in range(6)]
    [0.1, 0.55, 1.0, 0.55, 0.1, 0.55]
    """
    return _Cyclic(base_lr, max_lr, step_size_up, step_size_down, mode, gamma)


@dataclasses.dataclass(frozen=True, repr=False)
class _OneCycle(Schedule):
    max_lr: float = arg(low=0.0)
    steps: int = arg("int", low=2)
    pct_start: float = arg(default=0.3, low=0.0, high=1.0, low_open=True, high_open=True)
    div_factor: float = arg(default=25.0, low=0.0, low_open=True)
    final_div_factor: float = arg(default=1e4, low=0.0, low_open=True)
    anneal: str = arg("choice", default="cos", choices=("cos", "linear"))
    three_phase: bool = arg("bool", default=False)

    def phases(self) -> list[tuple[float, float, float]]:
        """``(end_step, start_lr, end_lr)`` of each phase, with PyTorch's phase boundaries."""
        initial = self.max_lr / self.div_factor
        final = initial / self.final_div_factor
        up_end = float(self.pct_start * self.steps) - 1.0
        if self.three_phase:
            return [
                (up_end, initial, self.max_lr),
                (float(2 * self.pct_start * self.steps) - 2.0, self.max_lr, initial),
                (float(self.steps) - 1.0, initial, final),
            ]
        return [(up_end, initial, self.max_lr), (float(self.steps) - 1.0, self.max_lr, final)]

    def _anneal(self, start: float, end: float, pct: Any, xp: Any) -> Any:
        if self.anneal == "cos":
            return end + (start - end) / 2.0 * (xp.cos(math.pi * pct) + 1.0)
        return (end - start) * pct + start

    def formula(self, k: Any, xp: Any) -> Any:
        phases = self.phases()
        k = xp.minimum(k, phases[-1][0])  # held at the final LR after the last update
        out = k * 0.0
        begin = 0.0
        # walk the phases from last to first so that the earliest phase containing k wins
        bounds = []
        for end, lo, hi in phases:
            bounds.append((begin, end, lo, hi))
            begin = end
        for begin, end, lo, hi in reversed(bounds):
            pct = (k - begin) / (end - begin)
            out = xp.where(k <= end, self._anneal(lo, hi, pct, xp), out)
        return out

    @property
    def horizon(self) -> int:
        return self.steps

    def validate(self) -> None:
        begin = 0.0
        for end, _, _ in self.phases():
            if not end > begin:
                raise ScheduleError(
                    f"{self.name}: pct_start={self.pct_start!r} with steps={self.steps!r} leaves "
                    "a phase with no updates; use more steps or a pct_start nearer the middle"
                )
            begin = end
        if not math.isfinite(self.max_lr / self.div_factor / self.final_div_factor):
            raise ScheduleError(
                f"{self.name}: div factors give a non-finite LR, but got max_lr={self.max_lr!r}, "
                f"div_factor={self.div_factor!r}, final_div_factor={self.final_div_factor!r}"
            )


@schedule_factory("one_cycle", _OneCycle)
def one_cycle(
    max_lr: float,
    *,
    steps: int,
    pct_start: float = 0.3,
    div_factor: float = 25.0,
    final_div_factor: float = 1e4,
    anneal: str = "cos",
    three_phase: bool = False,
) -> Schedule:
    r"""The one-cycle policy (Smith & Topin, 2019), with PyTorch ``OneCycleLR``'s phases.

    The LR goes from ``max_lr / div_factor`` up to ``max_lr`` until update
    ``pct_start * steps - 1``, then down to ``max_lr / (div_factor * final_div_factor)`` at
    update ``steps - 1``; with ``three_phase`` it first comes back to the initial LR at
    ``2 * pct_start * steps - 2`` and then anneals to the minimum. Each phase interpolates with
    ``anneal="cos"`` (:math:`e + (s - e)(1 + \cos \pi p)/2`) or ``"linear"``.

    PyTorch raises past ``steps``; here the LR is held at its final value.

    >>> s = one_cycle(max_lr=1.0, steps=10, pct_start=0.5, anneal="linear")
    >>> round(s(0), 3), round(s(4), 3), round(s(9), 7)
    (0.04, 1.0, 4e-06)
    """
    return _OneCycle(max_lr, steps, pct_start, div_factor, final_div_factor, anneal, three_phase)
