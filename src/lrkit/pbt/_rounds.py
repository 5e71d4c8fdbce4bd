"""PBT's evaluation hook: score the members, then exploit and explore, round after round.

Runs inside :func:`lrkit.sweep.population.train` at the end of every round. Rows ``0..K-1`` of
the population are the PBT members; with a baseline, rows ``K..2K-1`` train the initial LRs at
a constant rate alongside them (never exploited), which gives the equal-cost grid to compare
with at no extra pass over the data.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from lrkit.pbt._result import Exploit
from lrkit.pbt._select import consistent_pairs, explore, truncation_select

__all__ = ["Rounds"]


class Rounds:
    """State of a PBT run across rounds, updated by :meth:`__call__` after each round."""

    def __init__(
        self,
        pop: Any,
        lr0: np.ndarray,
        ends: list[int],
        *,
        val: tuple[Any, Any],
        score_fn: Callable[[Any, Any], Any],
        higher: bool,
        quantile: float,
        perturb: tuple[float, float],
        resample: float,
        low: float,
        high: float,
        select: str,
        last_exploit: int,
        piece: int,
        rng: np.random.Generator,
    ) -> None:
        k, rounds = len(lr0), len(ends)
        self.pop, self.k, self.ends, self.total = pop, k, ends, ends[-1]
        self.val, self.higher, self.piece, self.rng = val, higher, piece, rng
        self.quantile, self.perturb, self.resample = quantile, perturb, resample
        self.low, self.high, self.select, self.last_exploit = low, high, select, last_exploit
        n = len(val[1])
        half = n // 2
        # Scores on the whole set rank the members; with select="consistent" the two halves
        # must agree before a member is replaced (a difference beyond the noise of either).
        self.fns: list[Callable[[Any, Any], Any]] = [score_fn]
        if select == "consistent" and half > 0:
            self.fns += [
                lambda out, y: score_fn(out[:half], y[:half]),
                lambda out, y: score_fn(out[half:], y[half:]),
            ]
        self.lrs = np.empty((k, rounds))
        self.lrs[:, 0] = lr0
        self.metrics = np.full((k, rounds), np.nan)
        self.parents = np.tile(np.arange(k)[:, None], (1, rounds))
        self.baseline = np.full(k, np.nan)
        self.lineage: list[Exploit] = []
        self.best = math.nan  # best score so far, for progress

    def __call__(self, step: int, r: int) -> None:
        import torch

        table = self.pop.evaluate(self.val[0], self.val[1], self.fns, self.piece)
        k = self.k
        scores = table[0, :k]
        self.metrics[:, r] = scores
        if table.shape[1] > k:
            self.baseline = table[0, k:]
        if np.isfinite(scores).any():
            top = float(np.nanmax(scores) if self.higher else np.nanmin(scores))
            if math.isnan(self.best) or (top > self.best if self.higher else top < self.best):
                self.best = top
        if step == self.total:
            return
        cur = self.lrs[:, r]
        self.lrs[:, r + 1] = cur
        if step > self.last_exploit:
            return
        losers, sources = truncation_select(
            scores, quantile=self.quantile, maximize=self.higher, rng=self.rng
        )
        new = explore(cur[sources], perturb=self.perturb, low=self.low, high=self.high,
                      resample=self.resample, rng=self.rng)  # fmt: skip
        if len(self.fns) == 3 and len(losers):
            keep = consistent_pairs(table[1:, :k], losers, sources, maximize=self.higher)
            losers, sources, new = losers[keep], sources[keep], new[keep]
        if len(losers):
            dev = self.pop.flat.device
            dst = torch.as_tensor(losers, device=dev)
            self.pop.exploit(dst, torch.as_tensor(sources, device=dev))
            self.pop.set_lrs(dst, new)
        for m, src, lr in zip(losers, sources, new, strict=True):
            self.lineage.append(Exploit(step, int(m), int(src), float(cur[src]), float(lr)))
        self.lrs[losers, r + 1] = new
        self.parents[losers, r + 1] = sources
