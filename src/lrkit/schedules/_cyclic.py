"""Cyclic learning rates (Smith 2017) and the one-cycle policy (Smith & Topin 2019)."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

from lrkit.errors import ScheduleError
from lrkit.schedules._base import (
    Schedule,
    check_bool,
    check_choice,
    check_float,
    check_int,
    schedule_factory,
)

__all__ = ["cyclic", "one_cycle"]


@dataclasses.dataclass(frozen=True, repr=False)
class _Cyclic(Schedule):
    base_lr: float
    max_lr: float
    step_size_up: int
    step_size_down: int | None = None
    mode: str = "triangular"
    gamma: float = 1.0

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
    w = "cyclic"
    b = check_float(w, "base_lr", base_lr, low=0.0)
    m = check_float(w, "max_lr", max_lr, low=0.0)
    if m < b:
        raise ScheduleError(f"{w}: max_lr must be >= base_lr, but got base_lr={b!r}, max_lr={m!r}")
    down = None if step_size_down is None else check_int(w, "step_size_down", step_size_down)
    return _Cyclic(
        b,
        m,
        check_int(w, "step_size_up", step_size_up),
        down,
        check_choice(w, "mode", mode, ("triangular", "triangular2", "exp_range")),
        check_float(w, "gamma", gamma, low=0.0, low_open=True, high=1.0),
    )


@dataclasses.dataclass(frozen=True, repr=False)
class _OneCycle(Schedule):
    max_lr: float
    steps: int
    pct_start: float = 0.3
    div_factor: float = 25.0
    final_div_factor: float = 1e4
    anneal: str = "cos"
    three_phase: bool = False

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


@schedule_factory("one_cycle", _OneCycle)
def one_cycle(
    max_lr: float,
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
    w = "one_cycle"
    s = _OneCycle(
        check_float(w, "max_lr", max_lr, low=0.0),
        check_int(w, "steps", steps, low=2),
        check_float(w, "pct_start", pct_start, low=0.0, high=1.0, low_open=True, high_open=True),
        check_float(w, "div_factor", div_factor, low=0.0, low_open=True),
        check_float(w, "final_div_factor", final_div_factor, low=0.0, low_open=True),
        check_choice(w, "anneal", anneal, ("cos", "linear")),
        check_bool(w, "three_phase", three_phase),
    )
    begin = 0.0
    for end, _, _ in s.phases():
        if not end > begin:
            raise ScheduleError(
                f"{w}: pct_start={pct_start!r} with steps={steps!r} leaves a phase with no "
                f"updates; use more steps or a pct_start nearer the middle"
            )
        begin = end
    if not math.isfinite(s.max_lr / s.div_factor / s.final_div_factor):
        raise ScheduleError(
            f"{w}: div factors give a non-finite LR, but got max_lr={max_lr!r}, "
            f"div_factor={div_factor!r}, final_div_factor={final_div_factor!r}"
        )
    return s
