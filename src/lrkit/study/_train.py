"""Training runs of the study: one schedule at one LR and seed, and the sensitivity sweep.

Closed-form schedules train with :func:`lrkit.tasks.train`. ``lrkit.tasks.train`` has no
per-epoch hook, so ``plateau`` runs use the loop below, which reproduces ``train``'s seeding,
batching and evaluation exactly and multiplies the LR by a
:class:`lrkit.control.ReduceOnPlateau` fed the validation loss after each epoch.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from lrkit.study._progress import StudyProgress
from lrkit.study._schedules import build_schedule, plateau_patience

if TYPE_CHECKING:
    from lrkit.tasks import Task, TrainResult

__all__ = ["Run", "SweepCurve", "run_one", "sensitivity", "sweep_engine_for"]


def _f(v: Any) -> float | None:
    v = float(v)
    return v if math.isfinite(v) else None


@dataclass(frozen=True)
class Run:
    """One training run: per-epoch history and the final validation metric."""

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

    def to_dict(self) -> dict[str, Any]:
        return {
            "optimizer": self.optimizer,
            "schedule": self.schedule,
            "lr": self.lr,
            "seed": self.seed,
            "final_metric": _f(self.final_metric),
            "diverged": self.diverged,
            "history": {
                "epoch": list(self.epoch),
                "train_loss": [_f(v) for v in self.train_loss],
                "val_loss": [_f(v) for v in self.val_loss],
                "val_metric": [_f(v) for v in self.val_metric],
                "lr": [_f(v) for v in self.lr_at_epoch],
                "wall_time": [_f(v) for v in self.wall_time],
            },
            "doctor": self.doctor,
        }


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

    def to_dict(self) -> dict[str, Any]:
        return {
            "optimizer": self.optimizer,
            "schedule": self.schedule,
            "lrs": list(self.lrs),
            "final_metric": [_f(v) for v in self.final_metric],
            "diverged": list(self.diverged),
            "engine": self.engine,
            "best_lr": self.best_lr,
        }


def _from_train_result(r: TrainResult, schedule: str) -> Run:
    h = r.history
    return Run(
        optimizer=r.optimizer,
        schedule=schedule,
        lr=float(r.lr),
        seed=r.seed,
        epoch=tuple(e.epoch for e in h),
        train_loss=tuple(e.train_loss for e in h),
        val_loss=tuple(e.val_loss for e in h),
        val_metric=tuple(e.val_metric for e in h),
        lr_at_epoch=tuple(e.lr for e in h),
        wall_time=tuple(e.wall_time for e in h),
        final_metric=float(r.final_metric),
        diverged=r.diverged,
    )


class _Ticking:
    """A schedule that also advances the progress bar by one update per call."""

    def __init__(self, inner: Callable[[int], float], progress: StudyProgress) -> None:
        self.inner, self.progress, self.calls = inner, progress, 0

    def __call__(self, k: int) -> float:
        self.calls += 1
        self.progress.advance(1)
        return float(self.inner(k))


def run_one(
    task: Task,
    optimizer: str,
    schedule: str,
    lr: float,
    seed: int,
    epochs: int,
    progress: StudyProgress,
) -> Run:
    """Train ``task`` from scratch with one schedule, LR, optimizer and seed."""
    from lrkit.tasks import train

    total = epochs * task.steps_per_epoch
    if schedule == "plateau":
        run = _train_plateau(task, optimizer, lr, seed, epochs, progress)
    else:
        ticking = _Ticking(build_schedule(schedule, lr, total), progress)
        result = train(task, lr, ticking, seed, optimizer=optimizer, epochs=epochs)
        progress.advance(total - ticking.calls)  # a diverged run stops early
        run = _from_train_result(result, schedule)
    return run


def _evaluate(model: Any, task: Task) -> tuple[float, float]:
    # Same as lrkit.tasks.train's evaluation: full validation set, NaN logits scored as 0.
    import torch

    x, y = task.val
    model.eval()
    with torch.no_grad():
        logits = torch.cat([model(x[i : i + 4096]) for i in range(0, len(x), 4096)])
        loss = float(task.loss_fn(logits, y).item())
        logits = torch.where(torch.isfinite(logits), logits, torch.zeros_like(logits))
        metric = float(task.metric(logits, y))
    model.train()
    return loss, metric


def _train_plateau(
    task: Task, optimizer: str, lr: float, seed: int, epochs: int, progress: StudyProgress
) -> Run:
    import torch

    from lrkit.control import ReduceOnPlateau
    from lrkit.tasks import make_optimizer

    rule = ReduceOnPlateau(factor=0.1, patience=plateau_patience(epochs))
    x, y = task.train
    n, bs = len(x), task.batch_size
    hist: dict[str, list[float]] = {k: [] for k in ("tl", "vl", "vm", "lr", "t")}
    diverged = False
    t0 = time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = task.make_model()
        opt = make_optimizer(optimizer, model.parameters(), lr)
        gen = torch.Generator().manual_seed(seed)
        model.train()
        cur = float(lr)
        for _ in range(epochs):
            perm = torch.randperm(n, generator=gen)
            total, count = 0.0, 0
            for i in range(0, n, bs):
                idx = perm[i : i + bs]
                cur = float(lr) * rule.scale
                for g in opt.param_groups:
                    g["lr"] = cur
                loss = task.loss_fn(model(x[idx]), y[idx])
                value = float(loss.item())
                progress.advance(1)
                if not math.isfinite(value):
                    diverged = True
                    break
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += value * len(idx)
                count += len(idx)
            vl, vm = _evaluate(model, task)
            hist["tl"].append(total / count if count else math.nan)
            hist["vl"].append(vl)
            hist["vm"].append(vm)
            hist["lr"].append(cur)
            hist["t"].append(time.perf_counter() - t0)
            if diverged:
                break
            rule.update(vl)
    done = len(hist["vm"])
    progress.advance((epochs - done) * task.steps_per_epoch)
    return Run(
        optimizer=optimizer,
        schedule="plateau",
        lr=float(lr),
        seed=seed,
        epoch=tuple(range(1, done + 1)),
        train_loss=tuple(hist["tl"]),
        val_loss=tuple(hist["vl"]),
        val_metric=tuple(hist["vm"]),
        lr_at_epoch=tuple(hist["lr"]),
        wall_time=tuple(hist["t"]),
        final_metric=hist["vm"][-1],
        diverged=diverged,
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
    progress: StudyProgress,
    notes: list[str],
) -> tuple[SweepCurve, list[Run]]:
    """Final metric at every LR of ``lrs`` (seed 0); also the per-LR runs when sequential."""
    if engine == "sweep" and schedule != "plateau":
        try:
            return _vectorised(task, optimizer, schedule, lrs, epochs, progress), []
        except Exception as exc:  # degrade to sequential training, and say so
            notes.append(
                f"lrkit.sweep failed for {optimizer}/{schedule} ({type(exc).__name__}: {exc}); "
                "that curve was trained sequentially with lrkit.tasks.train instead."
            )
    runs = [run_one(task, optimizer, schedule, float(lr), 0, epochs, progress) for lr in lrs]
    metric = np.array([np.nan if r.diverged else r.final_metric for r in runs])
    return _curve(task, optimizer, schedule, lrs, metric, "sequential (lrkit.tasks.train)"), runs


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
    progress: StudyProgress,
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

    r = sweep(
        model,
        task.train,
        loss_fn=task.loss_fn,
        lrs=base,
        optimizer=optimizer,
        epochs=epochs,
        schedule=shape,
        val_data=task.val,
        metric=task.metric,
        batch_size=task.batch_size,
        seed=0,
        maximize=task.higher_is_better,
        progress=tick,
    )
    progress.advance(len(lrs) * total - last[0])
    assert r.val_metric is not None
    metric = np.where(r.diverged, np.nan, r.val_metric[:, -1])
    return _curve(task, optimizer, schedule, lrs, metric, f"lrkit.sweep ({r.engine})")
