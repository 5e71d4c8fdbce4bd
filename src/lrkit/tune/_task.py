"""Objectives and range tests for built-in and user tasks (:mod:`lrkit.tasks`)."""

from __future__ import annotations

import math
from typing import Any

from lrkit._validate import check_choice, check_int
from lrkit.tune._result import COST_ATTR

__all__ = ["task_finder", "task_objective"]


def task_objective(
    task: Any,
    *,
    epochs: int | None = None,
    seed: int = 0,
    optimizer: str | None = None,
) -> Any:
    """``objective(lr, trial)`` that trains ``task`` and returns its final validation metric.

    It reports the validation metric after every epoch (``trial.report(metric, epoch)``), so
    Hyperband can stop it early, and records its compute as ``epochs trained / recipe epochs``
    in the trial's user attributes. It reads ``weight_decay``, ``batch_size`` and ``schedule``
    (any name of :data:`lrkit.tasks.SCHEDULE_NAMES`, e.g. ``constant``, ``cosine``, ``linear``,
    ``one_cycle``, ``plateau``) from ``trial.params`` when the search space has them.

    Training is :func:`lrkit.tasks.iter_train`, the recipe every lrkit command trains with
    (a schedule-free optimizer is scored at its evaluation weights).
    """
    import optuna

    n_epochs = check_int("task_objective", "epochs", epochs if epochs is not None else task.epochs)
    recipe_epochs = int(task.epochs)

    def objective(lr: float, trial: Any) -> float:
        params = trial.params
        done, metric = 0, math.nan
        try:
            for done, metric in enumerate(
                _train_epochs(task, lr, params, n_epochs, seed, optimizer), start=1
            ):
                trial.report(metric, done)
                if trial.should_prune():
                    raise optuna.TrialPruned(f"pruned after epoch {done}: {metric:.4g}")
        finally:
            trial.set_user_attr(COST_ATTR, done / recipe_epochs)
        return metric

    objective.direction = "maximize" if task.higher_is_better else "minimize"  # type: ignore[attr-defined]
    objective.max_resource = n_epochs  # type: ignore[attr-defined]
    return objective


def _train_epochs(
    task: Any, lr: float, params: dict[str, Any], epochs: int, seed: int, optimizer: str | None
) -> Any:
    """Yield the validation metric after each epoch (a diverged run yields its metric and stops)."""
    from lrkit.tasks import SCHEDULE_NAMES, build_controller, build_schedule, iter_train

    name = str(params.get("schedule", "constant"))
    check_choice("task_objective", "schedule", name, SCHEDULE_NAMES)
    bs = int(params.get("batch_size", task.batch_size))
    kw: dict[str, Any] = {}
    if "weight_decay" in params:
        kw["weight_decay"] = float(params["weight_decay"])
    steps = epochs * -(-len(task.train[0]) // bs)
    # A constant schedule leaves the optimizer's LR alone (hypergradient optimizers learn it).
    schedule = None if name == "constant" else build_schedule(name, lr, steps)
    for record in iter_train(
        task,
        lr,
        schedule=schedule,
        controller=build_controller(name, epochs),
        seed=seed,
        optimizer=optimizer,
        epochs=epochs,
        batch_size=bs,
        optimizer_kwargs=kw,
    ):
        yield record.val_metric


def task_finder(task: Any, *, seed: int = 0, steps: int = 100, epochs: int | None = None) -> Any:
    """Range test on a fresh model of ``task``; returns the ``finder=`` mapping for :func:`tune`.

    Its cost, in full-training equivalents, is the updates it ran over the updates of one
    full training run (``epochs × steps per epoch``). The range test's caveats travel in
    ``"notes"`` (and reach :attr:`TuneResult.notes`) rather than as warnings.
    """
    from lrkit.finder import find_lr_on_task

    res = find_lr_on_task(task, seed=seed, steps=steps, quiet=True)  # notes: in the mapping
    full = int(epochs if epochs is not None else task.epochs) * task.steps_per_epoch
    return {
        "suggestion": float(res.suggestion),
        "interval": [float(res.interval[0]), float(res.interval[1])],
        "cost": len(res.lrs) / full,
        "steps": len(res.lrs),
        "notes": list(res.notes),
        "search_range": None if res.search_range is None else list(res.search_range),
    }
