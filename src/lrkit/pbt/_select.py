"""Exploit and explore decisions of population-based training (pure NumPy).

Truncation selection and multiplicative perturbation follow Jaderberg et al., "Population
Based Training of Neural Networks" (2017), section 3 and appendix A.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["consistent_pairs", "explore", "initial_lrs", "truncation_select"]


def _rank_key(scores: np.ndarray, maximize: bool) -> np.ndarray:
    """Larger is better; NaN (diverged or unevaluated) ranks below everything."""
    key = np.asarray(scores, dtype=float) * (1.0 if maximize else -1.0)
    return np.where(np.isfinite(key), key, -np.inf)


def truncation_select(
    scores: np.ndarray, *, quantile: float, maximize: bool, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Who is replaced, and by whom.

    The bottom ``n = max(1, floor(quantile * K))`` members by ``scores`` (a non-finite score
    ranks last; ties: the lower index ranks higher), and every other member whose score is not
    finite, are replaced; each
    copies a member drawn uniformly from the top ``n`` finite ones. Returns ``(losers,
    sources)``, two int arrays of equal length, ``losers`` sorted; both empty when no member has
    a finite score.

    >>> rng = np.random.default_rng(0)
    >>> losers, sources = truncation_select(
    ...     np.array([0.1, 0.9, 0.5, 0.3]), quantile=0.25, maximize=True, rng=rng)
    >>> losers.tolist(), sources.tolist()
    ([0], [1])
    """
    k = len(scores)
    key = _rank_key(scores, maximize)
    finite = np.isfinite(key)
    if not finite.any():
        return np.zeros(0, dtype=int), np.zeros(0, dtype=int)
    n = max(1, math.floor(quantile * k))
    # Stable sort on -key: best first, equal scores in index order.
    order = np.argsort(-key, kind="stable")
    top = order[: min(n, int(finite.sum()))]
    losers = set(order[k - n :].tolist()) | set(np.flatnonzero(~finite).tolist())
    losers -= set(top.tolist())
    loser_arr = np.array(sorted(losers), dtype=int)
    sources = rng.choice(top, size=len(loser_arr), replace=True) if len(loser_arr) else loser_arr
    return loser_arr, np.asarray(sources, dtype=int)


def explore(
    lrs: np.ndarray,
    *,
    perturb: tuple[float, float],
    low: float,
    high: float,
    resample: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """New LRs for members that copied a member with LR ``lrs``.

    With probability ``resample`` a fresh LR is drawn log-uniformly from ``[low, high]``;
    otherwise the LR is multiplied by one of the two ``perturb`` factors (each with probability
    1/2) and clipped to ``[low, high]``.
    """
    lrs = np.asarray(lrs, dtype=float)
    factors = np.where(rng.random(len(lrs)) < 0.5, perturb[0], perturb[1])
    new = np.clip(lrs * factors, low, high)
    fresh = rng.random(len(lrs)) < resample
    drawn = np.exp(rng.uniform(math.log(low), math.log(high), size=len(lrs)))
    return np.where(fresh, drawn, new)


def initial_lrs(
    k: int, *, low: float, high: float, init: str, rng: np.random.Generator
) -> np.ndarray:
    """``k`` log-spaced LRs from ``low`` to ``high`` (ends included), or log-uniform draws."""
    if init == "grid":
        return np.geomspace(low, high, k) if k > 1 else np.array([low])
    return np.exp(rng.uniform(math.log(low), math.log(high), size=k))


def consistent_pairs(
    halves: np.ndarray, losers: np.ndarray, sources: np.ndarray, *, maximize: bool
) -> np.ndarray:
    """Which ``(loser, source)`` pairs to keep: the source is better on both halves.

    ``halves`` is ``(2, K)``: every member's score on two disjoint halves of the validation
    set. A difference that one half does not confirm is within the noise of the estimate, and
    copying on it would replace a member for nothing. A loser that diverged (a non-finite
    score) is always replaced.

    >>> halves = np.array([[0.5, 0.9, 0.6], [0.85, 0.8, 0.4]])
    >>> consistent_pairs(halves, np.array([0, 2]), np.array([1, 1]), maximize=True).tolist()
    [False, True]
    """
    a = _rank_key(halves[0], maximize)
    b = _rank_key(halves[1], maximize)
    dead = ~(np.isfinite(a[losers]) & np.isfinite(b[losers]))
    return np.asarray(dead | ((a[sources] > a[losers]) & (b[sources] > b[losers])), dtype=bool)
