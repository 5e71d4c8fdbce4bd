"""Honest statistics for the study: seed spread, Welch tests against the best, basins, targets.

With a handful of seeds and a validation set of ~1000 samples, most differences between
schedules at their tuned LR are noise (measured on MNIST-1D: CNN constant 90.3%, cosine
89.3%, one-cycle 89.9%, median of 3 seeds). The functions here decide, conservatively, which
differences the numbers support: a Welch t-test per comparison (Welch 1947) with Holm's
step-down correction for comparing every configuration with the best (Holm 1979). Where a
comparison stays open, :func:`seeds_needed` says how many seeds per arm would settle it
(the usual power calculation for a two-sample t-test, e.g. Cohen 1988, ch. 2).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Comparison",
    "at_chance",
    "basin",
    "basin_factor",
    "binomial_se",
    "compare",
    "detectable_delta",
    "holm",
    "seeds_needed",
    "time_to_target",
]


def binomial_se(p: float, n: int) -> float:
    """Standard error of an accuracy ``p`` measured on ``n`` samples: sqrt(p(1-p)/n).

    >>> round(100 * binomial_se(0.8, 1000), 2)
    1.26
    """
    if n <= 0 or not (0.0 <= p <= 1.0):
        return math.nan
    return math.sqrt(p * (1.0 - p) / n)


@dataclass(frozen=True)
class Comparison:
    """The best configuration against another: ``delta = best - other`` (in metric units,
    sign-adjusted so that positive means the other is worse)."""

    delta: float
    ci_low: float
    ci_high: float
    p_value: float
    n_best: int
    n_other: int


def compare(best: Sequence[float], other: Sequence[float], higher_is_better: bool) -> Comparison:
    """Welch's t-test and the 95% confidence interval of the difference of means."""
    from scipy import stats

    a = np.asarray(best, dtype=float)
    b = np.asarray(other, dtype=float)
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    sign = 1.0 if higher_is_better else -1.0
    if len(a) == 0 or len(b) == 0:
        return Comparison(math.nan, math.nan, math.nan, math.nan, len(a), len(b))
    delta = sign * float(a.mean() - b.mean())
    if len(a) < 2 or len(b) < 2:
        return Comparison(delta, -math.inf, math.inf, math.nan, len(a), len(b))
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = math.sqrt(va + vb)
    if se == 0.0:
        # Identical values across seeds (e.g. deterministic runs): no spread to test against.
        p = 1.0 if delta == 0.0 else 0.0
        return Comparison(delta, delta, delta, p, len(a), len(b))
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))
    half = float(stats.t.ppf(0.975, df)) * se
    # Welch's p from the same se and df. scipy.stats.ttest_ind gives the same value but warns
    # ("catastrophic cancellation") when one arm's seeds are identical, common with 2 seeds.
    p = float(2.0 * stats.t.sf(abs(delta) / se, df))
    return Comparison(delta, delta - half, delta + half, p, len(a), len(b))


def _t_sum(alpha: float, power: float, df: float) -> float:
    from scipy import stats

    return float(stats.t.ppf(1.0 - alpha / 2.0, df) + stats.t.ppf(power, df))


def seeds_needed(
    delta: float, sd: float, *, alpha: float = 0.05, power: float = 0.8, cap: int = 1000
) -> int | None:
    """Seeds per arm for a two-sided t-test at level ``alpha`` to detect a gap ``delta``
    between two arms with common standard deviation ``sd``, with probability ``power``.

    The smallest n with ``(t[1-alpha/2] + t[power]) * sd * sqrt(2/n) <= |delta|`` (t
    quantiles at ``2n - 2`` degrees of freedom). ``None`` when ``sd`` is not a positive finite
    number or ``delta`` is 0; ``cap + 1`` when even ``cap`` seeds would not do (a tie for
    practical purposes).

    >>> seeds_needed(0.02, 0.02)  # a gap of one SD: 17 seeds per arm at 80% power
    17
    """
    if not (math.isfinite(sd) and sd > 0 and math.isfinite(delta) and delta != 0):
        return None
    for n in range(2, cap + 1):
        if _t_sum(alpha, power, 2 * n - 2) * sd * math.sqrt(2.0 / n) <= abs(delta):
            return n
    return cap + 1


