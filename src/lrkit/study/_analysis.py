"""The study's numbers: per-configuration statistics, comparisons with the best, basins,
time to target, failed runs. Wording lives in :mod:`lrkit.study._wording`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from lrkit.study._result import ConfigSummary, Run, SweepCurve
from lrkit.study._stats import (
    Comparison,
    at_chance,
    basin,
    basin_factor,
    binomial_se,
    compare,
    detectable_delta,
    holm,
    seeds_needed,
    time_to_target,
)
from lrkit.study._wording import judge

if TYPE_CHECKING:
    from lrkit.tasks import Task

__all__ = ["Analysis", "Arm", "analyse", "chance_level", "mark_chance", "summarise"]

Key = tuple[str, str]


@dataclass(frozen=True)
class Arm:
    """The final metrics of one configuration over seeds (NaN where a run diverged)."""

    values: tuple[float, ...]
    mean: float
    std: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Arm:
        arr = np.asarray(values, dtype=float)
        fin = arr[np.isfinite(arr)]
        mean = float(fin.mean()) if len(fin) else math.nan
        std = float(fin.std(ddof=1)) if len(fin) > 1 else math.nan
        return cls(tuple(float(v) for v in values), mean, std)


@dataclass(frozen=True)
class Analysis:
    """Everything the summaries, the recommendation and the report are computed from."""

    runs: dict[Key, list[Run]]
    arms: dict[Key, Arm]
    best_key: Key | None
    comparisons: dict[Key, Comparison]
    p_holm: dict[Key, float]
    accuracy_like: bool
    scale: float  # 100 for accuracies (points), else 1
    unit: str
    val_se: float | None  # binomial SE of the best accuracy on the validation set
    target: float | None
    target_rule: str

    def best(self) -> Arm | None:
        return self.arms[self.best_key] if self.best_key is not None else None


def chance_level(task: Task) -> float | None:
    """Accuracy of always predicting the most frequent validation class (≈1/C for C balanced
    classes); ``None`` when the metric is not accuracy or the labels are not class indices."""
    if task.metric_name != "accuracy" or not task.higher_is_better:
        return None
    y = np.asarray(task.val[1])
    if y.ndim != 1 or y.dtype.kind not in "iub" or len(y) == 0:
        return None
    _, counts = np.unique(y, return_counts=True)
    return float(counts.max() / len(y))


def mark_chance(
    task: Task, runs: list[Run], curves: list[SweepCurve]
) -> tuple[list[Run], list[SweepCurve]]:
    """Flag finished runs and grid points whose final accuracy is at chance level."""
    chance = chance_level(task)
    if chance is None:
        return runs, curves
    n = len(task.val[0])
    runs = [
        replace(r, at_chance=not r.diverged and at_chance(r.final_metric, chance, n)) for r in runs
    ]
    curves = [
        replace(c, at_chance=tuple(at_chance(v, chance, n) for v in c.final_metric)) for c in curves
    ]
    return runs, curves


def analyse(task: Task, runs: list[Run]) -> Analysis:
    hib = task.higher_is_better
    by_cfg: dict[Key, list[Run]] = {}
    for r in runs:
        by_cfg.setdefault((r.optimizer, r.schedule), []).append(r)
    all_final = [r.final_metric for r in runs if math.isfinite(r.final_metric)]
    accuracy_like = task.metric_name == "accuracy" and all(0.0 <= v <= 1.0 for v in all_final)
    arms = {k: Arm.of([r.final_metric for r in rs]) for k, rs in by_cfg.items()}
    ranked = sorted(
        (k for k in arms if math.isfinite(arms[k].mean)),
        key=lambda k: -arms[k].mean if hib else arms[k].mean,
    )
    best_key = ranked[0] if ranked else None
    val_se = None
    target, target_rule = None, "no configuration finished"
    comps: dict[Key, Comparison] = {}
    if best_key is not None:
        bm = arms[best_key].mean
        if accuracy_like:
            val_se = binomial_se(bm, len(task.val[0]))
        target = 0.95 * bm if hib else 1.05 * bm
        target_rule = (
            f"95% of the best mean final {task.metric_name}"
            if hib
            else f"within 5% of the best mean final {task.metric_name}"
        )
        comps = {k: compare(arms[best_key].values, arms[k].values, hib) for k in ranked[1:]}
    return Analysis(
        runs=by_cfg,
        arms=arms,
        best_key=best_key,
        comparisons=comps,
        p_holm=dict(zip(comps, holm([c.p_value for c in comps.values()]))),
        accuracy_like=accuracy_like,
        scale=100.0 if accuracy_like else 1.0,
        unit=" points" if accuracy_like else "",
        val_se=val_se,
        target=target,
        target_rule=target_rule,
    )


def _to_target(
    rs: list[Run], target: float | None, hib: bool
) -> tuple[float | None, float | None, int]:
    if target is None:
        return None, None, 0
    hits = [time_to_target(r.val_metric, r.wall_time, target, hib) for r in rs]
    ok = [(e, s) for e, s in hits if e is not None and s is not None]
    if not ok:
        return None, None, 0
    return (
        float(np.median([e for e, _ in ok])),
        float(np.median([s for _, s in ok])),
        len(ok),
    )


def _basin(
    a: Analysis, curve: SweepCurve | None, hib: bool
) -> tuple[tuple[float, float, float, bool] | None, float | None]:
    if curve is None:
        return None, None
    # Tolerance: two validation standard errors (or 2% of the curve's scale for other metrics).
    tol = (
        2 * a.val_se
        if a.val_se
        else 0.02 * max((abs(v) for v in curve.final_metric if math.isfinite(v)), default=0.0)
    )
    return (
        basin(curve.lrs, curve.final_metric, tol, hib),
        basin_factor(curve.lrs, curve.final_metric, tol, hib),
    )


def summarise(
    a: Analysis,
    task: Task,
    opts: tuple[str, ...],
    scheds: tuple[str, ...],
    curves: list[SweepCurve],
) -> tuple[list[ConfigSummary], list[str]]:
    """One summary per (optimizer, schedule), in report order, and the comparison sentences."""
    hib = task.higher_is_better
    curve_by = {(c.optimizer, c.schedule): c for c in curves}
    best_label = "/".join(a.best_key) if a.best_key else ""
    # The study's test is Welch + Holm over every comparison with the best; the power
    # calculation takes Holm's strictest level (alpha / m), so the seed counts are not optimistic.
    alpha = 0.05 / max(1, len(a.comparisons))
    best = a.best()
    summaries: list[ConfigSummary] = []
    statements: list[str] = []
    for key in ((o, s) for o in opts for s in scheds):
        label = "/".join(key)
        bas, factor = _basin(a, curve_by.get(key), hib)
        if key not in a.arms:
            summaries.append(
                ConfigSummary(
                    *key, math.nan, (), math.nan, math.nan, "no result",
                    f"{label}: no final run (every grid LR diverged).",
                    basin=bas,
                    basin_factor=factor,
                )
            )  # fmt: skip
            continue
        arm, rs = a.arms[key], a.runs[key]
        e2t, s2t, reached = _to_target(rs, a.target, hib)
        extra: dict[str, Any] = {}  # the comparison with the best, for the others
        if key == a.best_key:
            verdict = "best"
            sentence = f"{label} has the best mean final {task.metric_name}."
        elif key in a.comparisons and best is not None:
            c = a.comparisons[key]
            ph = a.p_holm[key]
            pooled = math.sqrt((best.std**2 + arm.std**2) / 2)
            needed = seeds_needed(c.delta, pooled, alpha=alpha)
            detectable = detectable_delta(min(c.n_best, c.n_other), pooled, alpha=alpha)
            spread = float(np.nanmax([arm.std, best.std, 0.0]))
            verdict, sentence = judge(
                label, best_label, c, ph, a.val_se, a.scale, a.unit, spread,
                sd_best=best.std, sd_other=arm.std, seeds=needed,
            )  # fmt: skip
            statements.append(sentence)
            extra = {"delta": c.delta, "ci": (c.ci_low, c.ci_high), "p_value": c.p_value}
            extra["p_holm"] = ph
            extra["seeds_needed"] = needed if verdict in ("inconclusive", "within noise") else None
            extra["detectable"] = detectable if math.isfinite(detectable) else None
        else:
            verdict, sentence = "cannot tell", f"{label}: no finite final metric."
        doctor = tuple(str(r.doctor.get("verdict", "?")) for r in rs)
        summaries.append(
            ConfigSummary(
                *key, rs[0].lr, arm.values, arm.mean, arm.std, verdict, sentence, basin=bas,
                epochs_to_target=e2t, seconds_to_target=s2t, reached_target=reached,
                doctor_verdicts=doctor, failed=sum(r.failed for r in rs), basin_factor=factor,
                **extra,
            )
        )  # fmt: skip
    return summaries, statements
