"""One task-training loop: :func:`iter_train` yields a record per epoch, :func:`train` keeps them.

The study trains through it (with a plateau controller), tune reports each record to Optuna
and prunes, ``train`` collects the history. Writing the loop once keeps the recipe identical
everywhere: seeded init and batch order, last partial batch kept, evaluation after every
epoch at a schedule-free optimizer's evaluation weights.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from lrkit._json import json_value
from lrkit._progress import ProgressBar
from lrkit._validate import check_int, check_positive_float
from lrkit.errors import ConfigError
from lrkit.tasks._task import Task

__all__ = ["Controller", "EpochRecord", "TrainResult", "iter_train", "train"]


class Controller(Protocol):
    """A feedback rule on the LR (e.g. :class:`lrkit.control.ReduceOnPlateau`): the LR of
    every update is multiplied by ``scale``, and ``update`` gets the validation loss after
    each epoch."""

    @property
    def scale(self) -> float: ...

    def update(self, metric: float) -> float: ...


@dataclass(frozen=True)
class EpochRecord:
    """Metrics at the end of one epoch (``step`` = optimizer updates done so far).

    ``diverged`` marks the last record of a run stopped by a non-finite training loss (at
    update ``step``).
    """

    epoch: int
    step: int
    train_loss: float
    val_loss: float
    val_metric: float
    lr: float
    wall_time: float
    diverged: bool = False


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
        # The run-level ``diverged``/``diverged_step`` carry the per-record flag.
        d["history"] = [
            {k: json_value(v) for k, v in r.items() if k != "diverged"} for r in d["history"]
        ]
        for k in ("final_metric", "best_metric", "lr", "wall_time"):
            d[k] = json_value(d[k])
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


def iter_train(
    task: Task,
    lr: float,
    *,
    schedule: Callable[[int], float] | None = None,
    controller: Controller | None = None,
    seed: int = 0,
    optimizer: str | None = None,
    epochs: int | None = None,
    batch_size: int | None = None,
    optimizer_kwargs: Mapping[str, Any] | None = None,
) -> Iterator[EpochRecord]:
    """Train ``task`` from scratch, yielding an :class:`EpochRecord` after every epoch.

    Args:
        task: the task (see :func:`lrkit.tasks.get_task`).
        lr: learning rate the optimizer is built with; constant unless ``schedule`` or
            ``controller`` is given.
        schedule: ``s(k) -> float``, the LR of the k-th optimizer update (k from 0); it sets
            every param group's LR before each ``optimizer.step()``.
        controller: a feedback rule (e.g. :class:`lrkit.control.ReduceOnPlateau`) fed the
            validation loss after each epoch; the LR of an update is ``s(k) * scale`` (``lr *
            scale`` without a schedule).
        seed: seeds the model initialisation, dropout and the batch order. The caller's torch
            RNG state is left untouched (also when the caller stops iterating early).
        optimizer, epochs, batch_size: override the task's recipe.
        optimizer_kwargs: extra keywords for the optimizer (e.g. ``weight_decay``).

    A non-finite training loss ends the run after evaluating the model as it is: that last
    record has ``diverged=True``. Arguments are checked here, before any training.
    """
    opt_name = str(optimizer if optimizer is not None else task.optimizer)
    n_epochs = check_int("train", "epochs", epochs if epochs is not None else task.epochs)
    bs = check_int("train", "batch_size", batch_size if batch_size is not None else task.batch_size)
    lr = check_positive_float("train", "lr", lr)
    if (schedule is not None or controller is not None) and opt_name.lower().startswith("hd"):
        raise ConfigError(
            f"optimizer={opt_name!r} learns its own LR by hypergradient descent; "
            "it cannot follow a schedule or a controller (pass schedule=None, controller=None)"
        )
    return _loop(task, lr, schedule, controller, seed, opt_name, n_epochs, bs, optimizer_kwargs)


def _loop(
    task: Task,
    lr: float,
    schedule: Callable[[int], float] | None,
    controller: Controller | None,
    seed: int,
    opt_name: str,
    n_epochs: int,
    bs: int,
    optimizer_kwargs: Mapping[str, Any] | None,
) -> Iterator[EpochRecord]:
    import torch

    from lrkit.optim._registry import evaluating, make

    x, y = task.train
    n = len(x)
    set_lr = schedule is not None or controller is not None
    t0 = time.perf_counter()
    # fork_rng restores the caller's RNG state when the generator finishes or is closed.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = task.make_model()
        opt = make(opt_name, model.parameters(), lr, **dict(optimizer_kwargs or {}))
        gen = torch.Generator().manual_seed(seed)
        model.train()
        step = 0
        cur_lr = lr
        for epoch in range(1, n_epochs + 1):
            perm = torch.randperm(n, generator=gen)
            total, count = 0.0, 0
            diverged = False
            for i in range(0, n, bs):
                idx = perm[i : i + bs]
                if set_lr:
                    cur_lr = _lr_at(schedule, controller, lr, step)
                    for g in opt.param_groups:
                        g["lr"] = cur_lr
                loss = task.loss_fn(model(x[idx]), y[idx])
                value = float(loss.item())
                if not math.isfinite(value):
                    diverged = True
                    break
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                step += 1
                total += value * len(idx)
                count += len(idx)
            with evaluating(opt):  # schedule-free optimizers evaluate at their averaged weights
                val_loss, val_metric = _evaluate(model, task)
            yield EpochRecord(
                epoch=epoch,
                step=step,
                train_loss=total / count if count else math.nan,
                val_loss=val_loss,
                val_metric=val_metric,
                lr=cur_lr,
                wall_time=time.perf_counter() - t0,
                diverged=diverged,
            )
            if diverged:
                return
            if controller is not None:
                controller.update(val_loss)


def _lr_at(
    schedule: Callable[[int], float] | None, controller: Controller | None, lr: float, step: int
) -> float:
    base = float(schedule(step)) if schedule is not None else lr
    if not (math.isfinite(base) and base >= 0):
        raise ConfigError(f"schedule must return a finite LR >= 0, but s({step})={base!r}")
    return base * controller.scale if controller is not None else base


def train(
    task: Task,
    lr: float,
    schedule: Callable[[int], float] | None = None,
    seed: int = 0,
    *,
    optimizer: str | None = None,
    epochs: int | None = None,
    batch_size: int | None = None,
    controller: Controller | None = None,
    progress: bool = False,
) -> TrainResult:
    """Train ``task`` from scratch and evaluate on its validation set after every epoch.

    Runs :func:`iter_train` to the end (see it for the arguments) and keeps the history;
    ``progress`` shows a progress bar on stderr.

    Mini-batches come from tensor indexing with a seeded permutation per epoch (the last,
    partial batch is kept), which is faster than a DataLoader for in-memory data.
    """
    t0 = time.perf_counter()
    records = iter_train(
        task,
        lr,
        schedule=schedule,
        controller=controller,
        seed=seed,
        optimizer=optimizer,
        epochs=epochs,
        batch_size=batch_size,
    )
    n_epochs = int(epochs if epochs is not None else task.epochs)
    history: list[EpochRecord] = []
    with ProgressBar(f"train {task.name}", n_epochs, enabled=progress) as bar:
        for record in records:
            history.append(record)
            bar.advance(info=f"val {record.val_metric:.3f}")
    metrics = [r.val_metric for r in history]
    last = history[-1]
    return TrainResult(
        task=task.name,
        lr=float(lr),
        optimizer=str(optimizer if optimizer is not None else task.optimizer),
        seed=int(seed),
        epochs=n_epochs,
        batch_size=int(batch_size if batch_size is not None else task.batch_size),
        metric_name=task.metric_name,
        higher_is_better=task.higher_is_better,
        history=tuple(history),
        final_metric=last.val_metric,
        best_metric=max(metrics) if task.higher_is_better else min(metrics),
        diverged=last.diverged,
        diverged_step=last.step if last.diverged else None,
        wall_time=time.perf_counter() - t0,
    )
