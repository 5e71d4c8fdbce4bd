"""Train a :class:`Task` with its recipe (or overrides) and an optional LR schedule."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

from lrkit.errors import ConfigError
from lrkit.optim._registry import evaluating
from lrkit.tasks._optim import make_optimizer
from lrkit.tasks._task import Task

__all__ = ["EpochRecord", "TrainResult", "train"]


@dataclass(frozen=True)
class EpochRecord:
    """Metrics at the end of one epoch (``step`` = optimizer updates done so far)."""

    epoch: int
    step: int
    train_loss: float
    val_loss: float
    val_metric: float
    lr: float
    wall_time: float


@dataclass(frozen=True)
class TrainResult:
    """Outcome of :func:`train`.

    ``final_metric`` is the validation metric after the last epoch run; ``best_metric`` the best
    over epochs. A non-finite training loss stops the run: ``diverged`` is set and the final
    metric is measured on the model as it is then (non-finite logits replaced by 0, so it
    scores like a constant guess).
    """

    task: str
    lr: float
    optimizer: str
    seed: int
    epochs: int
    batch_size: int
    metric_name: str
    higher_is_better: bool
    history: tuple[EpochRecord, ...]
    final_metric: float
    best_metric: float
    diverged: bool
    diverged_step: int | None
    wall_time: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (non-finite floats become ``None``)."""
        d = asdict(self)
        d["history"] = [{k: _json_float(v) for k, v in r.items()} for r in d["history"]]
        for k in ("final_metric", "best_metric", "lr", "wall_time"):
            d[k] = _json_float(d[k])
        return d

    def plot(self, path: str | None = None) -> Any:
        """Loss and metric per epoch; returns the matplotlib Figure (saved to ``path`` if given)."""
        from lrkit._plotting import pyplot

        plt = pyplot(path)

        ep = [r.epoch for r in self.history]
        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.5))
        ax1.plot(ep, [r.train_loss for r in self.history], label="train")
        ax1.plot(ep, [r.val_loss for r in self.history], label="val")
        ax1.set(xlabel="epoch", ylabel="loss", title=f"{self.task} lr={self.lr:.3g}")
        ax1.legend()
        ax2.plot(ep, [r.val_metric for r in self.history])
        ax2.set(xlabel="epoch", ylabel=f"val {self.metric_name}")
        fig.tight_layout()
        if path is not None:
            fig.savefig(path)
        return fig


