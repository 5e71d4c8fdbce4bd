"""Training runs of the study: one schedule at one LR and seed, and the sensitivity sweep.

Every run trains with :func:`lrkit.tasks.iter_train` (``plateau`` passes its controller); a
sensitivity curve is trained at once by :func:`lrkit.sweep.sweep` where its batched kernels
fit the model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from lrkit._progress import ProgressBar
from lrkit.study._result import Run, SweepCurve
from lrkit.tasks._schedules import build_controller, build_schedule

if TYPE_CHECKING:
    from lrkit.tasks import Task

__all__ = ["run_one", "sensitivity", "sweep_engine_for"]


def run_one(
    task: Task,
    optimizer: str,
    schedule: str,
    lr: float,
    seed: int,
    epochs: int,
    progress: ProgressBar,
) -> Run:
    """Train ``task`` from scratch with one schedule, LR, optimizer and seed."""
    from lrkit.tasks import iter_train

    total = epochs * task.steps_per_epoch
    records = []
    done = 0
    for record in iter_train(
        task,
        lr,
        schedule=build_schedule(schedule, lr, total),
        controller=build_controller(schedule, epochs),
        seed=seed,
        optimizer=optimizer,
        epochs=epochs,
    ):
        progress.advance(record.step - done)
        done = record.step
        records.append(record)
    progress.advance(total - done)  # a diverged run stops early
    return Run(
        optimizer=optimizer,
        schedule=schedule,
        lr=float(lr),
        seed=seed,
        epoch=tuple(r.epoch for r in records),
        train_loss=tuple(r.train_loss for r in records),
        val_loss=tuple(r.val_loss for r in records),
        val_metric=tuple(r.val_metric for r in records),
        lr_at_epoch=tuple(r.lr for r in records),
        wall_time=tuple(r.wall_time for r in records),
        final_metric=records[-1].val_metric,
        diverged=records[-1].diverged,
    )


def sweep_engine_for(task: Task) -> str:
    """``"sweep"`` when lrkit.sweep's batched kernels fit the model, else ``"sequential"``.

    On a CPU, ``torch.func.vmap`` over convolutions was measured slower than training the
    copies one after the other, so only models the hand-batched MLP path supports are swept
    at once.
    """
    try:
        import torch

        from lrkit.sweep._engines import MLPEngine

        with torch.random.fork_rng(devices=[]):
            model = task.make_model()
        return "sweep" if MLPEngine.supports(model) else "sequential"
    except Exception:  # lrkit.sweep missing or broken: sequential training still works
        return "sequential"


def sensitivity(
    task: Task,
    optimizer: str,
    schedule: str,
    lrs: np.ndarray,
    epochs: int,
    engine: str,
    progress: ProgressBar,
) -> tuple[SweepCurve, list[Run], list[str]]:
    """Final metric at every LR of ``lrs`` (seed 0); the per-LR runs when sequential; notes."""
    notes: list[str] = []
    if engine == "sweep" and schedule != "plateau":
        try:
            return _vectorised(task, optimizer, schedule, lrs, epochs, progress), [], notes
        except Exception as exc:  # degrade to sequential training, and say so
            notes.append(
                f"lrkit.sweep failed for {optimizer}/{schedule} ({type(exc).__name__}: {exc}); "
                "that curve was trained sequentially with lrkit.tasks.train instead."
            )
    runs = [run_one(task, optimizer, schedule, float(lr), 0, epochs, progress) for lr in lrs]
    metric = np.array([np.nan if r.diverged else r.final_metric for r in runs])
    curve = _curve(task, optimizer, schedule, lrs, metric, "sequential (lrkit.tasks.train)")
    return curve, runs, notes


def _curve(
    task: Task, optimizer: str, schedule: str, lrs: np.ndarray, metric: np.ndarray, engine: str
) -> SweepCurve:
    ok = np.isfinite(metric)
    best: float | None = None
    if ok.any():
        score = np.where(ok, metric, -np.inf if task.higher_is_better else np.inf)
        best = float(lrs[int(np.argmax(score) if task.higher_is_better else np.argmin(score))])
    return SweepCurve(
        optimizer=optimizer,
        schedule=schedule,
        lrs=tuple(float(v) for v in lrs),
        final_metric=tuple(float(v) for v in metric),
        diverged=tuple(bool(not v) for v in ok),
        engine=engine,
        best_lr=best,
    )


def _vectorised(
    task: Task,
    optimizer: str,
    schedule: str,
    lrs: np.ndarray,
    epochs: int,
    progress: ProgressBar,
) -> SweepCurve:
    import torch

    from lrkit.sweep import sweep

    total = epochs * task.steps_per_epoch
    shape = build_schedule(schedule, 1.0, total)
    # sweep scales lrs[i] by s(k)/s(0) (or s(k)/max s when s(0) = 0); pass lrs * s(0) so the
    # effective LR is lrs[i] * s(k) with a peak of lrs[i], as in the sequential runs.
    s0 = float(shape(0))
    base = lrs * (s0 if s0 > 0 else 1.0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = task.make_model()
    last = [0]

    def tick(done: int, _total: int) -> None:
        progress.advance(done - last[0])
        last[0] = done

    # The task's recipe: its loss, validation data and metric, batch size, direction.
    recipe: dict[str, Any] = {"loss_fn": task.loss_fn, "val_data": task.val, "metric": task.metric}
    recipe |= {"batch_size": task.batch_size, "maximize": task.higher_is_better}
    r = sweep(model, task.train, lrs=base, optimizer=optimizer, epochs=epochs, schedule=shape,
              seed=0, progress=tick, **recipe)  # fmt: skip
    progress.advance(len(lrs) * total - last[0])
    if r.val_metric is None:  # sweep computes it whenever val_data is given
        raise RuntimeError("lrkit.sweep returned no validation metric")
    metric = np.where(r.diverged, np.nan, r.val_metric[:, -1])
    return _curve(task, optimizer, schedule, lrs, metric, f"lrkit.sweep ({r.engine})")
