"""Frozen results of a study: per-configuration summaries, the recommendation, everything."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from lrkit._json import json_value

__all__ = ["ConfigSummary", "Recommendation", "Run", "StudyResult", "SweepCurve"]


def _pick(obj: Any, *names: str) -> dict[str, Any]:
    return {n: getattr(obj, n) for n in names}


@dataclass(frozen=True)
class Run:
    """One training run: per-epoch history and the final validation metric.

    ``at_chance``: it finished but its final accuracy is at chance level (no better than
    always predicting the most frequent class, within noise): a failed run, like a diverged one.
    """

    optimizer: str
    schedule: str
    lr: float
    seed: int
    epoch: tuple[int, ...]
    train_loss: tuple[float, ...]
    val_loss: tuple[float, ...]
    val_metric: tuple[float, ...]
    lr_at_epoch: tuple[float, ...]
    wall_time: tuple[float, ...]
    final_metric: float
    diverged: bool
    doctor: dict[str, Any] = field(default_factory=dict)
    at_chance: bool = False

    @property
    def failed(self) -> bool:
        return self.diverged or self.at_chance

    def to_dict(self) -> dict[str, Any]:
        head = _pick(self, "optimizer", "schedule", "lr", "seed", "final_metric", "diverged")
        history = {
            "epoch": self.epoch,
            "train_loss": self.train_loss,
            "val_loss": self.val_loss,
            "val_metric": self.val_metric,
            "lr": self.lr_at_epoch,
            "wall_time": self.wall_time,
        }
        return json_value(
            {**head, "at_chance": self.at_chance, "history": history, "doctor": self.doctor}
        )


@dataclass(frozen=True)
class SweepCurve:
    """Final validation metric against the LR for one (optimizer, schedule)."""

    optimizer: str
    schedule: str
    lrs: tuple[float, ...]
    final_metric: tuple[float, ...]  # NaN where the run diverged
    diverged: tuple[bool, ...]
    engine: str
    best_lr: float | None
    at_chance: tuple[bool, ...] = ()  # finished at chance-level accuracy (see Run.at_chance)

    def to_dict(self) -> dict[str, Any]:
        names = ("optimizer", "schedule", "lrs", "final_metric", "diverged", "engine", "best_lr")
        return json_value({**_pick(self, *names), "at_chance": self.at_chance})


@dataclass(frozen=True)
class ConfigSummary:
    """Final trainings of one (optimizer, schedule) at its best sweep LR, over seeds."""

    optimizer: str
    schedule: str
    lr: float
    metrics: tuple[float, ...]
    mean: float
    std: float
    # "best", "worse", "worse (below val SE)", "unreliable", "inconclusive", "within noise",
    # "cannot tell"
    verdict: str
    sentence: str
    delta: float | None = None
    ci: tuple[float, float] | None = None
    p_value: float | None = None
    p_holm: float | None = None
    basin: tuple[float, float, float, bool] | None = None
    epochs_to_target: float | None = None
    seconds_to_target: float | None = None
    reached_target: int = 0
    doctor_verdicts: tuple[str, ...] = ()
    failed: int = 0  # seeds that diverged or ended at chance level
    seeds_needed: int | None = None  # per arm, to settle the observed gap (see _stats)
    detectable: float | None = None  # smallest gap the current seeds can establish
    basin_factor: float | None = None  # interpolated high/low LR ratio of the basin

    @property
    def label(self) -> str:
        return f"{self.optimizer}/{self.schedule}"

    def to_dict(self) -> dict[str, Any]:
        basin: dict[str, Any] | None = None
        if self.basin:
            low, high, decades, edge = self.basin
            basin = {"low": low, "high": high, "decades": decades, "best_at_grid_edge": edge}
            basin["factor"] = self.basin_factor
        return json_value(
            {
                **_pick(self, "optimizer", "schedule", "lr", "metrics", "mean", "std"),
                "n_seeds": len(self.metrics),
                **_pick(self, "verdict", "sentence"),
                "delta_vs_best": self.delta,
                "ci95_delta": self.ci,
                **_pick(self, "p_value", "p_holm"),
                "basin": basin,
                **_pick(self, "epochs_to_target", "seconds_to_target"),
                "seeds_reaching_target": self.reached_target,
                "doctor_verdicts": self.doctor_verdicts,
                "failed_seeds": self.failed,
                "seeds_needed_per_arm": self.seeds_needed,
                "detectable_delta": self.detectable,
            }
        )


@dataclass(frozen=True)
class Recommendation:
    """What lrkit recommends, and why."""

    optimizer: str
    schedule: str
    lr: float
    mean: float
    std: float
    ties: tuple[str, ...]
    text: str
    evidence: tuple[str, ...]
    schedule_text: str = ""  # repr of the winner's schedule; lrkit.schedules.parse reads it
    snippets: dict[str, str] = field(default_factory=dict)  # framework -> code
    next_steps: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return json_value(
            {
                **_pick(self, "optimizer", "schedule", "lr", "mean", "std"),
                "within_noise_of_best": self.ties,
                **_pick(self, "text", "evidence", "schedule_text", "snippets", "next_steps"),
            }
        )


@dataclass(frozen=True)
class StudyResult:
    """Everything a study measured; :meth:`to_dict` is ``results.json``."""

    task: dict[str, Any]
    budget: dict[str, Any]
    optimizers: tuple[str, ...]
    schedules: tuple[str, ...]
    seeds: tuple[int, ...]
    epochs: int
    finder: dict[str, dict[str, Any]]
    curves: tuple[SweepCurve, ...]
    runs: tuple[Run, ...]
    summaries: tuple[ConfigSummary, ...]
    recommendation: Recommendation | None
    target: float | None
    target_rule: str
    metric_name: str
    higher_is_better: bool
    accuracy_like: bool
    val_size: int
    val_se: float | None
    statements: tuple[str, ...]
    reference: dict[str, Any] | None
    notes: tuple[str, ...]
    timings: dict[str, float]
    environment: dict[str, Any] = field(default_factory=dict)
    pbt: dict[str, Any] | None = None  # PBT vs its equal-cost grid (None: no PBT phase)

    def summary(self, optimizer: str, schedule: str) -> ConfigSummary | None:
        return next(
            (s for s in self.summaries if s.optimizer == optimizer and s.schedule == schedule),
            None,
        )

    def to_dict(self) -> dict[str, Any]:
        rec = self.recommendation
        return json_value(
            {
                **_pick(self, "task", "budget", "optimizers", "schedules", "seeds", "epochs"),
                **_pick(self, "metric_name", "higher_is_better", "val_size"),
                "val_standard_error": self.val_se,
                **_pick(self, "target", "target_rule"),
                "recommendation": rec.to_dict() if rec else None,
                "statements": self.statements,
                "summaries": [s.to_dict() for s in self.summaries],
                "finder": self.finder,
                "sensitivity": [c.to_dict() for c in self.curves],
                "runs": [r.to_dict() for r in self.runs],
                "pbt": self.pbt,
                **_pick(self, "reference", "notes"),
                "timings_s": {k: round(v, 3) for k, v in self.timings.items()},
                "environment": self.environment,
            }
        )

    def plot(self, path: str | None = None) -> Any:
        """The metric-vs-LR figure of the report; returns the Figure (saved to ``path``)."""
        from lrkit.study._figures import sensitivity_figure

        fig = sensitivity_figure(self)
        if path is not None:
            fig.savefig(path, dpi=100)
        return fig
