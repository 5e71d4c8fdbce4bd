"""Search strategies: which Optuna sampler and pruner run, over which LR range, seeded how.

Every strategy is Optuna underneath; lrkit only decides the LR range, the points queued with
``study.enqueue_trial`` (grids, the coarse stage, the finder's suggestion) and the sampler that
takes over after them. Queued points live in the storage, so every worker — on any host —
pops them exactly once and a resumed study does not queue them again.

When to use which:

* ``grid`` — a log-spaced grid over ``[low, high]``: a reproducible map of the whole range
  (plots, papers, baselines). Needs about 3 points per decade to be reliable.
* ``random`` — log-uniform sampling: embarrassingly parallel and robust; a good default for many
  workers and several hyperparameters (Bergstra & Bengio 2012).
* ``bayes`` — model-based: Optuna's GP sampler for budgets up to 100 trials, TPE beyond
  (Bergstra et al. 2011). Best per trial when trials are expensive and run mostly in sequence.
* ``hyperband`` — TPE plus Optuna's Hyperband pruner (Li et al. 2018): bad LRs are stopped
  after a few epochs. Use it when the objective reports per-epoch values and many trials fit.
* ``coarse-to-fine`` — a coarse log grid over the full range, then a fine grid around the best
  coarse point, as practitioners do by hand; robust and easy to explain.
* ``auto`` — finder-seeded: an LR range test (Smith 2017) locates the plausible interval, the
  search tries the finder's suggestion first, then an octave above and below it, and then runs
  the GP sampler inside that interval.
  The cheapest route to a good LR for one model; falls back to ``bayes`` when there is no
  range test to run (a plain objective without ``finder=``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lrkit._validate import check_choice
from lrkit.errors import ConfigError

__all__ = ["STRATEGIES", "Plan", "focus_from_interval", "make_plan"]

STRATEGIES: tuple[str, ...] = ("auto", "grid", "random", "bayes", "hyperband", "coarse-to-fine")

STAGE_ATTR = "lrkit:stage"
SEEDED_ATTR = "lrkit:seeded"
FINE_ATTR = "lrkit:fine"

# GP fits are cubic in the number of trials; beyond this budget TPE is the better model.
_GP_MAX_TRIALS = 100


def focus_from_interval(
    interval: tuple[float, float],
    low: float,
    high: float,
    search_range: tuple[float, float] | None = None,
) -> tuple[float, float]:
    """The LR range ``auto`` searches, given the finder's interval.

    The range test reads the loss after a few hundred updates, while a full training run
    tolerates less LR: the best final LR often sits below the finder's point (see Smith 2017,
    and our finder benchmark). So the focus extends the interval one half-decade downwards,
    and covers the finder's ``search_range`` when it gives one (plain SGD, whose best LR can
    lie above the interval).
    """
    lo, hi = float(interval[0]) / math.sqrt(10.0), float(interval[1])
    if search_range is not None:
        lo, hi = min(lo, float(search_range[0])), max(hi, float(search_range[1]))
    lo, hi = max(lo, low), min(hi, high)
    if not lo < hi:  # the interval fell outside [low, high]: search all of it
        return low, high
    return lo, hi


@dataclass
class Plan:
    """How one strategy runs: the LR distribution, the sampler, the pruner, the queued points."""

    strategy: str
    lr_range: tuple[float, float]
    sampler: Any
    pruner: Any
    seeds: list[float] = field(default_factory=list)
    fine_points: int = 0
    coarse_ratio: float = 1.0

    def prepare(self, study: Any, trials: list[Any]) -> bool:
        """Queue this strategy's points; return False when a trial should wait (coarse stage)."""
        from optuna.trial import TrialState

        if self.seeds and not study.user_attrs.get(SEEDED_ATTR):
            for lr in self.seeds:
                study.enqueue_trial(
                    {"lr": float(lr)}, user_attrs={STAGE_ATTR: "seed"}, skip_if_exists=True
                )
            study.set_user_attr(SEEDED_ATTR, True)
            return True
        if self.fine_points <= 0 or study.user_attrs.get(FINE_ATTR):
            return True
        from lrkit.tune._result import retried_numbers

        retried = retried_numbers(trials)
        coarse = [
            t for t in trials if t.user_attrs.get(STAGE_ATTR) == "seed" and t.number not in retried
        ]
        if any(not t.state.is_finished() for t in coarse):
            # Coarse points still queued: run them; still running elsewhere: wait for them.
            return any(t.state == TrialState.WAITING for t in coarse)
        complete = [t for t in coarse if t.state == TrialState.COMPLETE]
        if complete:
            pick = min if study.direction.name == "MINIMIZE" else max
            best = pick(complete, key=lambda t: float(t.value))
            for lr in fine_grid(float(best.params["lr"]), self.coarse_ratio, self.fine_points):
                if self.lr_range[0] <= lr <= self.lr_range[1]:
                    study.enqueue_trial(
                        {"lr": lr}, user_attrs={STAGE_ATTR: "fine"}, skip_if_exists=True
                    )
        study.set_user_attr(FINE_ATTR, True)
        return True


