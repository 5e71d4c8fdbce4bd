"""Framework-free range test: ``step_fn(lr) -> loss`` over an exponential or linear sweep.

After Smith (2017), "Cyclical Learning Rates for Training Neural Networks", §3.3, and the
fastai / torch-lr-finder implementations (EMA smoothing, stop when the smoothed loss exceeds
a multiple of its best).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from lrkit._validate import check_choice, check_float, check_int, check_positive_float
from lrkit.errors import ConfigError, FinderError
from lrkit.finder._result import FinderResult, make_result
from lrkit.finder._suggest import METHODS, MIN_POINTS

if TYPE_CHECKING:
    from lrkit._progress import ProgressBar

__all__ = [
    "MIN_STEPS",
    "SWEEP_DEFAULTS",
    "Sweep",
    "check_sweep",
    "lr_sweep",
    "range_test",
    "run_sweep",
    "sweep_progress",
]

#: Fewest steps a range test may have.
MIN_STEPS = 10
CHOICES = ("auto", *METHODS)


@dataclass(frozen=True)
class Sweep:
    """A checked range-test sweep (see :func:`range_test` for the fields)."""

    start_lr: float
    end_lr: float
    steps: int
    mode: str
    smoothing: float
    diverge: float | None
    method: str

    @property
    def lrs(self) -> np.ndarray:
        return lr_sweep(self.start_lr, self.end_lr, self.steps, self.mode)

    def result(self, lrs: np.ndarray, losses: Any, **kw: Any) -> FinderResult:
        """The :class:`FinderResult` of ``losses`` recorded at ``lrs`` by this sweep."""
        return make_result(
            lrs,
            losses,
            method=self.method,
            smoothing=self.smoothing,
            mode=self.mode,
            steps=self.steps,
            start_lr=self.start_lr,
            end_lr=self.end_lr,
            **kw,
        )

    def test(
        self,
        step_fn: Callable[[float], Any],
        progress: Callable[[int, float, float], None] | None = None,
    ) -> FinderResult:
        """Run the range test with ``step_fn`` (see :func:`range_test`)."""
        lrs = self.lrs
        losses, diverged_at = run_sweep(
            step_fn, lrs, smoothing=self.smoothing, diverge=self.diverge, progress=progress
        )
        return self.result(lrs[: len(losses)], losses, diverged_at=diverged_at)


#: The defaults of a sweep's arguments (those of :func:`range_test`).
SWEEP_DEFAULTS: dict[str, Any] = {
    "start_lr": 1e-7,
    "end_lr": 10.0,
    "steps": 100,
    "mode": "exp",
    "smoothing": 0.98,
    "diverge": 4.0,
    "method": "auto",
}


def check_sweep(
    where: str,
    start_lr: Any,
    end_lr: Any,
    steps: Any,
    mode: Any,
    smoothing: Any,
    diverge: Any,
    method: Any,
) -> Sweep:
    """Check a range test's arguments (``where`` names the caller in errors); raise
    :class:`~lrkit.errors.ConfigError` naming the first bad one."""
    start_lr = check_positive_float(where, "start_lr", start_lr)
    end_lr = check_float(where, "end_lr", end_lr)
    if start_lr >= end_lr:
        raise ConfigError(
            f"{where}: start_lr must be < end_lr, but got start_lr={start_lr!r}, end_lr={end_lr!r}"
        )
    if not isinstance(steps, numbers.Integral):  # stricter than check_int: no 50.0
        raise ConfigError(f"{where}: steps must be an integer, but got steps={steps!r}")
    steps = check_int(where, "steps", steps, low=MIN_STEPS)
    mode = check_choice(where, "mode", mode, ("exp", "linear"))
    smoothing = check_float(where, "smoothing", smoothing, low=0.0, high=1.0, high_open=True)
    if diverge is not None:
        diverge = check_float(where, "diverge", diverge, low=1.0, low_open=True, allow_inf=True)
    check_choice(where, "method", method.lower() if isinstance(method, str) else method, CHOICES)
    return Sweep(start_lr, end_lr, steps, mode, smoothing, diverge, method)


def lr_sweep(start_lr: float, end_lr: float, steps: int, mode: str = "exp") -> np.ndarray:
    """The LRs of a sweep: geometric (``"exp"``) or arithmetic (``"linear"``), ends included.

    >>> lr_sweep(1e-3, 1e-1, 3).tolist()
    [0.001, 0.01, 0.1]
    """
    if mode == "exp":
        return np.geomspace(start_lr, end_lr, steps)
    return np.linspace(start_lr, end_lr, steps)


def sweep_progress(bar: ProgressBar, offset: int = 0) -> Callable[[int, float, float], None]:
    """A sweep's ``progress`` callback showing it on ``bar``, for a sweep (or a repeat) that
    starts after ``offset`` steps."""

    def show(i: int, lr: float, loss: float) -> None:
        bar.update(completed=offset + i + 1, info=f"lr={lr:.2e} loss={loss:.4g}")

    return show


#: The divergence test waits for this many losses (the fewest a suggestion is read from), and
#: measures from the best EMA from then on: at the sweep's first LRs nothing can diverge, and a
#: few batches' losses can differ by more than ``diverge`` times (a summed NLL over sequences
#: of different lengths, negative for some): the EMA of one to three of them is no level to
#: measure a rise from (lrkit's fine-tuning benchmark, fresh32's point process: batch losses
#: -1.3, -0.5, 11.0, 7.4, ... and a sweep stopped after 2 steps, "the loss diverged too
#: early"). A non-finite loss still stops the sweep at once.
DIVERGE_AFTER = MIN_POINTS


def _spread(losses: list[float], best: float) -> float:
    """The scale a rise is measured against where the best loss is not positive (the NLL of a
    density — a flow, a mixture, a point process — can be negative, and "``diverge`` times the
    best" then means nothing): the larger of its size and the losses' median absolute
    deviation."""
    arr = np.asarray(losses, dtype=float)
    return max(abs(best), float(np.median(np.abs(arr - np.median(arr)))))


def run_sweep(
    step_fn: Callable[[float], Any],
    lrs: np.ndarray,
    *,
    smoothing: float,
    diverge: float | None,
    progress: Callable[[int, float, float], None] | None = None,
) -> tuple[list[float], float | None]:
    """Call ``step_fn`` at each LR until the loss diverges; return ``(losses, diverged_at)``.

    The sweep stops at a non-finite loss (not recorded) or, from the
    :data:`DIVERGE_AFTER`-th loss on, when the bias-corrected EMA of the loss exceeds
    ``diverge`` times its lowest value since then (recorded; where that value is not
    positive, when it rises above it by ``diverge - 1`` times :func:`_spread`). ``step_fn`` may raise
    ``StopIteration`` to end the sweep early (its data ran out).
    """
    losses: list[float] = []
    avg, best = 0.0, math.inf
    for i, lr in enumerate(lrs):
        try:
            loss = float(step_fn(float(lr)))
        except StopIteration:
            return losses, None
        if not math.isfinite(loss):
            if i == 0:
                raise FinderError(
                    f"the loss is not finite at the first step (lr={lr:.3g}, loss={loss}): "
                    "check the model, the data and the loss function"
                )
            return losses, float(lr)
        losses.append(loss)
        avg = smoothing * avg + (1.0 - smoothing) * loss
        smoothed = avg / (1.0 - smoothing ** (i + 1))
        if progress is not None:
            progress(i, float(lr), loss)
        if i + 1 >= DIVERGE_AFTER:  # the best of an EMA that averages a few batches already
            best = min(best, smoothed)
        if (
            diverge is not None
            and i >= DIVERGE_AFTER
            and smoothed - best > (diverge - 1.0) * (best if best > 0 else _spread(losses, best))
        ):
            return losses, float(lr)
    return losses, None


def range_test(
    step_fn: Callable[[float], Any],
    *,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    steps: int = 100,
    mode: str = "exp",
    smoothing: float = 0.98,
    diverge: float | None = 4.0,
    method: str = "auto",
    progress: Callable[[int, float, float], None] | None = None,
) -> FinderResult:
    """Run an LR range test on any framework.

    ``step_fn(lr)`` must take one optimizer step (or one accumulation cycle) at ``lr`` and
    return the loss (a float or anything ``float()`` accepts). The sweep goes from
    ``start_lr`` to ``end_lr`` in ``steps`` steps and stops early on divergence.

    >>> import numpy as np
    >>> def step_fn(lr):  # a toy loss: falls until lr ~ 1e-2, then blows up
    ...     return 2.0 - np.exp(-((np.log10(lr) + 2.5) ** 2) / 2) + (lr > 0.1) * 100 * lr
    >>> res = range_test(step_fn, start_lr=1e-6, end_lr=1.0, steps=60)
    >>> 1e-5 < res.suggestion < res.diverged_at
    True
    """
    sweep = check_sweep("range_test", start_lr, end_lr, steps, mode, smoothing, diverge, method)
    return sweep.test(step_fn, progress)
