"""Built-in training tasks and the recipe trainer.

A :class:`Task` bundles a model factory, train/validation tensors, a loss, a metric and a
default recipe. Built-ins (data generated locally, no download): ``mnist1d-mlp``,
``mnist1d-cnn`` (MNIST-1D, Greydanus & Kobak 2024) and ``digits-mlp`` (scikit-learn digits).
A user's task loads from ``path/to/file.py:factory``.

    task = get_task("mnist1d-cnn")
    result = train(task, lr=1e-2, seed=0)
    result.final_metric
"""

from __future__ import annotations

from lrkit.tasks._builtin import accuracy, cross_entropy
from lrkit.tasks._data import cache_dir
from lrkit.tasks._optim import OPTIMIZERS, make_optimizer
from lrkit.tasks._registry import available, get_task, load_task_file
from lrkit.tasks._task import Task
from lrkit.tasks._train import EpochRecord, TrainResult, train

__all__ = [
    "OPTIMIZERS",
    "EpochRecord",
    "Task",
    "TrainResult",
    "accuracy",
    "available",
    "cache_dir",
    "cross_entropy",
    "get_task",
    "load_task_file",
    "make_optimizer",
    "train",
]