def fine_grid(best: float, ratio: float, n: int) -> list[float]:
    """``n`` log-spaced LRs strictly between ``best / ratio`` and ``best * ratio``, best excluded.

    >>> [round(v, 4) for v in fine_grid(1e-2, 10.0, 2)]
    [0.0046, 0.0215]
    """
    if n <= 0:
        return []
    # n interior points with best excluded: place n + 1 points when n is odd so best is a node.
    m = n + 1 if n % 2 else n
    nodes = np.geomspace(best / ratio, best * ratio, m + 2)[1:-1]
    pts = [float(p) for p in nodes if abs(math.log(p / best)) > 1e-6]
    return pts[:n] if len(pts) <= n else _centre(pts, best, n)


def _centre(pts: list[float], best: float, n: int) -> list[float]:
    return sorted(sorted(pts, key=lambda p: abs(math.log(p / best)))[:n])


def coarse_count(trials: int) -> int:
    """How many of ``trials`` the coarse stage of coarse-to-fine uses (about 40%, at least 3)."""
    return max(3, min(trials, round(0.4 * trials)))


def make_plan(
    strategy: str,
    *,
    low: float,
    high: float,
    trials: int,
    seed: int | None,
    pruner: Any = None,
    finder: dict[str, Any] | None = None,
    max_resource: int | str = "auto",
) -> Plan:
    """Build the :class:`Plan` for ``strategy`` (``auto`` needs ``finder`` with an interval)."""
    import optuna

    check_choice("tune", "strategy", strategy, STRATEGIES)
    nop = optuna.pruners.NopPruner()
    if strategy == "grid":
        grid = [float(v) for v in np.geomspace(low, high, trials)]
        return Plan(
            strategy,
            (low, high),
            optuna.samplers.RandomSampler(seed=seed),
            pruner or nop,
            seeds=grid,
        )
    if strategy == "random":
        return Plan(strategy, (low, high), optuna.samplers.RandomSampler(seed=seed), pruner or nop)
    if strategy == "bayes":
        return Plan(strategy, (low, high), _bayes_sampler(trials, seed), pruner or nop)
    if strategy == "hyperband":
        hb = optuna.pruners.HyperbandPruner(
            min_resource=1, max_resource=max_resource, reduction_factor=3
        )
        sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=_startup(trials))
        return Plan(strategy, (low, high), sampler, pruner or hb)
    if strategy == "coarse-to-fine":
        n_coarse = coarse_count(trials)
        coarse = [float(v) for v in np.geomspace(low, high, n_coarse)]
        ratio = (high / low) ** (1.0 / (n_coarse - 1))
        sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=_startup(trials))
        return Plan(
            strategy,
            (low, high),
            sampler,
            pruner or nop,
            seeds=coarse,
            fine_points=trials - n_coarse,
            coarse_ratio=ratio,
        )
    # auto
    if finder is None or "interval" not in finder:
        raise ConfigError("strategy 'auto' needs a range test result (finder=...)")
    focus = focus_from_interval(
        tuple(finder["interval"]),  # type: ignore[arg-type]
        low,
        high,
        finder.get("search_range"),  # type: ignore[arg-type]
    )
    suggestion = float(finder.get("suggestion", math.sqrt(focus[0] * focus[1])))
    seeds = auto_seeds(suggestion, focus, trials)
    return Plan(
        "auto", focus, _bayes_sampler(trials, seed, startup=len(seeds)), pruner or nop, seeds=seeds
    )


#: the suggestion's neighbours ``auto`` tries before modelling, as multiples of it
AUTO_LADDER = (2.0, 0.5)


def auto_seeds(suggestion: float, focus: tuple[float, float], trials: int) -> list[float]:
    """The points ``auto`` queues: the finder's suggestion, then its octave neighbours.

    The suggestion moves by ~1.5x between range-test seeds and the good basin of a full
    training is about a decade wide, so the next best bets sit an octave either side of it,
    not at random points of the focus range (which is what a sampler's start-up would try).

    >>> [round(v, 4) for v in auto_seeds(0.01, (1e-3, 0.1), 20)]
    [0.01, 0.02, 0.005]
    """
    lo, hi = focus
    pts = [min(max(suggestion, lo), hi)]
    for m in AUTO_LADDER[: max(0, trials - 1)]:
        p = suggestion * m
        if lo <= p <= hi and all(abs(math.log(p / q)) > 1e-9 for q in pts):
            pts.append(p)
    return pts


def _startup(trials: int) -> int:
    return max(3, min(10, trials // 4))


def _bayes_sampler(trials: int, seed: int | None, startup: int | None = None) -> Any:
    import optuna

    n = startup if startup is not None else _startup(trials)
    if trials <= _GP_MAX_TRIALS:
        try:
            import torch  # noqa: F401  (Optuna's GP sampler runs on torch)
        except ImportError:
            pass
        else:
            return optuna.samplers.GPSampler(
                seed=seed, n_startup_trials=n, warn_independent_sampling=False
            )
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=n)
