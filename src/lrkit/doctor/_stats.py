"""Robust statistics for noisy training curves (SciPy underneath).

Minibatch losses are heavy-tailed and autocorrelated, so trend tests run on *block medians*
(the curve cut into at most 64 equal, consecutive blocks): the median removes minibatch noise
and most of the autocorrelation that makes a plain Mann–Kendall test over-confident (the
alternative, Hamed & Rao's variance correction, needs the autocorrelation of the ranks).
Slopes are Theil–Sen with their 95% interval.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

__all__ = ["Trend", "block_medians", "robust_sd", "rolling_median", "trend"]


def block_medians(
    x: np.ndarray, y: np.ndarray, n_blocks: int = 64
) -> tuple[np.ndarray, np.ndarray]:
    """Medians of ``x`` and ``y`` over ``min(n_blocks, len(y))`` consecutive blocks."""
    k = max(1, min(n_blocks, len(y)))
    xb = np.array([np.median(b) for b in np.array_split(x, k)])
    yb = np.array([np.median(b) for b in np.array_split(y, k)])
    return xb, yb


def robust_sd(x: np.ndarray) -> float:
    """The standard deviation of ``x``'s noise, read robustly: 1.4826 × its median absolute
    deviation (the SD for Gaussian noise; outliers and spikes barely move it)."""
    return 1.4826 * float(np.median(np.abs(x - np.median(x))))


def rolling_median(y: np.ndarray, window: int) -> np.ndarray:
    """Centred running median; the window shrinks at the ends (no padding values)."""
    n = len(y)
    h = max(0, window // 2)
    if h == 0 or n < 3:
        return y.astype(float).copy()
    from numpy.lib.stride_tricks import sliding_window_view

    out = np.empty(n)
    if n > 2 * h:
        out[h : n - h] = np.median(sliding_window_view(y, 2 * h + 1), axis=1)
    for i in list(range(min(h, n))) + list(range(max(h, n - h), n)):
        out[i] = np.median(y[max(0, i - h) : i + h + 1])
    return out


@dataclass(frozen=True)
class Trend:
    """Theil–Sen slope (per step) with its 95% interval, and the Mann–Kendall test."""

    slope: float
    low: float
    high: float
    tau: float
    p_value: float
    n: int

    @property
    def flat(self) -> bool:
        """The slope interval contains zero."""
        return self.low <= 0.0 <= self.high


def trend(x: np.ndarray, y: np.ndarray) -> Trend:
    """Theil–Sen slope and Mann–Kendall trend of ``y`` against ``x`` (use block medians).

    >>> t = trend(np.arange(10.0), 10.0 - np.arange(10.0))
    >>> round(t.slope, 3), t.p_value < 0.01
    (-1.0, True)
    """
    n = len(y)
    if n < 3 or np.ptp(x) == 0:
        return Trend(0.0, -np.inf, np.inf, 0.0, 1.0, n)
    slope, _, low, high = stats.theilslopes(y, x, alpha=0.95)
    if np.ptp(y) == 0:
        return Trend(0.0, 0.0, 0.0, 0.0, 1.0, n)
    # Mann–Kendall is Kendall's tau between time and value.
    tau, p = stats.kendalltau(x, y)
    return Trend(float(slope), float(low), float(high), float(tau), float(p), n)
