"""lrkit.tasks.iter_train: the one training loop (train, the study and tune run through it)."""

from __future__ import annotations

import dataclasses
import math

import pytest

torch = pytest.importorskip("torch")

from lrkit.control import ReduceOnPlateau  # noqa: E402
from lrkit.errors import ConfigError  # noqa: E402
from lrkit.tasks import Task, build_schedule, get_task, iter_train, train  # noqa: E402


@pytest.fixture(scope="module")
def task() -> Task:
    t = get_task("digits-mlp")
    x, y = t.train
    return dataclasses.replace(t, train=(x[:320], y[:320]), epochs=3)


def test_yields_one_record_per_epoch_and_train_keeps_them(task: Task) -> None:
    s = build_schedule("cosine", 1e-2, 3 * task.steps_per_epoch)
    records = list(iter_train(task, 1e-2, schedule=s, seed=4))
    assert [r.epoch for r in records] == [1, 2, 3]
    assert [r.step for r in records] == [task.steps_per_epoch * e for e in (1, 2, 3)]
    assert records[-1].lr == pytest.approx(s(3 * task.steps_per_epoch - 1))
    assert not any(r.diverged for r in records)
    result = train(task, 1e-2, s, 4)
    assert [r.val_metric for r in result.history] == [r.val_metric for r in records]
    assert [r.val_loss for r in result.history] == [r.val_loss for r in records]


def test_controller_scales_the_lr_after_each_epoch(task: Task) -> None:
    class Halve:
        """Halves the LR after every epoch and records what it was fed."""

        def __init__(self) -> None:
            self.scale = 1.0
            self.fed: list[float] = []

        def update(self, metric: float) -> float:
            self.fed.append(metric)
            self.scale *= 0.5
            return self.scale

    ctrl = Halve()
    records = list(iter_train(task, 1e-2, controller=ctrl, seed=0))
    assert [r.lr for r in records] == pytest.approx([1e-2, 5e-3, 2.5e-3])
    assert ctrl.fed == [r.val_loss for r in records]  # the validation loss of each epoch
    # A real plateau rule composes with a schedule: s(k) * scale.
    rule = ReduceOnPlateau(factor=0.1, patience=0)
    s = build_schedule("linear", 1e-2, 3 * task.steps_per_epoch)
    last = list(iter_train(task, 1e-2, schedule=s, controller=rule, seed=0))[-1]
    assert last.lr == pytest.approx(s(last.step - 1) * rule.scale)


def test_stopping_early_leaves_the_callers_rng_alone(task: Task) -> None:
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    it = iter_train(task, 1e-3, seed=7)
    next(it)
    it.close()  # the caller stops after one epoch (a pruned trial)
    assert torch.equal(torch.rand(3), expected)


def test_arguments_are_checked_before_any_training(task: Task) -> None:
    for kw, match in (
        ({"epochs": 0}, "epochs"),
        ({"batch_size": 0}, "batch_size"),
        ({"lr": math.nan}, "lr"),
        ({"lr": 1e-2, "optimizer": "hdsgd", "schedule": lambda k: 1e-2}, "hdsgd"),
        ({"lr": 1e-2, "optimizer": "hdadam", "controller": ReduceOnPlateau()}, "controller"),
    ):
        kw.setdefault("lr", 1e-3)
        with pytest.raises(ConfigError, match=match):
            iter_train(task, **kw)  # raises at the call, not at the first next()
    with pytest.raises(ConfigError, match="s\\(0\\)"):
        next(iter_train(task, 1e-3, schedule=lambda k: math.inf))


def test_a_diverged_run_ends_with_a_flagged_record(task: Task) -> None:
    records = list(iter_train(task, 1e6, optimizer="sgd", seed=0))
    assert records[-1].diverged and not any(r.diverged for r in records[:-1])
    result = train(task, 1e6, optimizer="sgd", seed=0)
    assert result.diverged and result.diverged_step == records[-1].step
    assert "diverged" not in result.to_dict()["history"][0]  # file format unchanged
