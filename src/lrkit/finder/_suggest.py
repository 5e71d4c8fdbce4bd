"""Suggestion rules: turn a range-test curve ``(lrs, losses)`` into one learning rate.

All rules work on the curve against ``log10(lr)`` (scale-free, also for a linear sweep) and
only on the part before divergence.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeAlias

import numpy as np

from lrkit._validate import check_choice, check_float
from lrkit.errors import ConfigError, FinderError

Curve: TypeAlias = "Sequence[float] | np.ndarray"

__all__ = [
    "METHODS",
    "MIN_POINTS",
    "ema",
    "fit_curve",
    "lrkit_interval",
    "plain_sgd_interval",
    "suggest",
]

#: Suggestion methods; ``"auto"`` is an alias of ``"lrkit"``.
METHODS: tuple[str, ...] = ("lrkit", "steepest", "minimum", "valley")

#: Fewest finite points a curve needs before any rule is applied.
MIN_POINTS = 8

# The lrkit rule: suggestion = LR at the minimum of the fitted curve / _LRKIT_DIVISOR.
# Chosen on the built-in tasks × {adam, sgd, sgd_momentum} (benchmarks/finder_regret.py
# --candidates): /3 had the lowest median regret of /1.5 … /30; /2 and smaller overshoot
# on Adam, /5 and larger undershoot on SGD.
_LRKIT_DIVISOR = 3.0
_BANDWIDTH_DECADES = 0.25


def ema(losses: Curve, beta: float = 0.98) -> np.ndarray:
    """Bias-corrected exponential moving average (fastai's smoothing of the range test).

    >>> ema([1.0, 1.0, 1.0]).round(6).tolist()
    [1.0, 1.0, 1.0]
    """
    beta = check_float("ema", "smoothing", beta, low=0.0, high=1.0, high_open=True)
    out = np.empty(len(losses), dtype=float)
    avg = 0.0
    for i, loss in enumerate(losses):
        avg = beta * avg + (1.0 - beta) * float(loss)
        out[i] = avg / (1.0 - beta ** (i + 1))
    return out


def fit_curve(lrs: Curve, losses: Curve) -> np.ndarray:
    """Lag-free smoothing used by the ``lrkit`` rule.

    A running median over 5 points removes single-batch spikes, then a Gaussian kernel
    regression against ``log10(lr)`` (bandwidth 0.25 decade, Nadaraya–Watson) averages the
    batch noise. Unlike an EMA, it does not shift the curve towards larger LRs; the steep rise
    after the minimum pulls the fitted minimum slightly left, a margin on the safe side.
    """
    from scipy.ndimage import median_filter

    x = np.log10(np.asarray(lrs, dtype=float))
    y = median_filter(np.asarray(losses, dtype=float), size=min(5, len(losses)), mode="nearest")
    d = (x[:, None] - x[None, :]) / _BANDWIDTH_DECADES
    w = np.exp(-0.5 * d * d)
    return np.asarray((w @ y) / w.sum(axis=1))


def _check(lrs: Curve, losses: Curve) -> tuple[np.ndarray, np.ndarray]:
    lr = np.asarray(lrs, dtype=float)
    lo = np.asarray(losses, dtype=float)
    if lr.ndim != 1 or lr.shape != lo.shape:
        raise ConfigError(
            f"lrs and losses must be 1-D of equal length, but got shapes {lr.shape} and {lo.shape}"
        )
    keep = np.isfinite(lo) & np.isfinite(lr) & (lr > 0)
    if not keep.all():
        # stop at the first non-finite loss: what follows is the diverged part of the curve
        first_bad = int(np.argmin(keep))
        lr, lo = lr[:first_bad], lo[:first_bad]
    if len(lr) < MIN_POINTS:
        raise FinderError(
            f"the range test has {len(lr)} usable points, fewer than {MIN_POINTS}: the loss "
            "diverged too early (lower start_lr) or the sweep was too short (raise steps)"
        )
    if np.any(np.diff(lr) <= 0):
        raise ConfigError("lrs must be strictly increasing")
    return lr, lo


def _steepest(lr: np.ndarray, sm: np.ndarray) -> float:
    # Skip 10 points at the start and 5 at the end like torch-lr-finder, fewer on short curves;
    # the slope is taken against log10(lr) (Lightning #21141 took it against lr, a regression).
    n = len(lr)
    start, end = min(10, n // 4), max(n - 5, n * 3 // 4)
    x = np.log10(lr[start:end])
    grad = np.gradient(sm[start:end], x)
    return float(lr[start + int(np.argmin(grad))])


def _valley(lr: np.ndarray, sm: np.ndarray) -> float:
    # fastai's "valley": the longest decreasing run (longest decreasing subsequence of the
    # smoothed loss); the suggestion sits half-way down it.
    n = len(sm)
    length = np.ones(n, dtype=int)
    for i in range(1, n):
        prev = length[:i][sm[:i] > sm[i]]
        if prev.size:
            length[i] = prev.max() + 1
    end = int(np.argmax(length))
    start = end - int(length[end]) + 1
    return float(lr[start + (end - start) // 2])


def _lrkit(lr: np.ndarray, lo: np.ndarray) -> float:
    fit = fit_curve(lr, lo)
    i_min = int(np.argmin(fit))
    return float(max(lr[i_min] / _LRKIT_DIVISOR, lr[0]))


def lrkit_interval(lrs: Curve, losses: Curve) -> tuple[float, float]:
    """Plausible LR range of the ``lrkit`` rule: ``[lr_min / 10, lr_min]``.

    ``lr_min`` is the LR at the minimum of the fitted curve (:func:`fit_curve`). Above it the
    short test already degrades; a full training's best LR was found between a tenth of it
    (Adam) and about it (plain SGD) on the built-in tasks. The range is clipped to the sweep.
    """
    lr, lo = _check(lrs, losses)
    lr_min = float(lr[int(np.argmin(fit_curve(lr, lo)))])
    return max(lr_min / 10.0, float(lr[0])), lr_min


#: Plain SGD (no momentum): its best LR for a full training lay between 0.29x and 1.63x the
#: range test's fitted minimum on the built-in tasks (benchmarks/finder_regret.py, 15 runs), so
#: its interval spans the fitted minimum / 3.5 to 3.5x it (chosen there; the held-out tasks
#: are reported in docs/benchmarks.md).
PLAIN_SGD_SPAN = 3.5


def plain_sgd_interval(lr_min: float) -> tuple[float, float]:
    """Plain SGD's interval around the range test's fitted minimum ``lr_min``.

    Plain SGD's best LR sits near the stability edge, about where the fitted loss is lowest,
    above the ``lrkit`` interval ``[lr_min / 10, lr_min]`` as often as inside it.

    >>> [round(v, 3) for v in plain_sgd_interval(0.35)]
    [0.1, 1.225]
    """
    return lr_min / PLAIN_SGD_SPAN, lr_min * PLAIN_SGD_SPAN


def suggest(
    lrs: Curve,
    losses: Curve,
    method: str = "auto",
    *,
    smoothing: float = 0.98,
) -> float:
    """Suggest a learning rate from a range-test curve.

    Methods (``smoothing`` is the EMA factor of the first three):

    - ``"steepest"``: LR where the EMA-smoothed loss falls fastest against ``log10(lr)``,
      skipping the first 10 and last 5 points (torch-lr-finder, Lightning).
    - ``"minimum"``: LR at the minimum of the EMA-smoothed loss, divided by 10 (fastai's
      ``minimum``, after Smith 2017, "Cyclical Learning Rates for Training Neural Networks").
    - ``"valley"``: middle of the longest decreasing stretch of the EMA-smoothed loss
      (fastai's ``valley``).
    - ``"lrkit"`` (alias ``"auto"``): LR at the minimum of a lag-free fit of the loss
      (:func:`fit_curve`), divided by 3. The EMA lags by about ``1/(1-smoothing)`` points,
      so its minimum drifts with the noise; the kernel fit is centred and its minimum moves
      less between seeds.

    >>> lrs = np.logspace(-5, 0, 60)
    >>> losses = 2.3 - np.exp(-0.5 * ((np.log10(lrs) + 1.5) / 0.8) ** 2) + (lrs > 0.3) * 5
    >>> round(float(np.log10(suggest(lrs, losses, "lrkit"))), 1)
    -2.0
    """
    key = check_choice("suggest", "method", method.lower(), ("auto", *METHODS))
    if key == "auto":
        key = "lrkit"
    lr, lo = _check(lrs, losses)
    if key == "lrkit":
        return _lrkit(lr, lo)
    sm = ema(lo, smoothing)
    if key == "steepest":
        return _steepest(lr, sm)
    if key == "minimum":
        return float(max(lr[int(np.argmin(sm))] / 10.0, lr[0]))
    return _valley(lr, sm)