def detectable_delta(n: int, sd: float, *, alpha: float = 0.05, power: float = 0.8) -> float:
    """The smallest gap that ``n`` seeds per arm detect with probability ``power`` (see
    :func:`seeds_needed`); NaN for ``n < 2`` or an unknown ``sd``.

    >>> round(detectable_delta(17, 0.02), 4)
    0.0198
    """
    if n < 2 or not (math.isfinite(sd) and sd >= 0):
        return math.nan
    return _t_sum(alpha, power, 2 * n - 2) * sd * math.sqrt(2.0 / n)


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm–Bonferroni adjusted p-values (NaN stays NaN).

    >>> [round(v, 3) for v in holm([0.01, 0.04, 0.03])]
    [0.03, 0.06, 0.06]
    """
    p = np.asarray(p_values, dtype=float)
    idx = [i for i in np.argsort(p) if np.isfinite(p[i])]
    m = len(idx)
    out = np.full(len(p), np.nan)
    running = 0.0
    for rank, i in enumerate(idx):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out.tolist()


def basin(
    lrs: Sequence[float], metric: Sequence[float], tolerance: float, higher_is_better: bool
) -> tuple[float, float, float, bool] | None:
    """The contiguous LR range around the best grid point scoring within ``tolerance`` of it.

    Returns ``(low, high, width in decades, best at the grid's edge)`` or None when every
    point diverged. Diverged points (NaN) end the basin.

    >>> basin([1e-3, 1e-2, 1e-1, 1.0], [0.5, 0.88, 0.9, 0.1], 0.03, True)
    (0.01, 0.1, 1.0, False)
    """
    x = np.asarray(lrs, dtype=float)
    y = np.asarray(metric, dtype=float)
    ok = np.isfinite(y)
    if not ok.any():
        return None
    score = np.where(ok, y if higher_is_better else -y, -np.inf)
    b = int(np.argmax(score))
    good = ok & (score >= score[b] - tolerance)
    lo = hi = b
    while lo > 0 and good[lo - 1]:
        lo -= 1
    while hi < len(x) - 1 and good[hi + 1]:
        hi += 1
    width = float(np.log10(x[hi] / x[lo]))
    return float(x[lo]), float(x[hi]), round(width, 6), b in (0, len(x) - 1)


def basin_factor(
    lrs: Sequence[float], metric: Sequence[float], tolerance: float, higher_is_better: bool
) -> float | None:
    """Width of the good-LR basin as a factor (high LR / low LR), edges interpolated.

    :func:`basin` counts grid points, so a basin narrower than the grid's spacing reads 0
    decades. Here each edge moves from the last good grid point towards the next one, in
    log-LR, to where the metric (linear between the two points) crosses ``best - tolerance``;
    a diverged neighbour or the grid's end stops at the last good point. ``None`` when every
    point diverged.

    >>> round(basin_factor([1e-3, 1e-2, 1e-1], [0.5, 0.9, 0.7], 0.1, True), 2)
    5.62
    """
    found = basin(lrs, metric, tolerance, higher_is_better)
    if found is None:
        return None
    x = np.log10(np.asarray(lrs, dtype=float))
    y = np.asarray(metric, dtype=float) * (1.0 if higher_is_better else -1.0)
    lo_i = int(np.searchsorted(x, math.log10(found[0]) - 1e-12))
    hi_i = int(np.searchsorted(x, math.log10(found[1]) - 1e-12))
    level = float(np.nanmax(y)) - tolerance

    def edge(i: int, j: int) -> float:
        if not (0 <= j < len(x)) or not math.isfinite(y[j]) or y[i] == y[j]:
            return float(x[i])
        frac = min(max((y[i] - level) / (y[i] - y[j]), 0.0), 1.0)
        return float(x[i] + frac * (x[j] - x[i]))

    return float(10 ** (edge(hi_i, hi_i + 1) - edge(lo_i, lo_i - 1)))


def at_chance(value: float, chance: float, n: int, z: float = 2.0) -> bool:
    """Whether an accuracy ``value`` on ``n`` samples is no better than ``chance`` (the
    accuracy of always predicting the most frequent class, 1/C for C balanced classes) within
    ``z`` binomial standard errors.

    >>> at_chance(0.11, 0.1, 1000), at_chance(0.2, 0.1, 1000)
    (True, False)
    """
    if not (math.isfinite(value) and 0.0 < chance < 1.0 and n > 0):
        return False
    return value <= chance + z * binomial_se(chance, n)


def time_to_target(
    metric: Sequence[float], wall: Sequence[float], target: float, higher_is_better: bool
) -> tuple[int | None, float | None]:
    """First epoch (1-based) whose metric reaches ``target``, and the wall time then.

    >>> time_to_target([0.5, 0.8, 0.9], [1.0, 2.0, 3.0], 0.8, True)
    (2, 2.0)
    """
    for i, (m, t) in enumerate(zip(metric, wall)):
        if math.isfinite(m) and (m >= target if higher_is_better else m <= target):
            return i + 1, float(t)
    return None, None
