"""tune's task objective trains through lrkit.tasks.iter_train (tune/_task.py)."""

from __future__ import annotations

import math
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("optuna")

from lrkit.errors import ConfigError
from lrkit.tasks import get_task, train
from lrkit.tune import task_objective


class _Trial:
    """The parts of an optuna trial the objective uses; never prunes."""

    def __init__(self, params: dict[str, Any] | None = None) -> None:
        self.params = params or {}
        self.reports: list[tuple[float, int]] = []
        self.user_attrs: dict[str, Any] = {}

    def report(self, value: float, step: int) -> None:
        self.reports.append((value, step))

    def should_prune(self) -> bool:
        return False

    def set_user_attr(self, key: str, value: Any) -> None:
        self.user_attrs[key] = value


def test_objective_reports_what_train_measures() -> None:
    task = get_task("digits-mlp")
    trial = _Trial({"schedule": "cosine"})
    value = task_objective(task, epochs=3, seed=2)(3e-3, trial)
    from lrkit.tasks import build_schedule

    ref = train(task, 3e-3, build_schedule("cosine", 3e-3, 3 * task.steps_per_epoch), 2, epochs=3)
    assert [v for v, _ in trial.reports] == [r.val_metric for r in ref.history]
    assert [s for _, s in trial.reports] == [1, 2, 3] and value == ref.final_metric


def test_schedule_free_objective_scores_the_evaluation_weights() -> None:
    """A schedule-free optimizer is scored at its averaged weights, as lrkit.tasks.train does.

    Before the training loops were merged, tune's own loop evaluated the training iterate
    instead; its per-epoch metrics then differed from train's.
    """
    pytest.importorskip("schedulefree")
    task = get_task("digits-mlp")
    trial = _Trial()
    task_objective(task, epochs=3, seed=1, optimizer="schedulefree_adamw")(2e-3, trial)
    ref = train(task, 2e-3, seed=1, optimizer="schedulefree_adamw", epochs=3)
    assert [v for v, _ in trial.reports] == [r.val_metric for r in ref.history]


def test_objective_accepts_every_builder_name_and_rejects_others() -> None:
    task = get_task("digits-mlp")
    for name in ("linear", "one_cycle", "plateau", "wsd"):
        value = task_objective(task, epochs=1)(1e-3, _Trial({"schedule": name}))
        assert 0.0 <= value <= 1.0 and math.isfinite(value)
    with pytest.raises(ConfigError, match="schedule"):
        task_objective(task, epochs=1)(1e-3, _Trial({"schedule": "triangle"}))
    with pytest.raises(ConfigError, match="epochs"):
        task_objective(task, epochs=0)
