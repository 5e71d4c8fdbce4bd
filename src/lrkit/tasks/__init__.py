"""Built-in training tasks and the one task-training loop.

A :class:`Task` bundles a model factory, train/validation tensors, a loss, a metric and a
default recipe. Built-ins (data generated locally, no download): ``mnist1d-mlp``,
``mnist1d-cnn`` (MNIST-1D, Greydanus & Kobak 2024) and ``digits-mlp`` (scikit-learn digits).
A user's task loads from ``path/to/file.py:factory``. :func:`iter_train` yields one record per
epoch (the study and tune train through it); :func:`train` runs it to the end.
:func:`build_schedule` turns a schedule name into a schedule for a run's length.

    task = get_task("mnist1d-cnn")
    result = train(task, lr=1e-2, seed=0)
    result.final_metric
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from lrkit.tasks._builtin import accuracy, cross_entropy
from lrkit.tasks._data import cache_dir as cache_dir
from lrkit.tasks._registry import available, get_task, load_task_file
from lrkit.tasks._schedules import SCHEDULE_NAMES, build_controller, build_schedule
from lrkit.tasks._task import Task
from lrkit.tasks._train import EpochRecord as EpochRecord
from lrkit.tasks._train import TrainResult as TrainResult
from lrkit.tasks._train import iter_train, train

if TYPE_CHECKING:
    from lrkit.optim._registry import OPTIMIZERS as OPTIMIZERS
    from lrkit.optim._registry import make as make_optimizer  # noqa: F401

# Also importable from here, outside __all__ (results users receive, not construct, and names
# whose home is lrkit.optim): EpochRecord, TrainResult, cache_dir, OPTIMIZERS, make_optimizer.
# The last two load lrkit.optim (and torch) only when asked for.


def __getattr__(name: str) -> Any:
    if name in ("OPTIMIZERS", "make_optimizer"):
        from lrkit.optim import _registry

        return _registry.OPTIMIZERS if name == "OPTIMIZERS" else _registry.make
    raise AttributeError(f"module 'lrkit.tasks' has no attribute {name!r}")


__all__ = [
    "SCHEDULE_NAMES",
    "Task",
    "accuracy",
    "available",
    "build_controller",
    "build_schedule",
    "cross_entropy",
    "get_task",
    "iter_train",
    "load_task_file",
    "train",
]
