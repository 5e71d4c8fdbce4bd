"""The frozen result of an LR search: one record per trial and the study it came from."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any

__all__ = ["TrialRecord", "TuneResult", "records_from_study"]

SKIPPED_ATTR = "lrkit:skipped"
ERROR_ATTR = "lrkit:error"
COST_ATTR = "lrkit:cost"


def _clean(v: Any) -> Any:
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_clean(x) for x in v]
    if isinstance(v, int | str | bool) or v is None:
        return v
    return repr(v)


@dataclass(frozen=True)
class TrialRecord:
    """One finished (or running) trial of the study.

    Attributes:
        number: the trial's number in the study (unique across workers).
        state: ``"complete"``, ``"pruned"``, ``"fail"``, ``"running"`` or ``"waiting"``.
        lr: the learning rate tried (``nan`` if the trial failed before choosing one).
        value: the objective's value (``None`` unless complete).
        params: every sampled hyperparameter, ``lr`` included.
        intermediate: values reported with ``trial.report`` (step -> value).
        cost: compute spent, in full-training equivalents, when the objective recorded it.
        error: why the trial failed (the exception, or a non-finite value), else ``None``.
        retry_of: the number of the trial this one retries (a worker died), else ``None``.
        duration: wall-clock seconds, when finished.
    """

    number: int
    state: str
    lr: float
    value: float | None
    params: dict[str, Any]
    intermediate: dict[int, float]
    cost: float | None = None
    error: str | None = None
    retry_of: int | None = None
    duration: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {f.name: _clean(getattr(self, f.name)) for f in fields(self)}


@dataclass(frozen=True)
class TuneResult:
    """Outcome of :func:`lrkit.tune.tune`.

    Attributes:
        best_lr: LR of the best complete trial.
        best_value: its objective value.
        best_params: every hyperparameter of that trial.
        trials: one :class:`TrialRecord` per trial, by number (trials a worker started past the
            cap and stopped at once, and the originals of retried trials, are left out).
        strategy: the strategy that ran (``"auto"`` falls back to ``"bayes"`` without a finder).
        direction: ``"minimize"`` or ``"maximize"``.
        low, high: the search bounds for the LR.
        focus: the LR range the search concentrated on (``auto``: from the range test).
        finder: what the range test reported (suggestion, interval, cost), for ``auto``.
        study_name: the Optuna study's name.
        study: the :class:`optuna.study.Study` itself (not part of :meth:`to_dict`).
        notes: anything the caller should know (fallbacks, failed trials).
    """

    best_lr: float
    best_value: float
    best_params: dict[str, Any]
    trials: tuple[TrialRecord, ...]
    strategy: str
    direction: str
    low: float
    high: float
    study_name: str
    focus: tuple[float, float] | None = None
    finder: dict[str, Any] | None = None
    study: Any = field(default=None, repr=False, compare=False)
    notes: tuple[str, ...] = ()

    @property
    def n_complete(self) -> int:
        """Trials that returned a value."""
        return sum(t.state == "complete" for t in self.trials)

    @property
    def errors(self) -> dict[int, str]:
        """Trial number -> error message of every failed trial."""
        return {t.number: t.error or "failed" for t in self.trials if t.state == "fail"}

    @property
    def cost(self) -> float | None:
        """Total compute in full-training equivalents (trials plus range test), if recorded."""
        costs = [t.cost for t in self.trials if t.cost is not None]
        if not costs:
            return None
        extra = float((self.finder or {}).get("cost") or 0.0)
        return float(sum(costs)) + extra

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of everything but the study object."""
        return {
            "best_lr": _clean(self.best_lr),
            "best_value": _clean(self.best_value),
            "best_params": _clean(self.best_params),
            "strategy": self.strategy,
            "direction": self.direction,
            "low": self.low,
            "high": self.high,
            "study_name": self.study_name,
            "focus": None if self.focus is None else [self.focus[0], self.focus[1]],
            "finder": _clean(self.finder),
            "n_complete": self.n_complete,
            "cost": _clean(self.cost),
            "errors": {str(k): v for k, v in self.errors.items()},
            "notes": list(self.notes),
            "trials": [t.to_dict() for t in self.trials],
        }

    def plot(self, path: str | None = None, *, ax: Any = None) -> Any:
        """Objective value against LR (log scale): complete, pruned and best trials, the focus.

        Returns the matplotlib Figure; saves it to ``path`` when given.
        """
        from lrkit._plotting import figure_axes

        fig, ax = figure_axes(path, ax)
        done = sorted(
            (t for t in self.trials if t.state == "complete" and t.value is not None),
            key=lambda t: t.lr,
        )
        ax.plot(
            [t.lr for t in done],
            [t.value for t in done],
            "o-",
            color="C0",
            ms=4,
            lw=0.8,
            label="complete",
        )
        pruned = [t for t in self.trials if t.state == "pruned" and t.intermediate]
        if pruned:
            last = [t.intermediate[max(t.intermediate)] for t in pruned]
            ax.plot([t.lr for t in pruned], last, "x", color="0.5", label="pruned (last value)")
        if self.focus is not None:
            ax.axvspan(*self.focus, color="C2", alpha=0.12, label="focus")
        if math.isfinite(self.best_lr):
            ax.axvline(self.best_lr, color="C3", lw=1.5, label=f"best lr {self.best_lr:.3g}")
        ax.set_xscale("log")
        ax.set(
            xlabel="learning rate",
            ylabel="objective",
            title=f"{self.study_name} ({self.strategy}, {self.direction})",
        )
        ax.legend(fontsize=8)
        fig.tight_layout()
        if path is not None:
            fig.savefig(path)
        return fig


_STATES = {
    "COMPLETE": "complete",
    "PRUNED": "pruned",
    "FAIL": "fail",
    "RUNNING": "running",
    "WAITING": "waiting",
}


def records_from_study(trials: list[Any]) -> tuple[TrialRecord, ...]:
    """Turn Optuna frozen trials into records, dropping skipped trials and retried originals."""
    retried = retried_numbers(trials)
    out = []
    for t in trials:
        if t.user_attrs.get(SKIPPED_ATTR) or t.number in retried:
            continue
        duration = t.duration.total_seconds() if t.duration is not None else None
        value = float(t.value) if t.value is not None and t.state.name == "COMPLETE" else None
        out.append(
            TrialRecord(
                number=t.number,
                state=_STATES.get(t.state.name, t.state.name.lower()),
                lr=float(t.params.get("lr", math.nan)),
                value=value,
                params=dict(t.params),
                intermediate={int(k): float(v) for k, v in t.intermediate_values.items()},
                cost=t.user_attrs.get(COST_ATTR),
                error=t.user_attrs.get(ERROR_ATTR),
                retry_of=t.system_attrs.get("failed_trial"),
                duration=duration,
            )
        )
    return tuple(sorted(out, key=lambda r: r.number))


def retried_numbers(trials: list[Any]) -> set[int]:
    """Numbers of trials that failed by heartbeat and were re-queued as another trial."""
    out: set[int] = set()
    for t in trials:
        out.update(int(n) for n in t.system_attrs.get("retry_history", []))
    return out
