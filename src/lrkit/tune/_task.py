"""Objectives and range tests for built-in and user tasks (:mod:`lrkit.tasks`)."""

from __future__ import annotations

import math
from typing import Any

from lrkit.errors import ConfigError
from lrkit.tune._result import COST_ATTR

__all__ = ["task_finder", "task_objective"]

_SCHEDULES = ("constant", "cosine", "linear", "one_cycle")


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
    (``constant``, ``cosine``, ``linear``, ``one_cycle``) from ``trial.params`` when the search
    space has them.

    The epoch loop is written here rather than calling :func:`lrkit.tasks.train`, because
    ``train`` has no per-epoch hook to report to a pruner; it follows the same recipe (seeded
    init and batch order, last partial batch kept, evaluation after every epoch).
    """
    import optuna

    n_epochs = int(epochs if epochs is not None else task.epochs)
    if n_epochs < 1:
        raise ConfigError(f"epochs must be >= 1, but got epochs={epochs!r}")
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
    import torch

    from lrkit.tasks import make_optimizer

    bs = int(params.get("batch_size", task.batch_size))
    kw: dict[str, Any] = {}
    if "weight_decay" in params:
        kw["weight_decay"] = float(params["weight_decay"])
    x, y = task.train
    n = len(x)
    steps = epochs * -(-n // bs)
    schedule = _schedule(str(params.get("schedule", "constant")), lr, steps)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = task.make_model()
        opt = make_optimizer(optimizer or task.optimizer, model.parameters(), lr, **kw)
        gen = torch.Generator().manual_seed(seed)
        step = 0
        for _ in range(epochs):
            model.train()
            perm = torch.randperm(n, generator=gen)
            diverged = False
            for i in range(0, n, bs):
                idx = perm[i : i + bs]
                if schedule is not None:
                    for g in opt.param_groups:
                        g["lr"] = float(schedule(step))
                loss = task.loss_fn(model(x[idx]), y[idx])
                if not math.isfinite(float(loss.item())):
                    diverged = True
                    break
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                step += 1
            model.eval()
            with torch.no_grad():
                logits = model(task.val[0])
                logits = torch.where(torch.isfinite(logits), logits, torch.zeros_like(logits))
                metric = float(task.metric(logits, task.val[1]))
            yield metric
            if diverged:
                return


def _schedule(name: str, lr: float, steps: int) -> Any:
    from lrkit import schedules as S

    if name == "constant":
        return None
    if name == "cosine":
        return S.cosine(lr=lr, steps=steps)
    if name == "linear":
        return S.linear(start=lr, end=0.0, steps=steps)
    if name == "one_cycle":
        return S.one_cycle(max_lr=lr, steps=steps)
    raise ConfigError(f"schedule must be one of {', '.join(_SCHEDULES)}, but got schedule={name!r}")


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
