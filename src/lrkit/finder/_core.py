"""Framework-free range test: ``step_fn(lr) -> loss`` over an exponential or linear sweep.

After Smith (2017), "Cyclical Learning Rates for Training Neural Networks", §3.3, and the
fastai / torch-lr-finder implementations (EMA smoothing, stop when the smoothed loss exceeds
a multiple of its best).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from lrkit.errors import ConfigError, FinderError
from lrkit.finder._result import FinderResult, make_result
from lrkit.finder._suggest import METHODS

__all__ = ["MIN_STEPS", "lr_sweep", "range_test", "run_sweep", "validate"]

#: Fewest steps a range test may have.
MIN_STEPS = 10


def validate(
    *,
    start_lr: float,
    end_lr: float,
    steps: int,
    mode: str,
    smoothing: float,
    diverge: float | None,
    method: str,
) -> None:
    """Raise :class:`~lrkit.errors.ConfigError` naming the first bad argument."""
    if not (isinstance(start_lr, int | float) and math.isfinite(start_lr) and start_lr > 0):
        raise ConfigError(f"start_lr must be a finite number > 0, but got start_lr={start_lr!r}")
    if not (isinstance(end_lr, int | float) and math.isfinite(end_lr)):
        raise ConfigError(f"end_lr must be a finite number, but got end_lr={end_lr!r}")
    if start_lr >= end_lr:
        raise ConfigError(
            f"start_lr must be < end_lr, but got start_lr={start_lr!r}, end_lr={end_lr!r}"
        )
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < MIN_STEPS:
        raise ConfigError(f"steps must be an int >= {MIN_STEPS}, but got steps={steps!r}")
    if mode not in ("exp", "linear"):
        raise ConfigError(f"mode must be 'exp' or 'linear', but got mode={mode!r}")
    if not (isinstance(smoothing, int | float) and 0.0 <= smoothing < 1.0):
        raise ConfigError(f"smoothing must be in [0, 1), but got smoothing={smoothing!r}")
    if diverge is not None and not (isinstance(diverge, int | float) and diverge > 1.0):
        raise ConfigError(f"diverge must be > 1 or None, but got diverge={diverge!r}")
    if not isinstance(method, str) or method.lower() not in ("auto", *METHODS):
        raise ConfigError(
            f"method must be one of auto, {', '.join(METHODS)}, but got method={method!r}"
        )


def lr_sweep(start_lr: float, end_lr: float, steps: int, mode: str = "exp") -> np.ndarray:
    """The LRs of a sweep: geometric (``"exp"``) or arithmetic (``"linear"``), ends included.

    >>> lr_sweep(1e-3, 1e-1, 3).tolist()
    [0.001, 0.01, 0.1]
    """
    if mode == "exp":
        return np.geomspace(start_lr, end_lr, steps)
    return np.linspace(start_lr, end_lr, steps)


def run_sweep(
    step_fn: Callable[[float], Any],
    lrs: np.ndarray,
    *,
    smoothing: float,
    diverge: float | None,
    progress: Callable[[int, float, float], None] | None = None,
) -> tuple[list[float], float | None]:
    """Call ``step_fn`` at each LR until the loss diverges; return ``(losses, diverged_at)``.

    The sweep stops at a non-finite loss (not recorded) or when the bias-corrected EMA of
    the loss exceeds ``diverge`` times its lowest value (recorded). ``step_fn`` may raise
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
        best = min(best, smoothed)
        if diverge is not None and i > 0 and smoothed > diverge * best:
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
    validate(
        start_lr=start_lr,
        end_lr=end_lr,
        steps=steps,
        mode=mode,
        smoothing=smoothing,
        diverge=diverge,
        method=method,
    )
    lrs = lr_sweep(start_lr, end_lr, steps, mode)
    losses, diverged_at = run_sweep(
        step_fn, lrs, smoothing=smoothing, diverge=diverge, progress=progress
    )
    return make_result(
        lrs[: len(losses)],
        losses,
        method=method,
        smoothing=smoothing,
        diverged_at=diverged_at,
        mode=mode,
        steps=steps,
        start_lr=start_lr,
        end_lr=end_lr,
    )