def _json_float(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _evaluate(model: Any, task: Task, batch: int = 4096) -> tuple[float, float]:
    import torch

    x, y = task.val
    was_training = model.training
    model.eval()
    with torch.no_grad():
        logits = torch.cat([model(x[i : i + batch]) for i in range(0, len(x), batch)])
        loss = float(task.loss_fn(logits, y).item())
        logits = torch.where(torch.isfinite(logits), logits, torch.zeros_like(logits))
        metric = float(task.metric(logits, y))
    model.train(was_training)
    return loss, metric


def train(
    task: Task,
    lr: float,
    schedule: Callable[[int], float] | None = None,
    seed: int = 0,
    *,
    optimizer: str | None = None,
    epochs: int | None = None,
    batch_size: int | None = None,
    progress: bool = False,
) -> TrainResult:
    """Train ``task`` from scratch and evaluate on its validation set after every epoch.

    Args:
        task: the task (see :func:`lrkit.tasks.get_task`).
        lr: learning rate the optimizer is built with; constant unless ``schedule`` is given.
        schedule: ``s(k) -> float``, the LR of the k-th optimizer update (k from 0); it sets
            every param group's LR before each ``optimizer.step()`` (``lr`` is then unused).
        seed: seeds the model initialisation, dropout and the batch order. The caller's torch
            RNG state is left untouched.
        optimizer, epochs, batch_size: override the task's recipe.
        progress: show a progress bar on stderr.

    Mini-batches come from tensor indexing with a seeded permutation per epoch (the last,
    partial batch is kept), which is faster than a DataLoader for in-memory data.
    """
    import torch

    opt_name = optimizer if optimizer is not None else task.optimizer
    n_epochs = int(epochs if epochs is not None else task.epochs)
    bs = int(batch_size if batch_size is not None else task.batch_size)
    if n_epochs < 1:
        raise ConfigError(f"epochs must be >= 1, but got epochs={epochs!r}")
    if bs < 1:
        raise ConfigError(f"batch_size must be >= 1, but got batch_size={batch_size!r}")
    if not (isinstance(lr, int | float) and math.isfinite(lr) and lr > 0):
        raise ConfigError(f"lr must be a finite number > 0, but got lr={lr!r}")
    if schedule is not None and str(opt_name).lower().startswith("hd"):
        raise ConfigError(
            f"optimizer={opt_name!r} learns its own LR by hypergradient descent; "
            "it cannot follow a schedule (pass schedule=None)"
        )
    x, y = task.train
    n = len(x)

    history: list[EpochRecord] = []
    diverged_step: int | None = None
    t0 = time.perf_counter()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = task.make_model()
        opt = make_optimizer(opt_name, model.parameters(), lr)
        gen = torch.Generator().manual_seed(seed)
        model.train()
        step = 0
        cur_lr = float(lr)
        bar = _Bar(progress, n_epochs, task.name)
        try:
            for epoch in range(1, n_epochs + 1):
                perm = torch.randperm(n, generator=gen)
                total, count = 0.0, 0
                for i in range(0, n, bs):
                    idx = perm[i : i + bs]
                    if schedule is not None:
                        cur_lr = float(schedule(step))
                        if not (math.isfinite(cur_lr) and cur_lr >= 0):
                            raise ConfigError(
                                f"schedule must return a finite LR >= 0, but s({step})={cur_lr!r}"
                            )
                        for g in opt.param_groups:
                            g["lr"] = cur_lr
                    loss = task.loss_fn(model(x[idx]), y[idx])
                    value = float(loss.item())
                    if not math.isfinite(value):
                        diverged_step = step
                        break
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    step += 1
                    total += value * len(idx)
                    count += len(idx)
                with evaluating(opt):  # schedule-free optimizers evaluate at their averaged weights
                    val_loss, val_metric = _evaluate(model, task)
                history.append(
                    EpochRecord(
                        epoch=epoch,
                        step=step,
                        train_loss=total / count if count else math.nan,
                        val_loss=val_loss,
                        val_metric=val_metric,
                        lr=cur_lr,
                        wall_time=time.perf_counter() - t0,
                    )
                )
                bar.advance(val_metric)
                if diverged_step is not None:
                    break
        finally:
            bar.close()

    metrics = [r.val_metric for r in history]
    best = max(metrics) if task.higher_is_better else min(metrics)
    return TrainResult(
        task=task.name,
        lr=float(lr),
        optimizer=str(opt_name),
        seed=int(seed),
        epochs=n_epochs,
        batch_size=bs,
        metric_name=task.metric_name,
        higher_is_better=task.higher_is_better,
        history=tuple(history),
        final_metric=history[-1].val_metric,
        best_metric=best,
        diverged=diverged_step is not None,
        diverged_step=diverged_step,
        wall_time=time.perf_counter() - t0,
    )


class _Bar:
    """A rich progress bar on stderr, or nothing."""

    def __init__(self, enabled: bool, total: int, name: str) -> None:
        self._progress: Any = None
        if enabled:
            from rich.console import Console
            from rich.progress import Progress

            self._progress = Progress(console=Console(stderr=True), transient=True)
            self._progress.start()
            self._task = self._progress.add_task(f"train {name}", total=total)

    def advance(self, metric: float) -> None:
        if self._progress is not None:
            self._progress.update(self._task, advance=1, description=f"val {metric:.3f}")

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
