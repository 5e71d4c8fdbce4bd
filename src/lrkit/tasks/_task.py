"""The :class:`Task` contract: a model factory, data, a loss, a metric and a training recipe."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from lrkit._validate import check_int, check_positive_float
from lrkit.errors import TaskError

if TYPE_CHECKING:
    import torch

__all__ = ["Task"]


@dataclass(frozen=True)
class Task:
    """A training problem with a default recipe.

    Attributes:
        name: short identifier (``"mnist1d-cnn"``).
        make_model: ``() -> torch.nn.Module``; the caller seeds torch before calling it.
        train: ``(x, y)`` tensors of the training set.
        val: ``(x, y)`` tensors of the validation set.
        loss_fn: ``(logits, y) -> Tensor`` (a scalar, differentiable).
        metric: ``(logits, y) -> float``; accuracy is a fraction in ``[0, 1]``.
        metric_name: what :attr:`metric` measures.
        higher_is_better: direction of :attr:`metric`.
        optimizer: default optimizer name for :func:`lrkit.optim.make`.
        lr: default learning rate of the recipe.
        batch_size: default mini-batch size.
        epochs: default number of epochs.
    """

    name: str
    make_model: Callable[[], torch.nn.Module]
    train: tuple[torch.Tensor, torch.Tensor]
    val: tuple[torch.Tensor, torch.Tensor]
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    metric: Callable[[torch.Tensor, torch.Tensor], float]
    metric_name: str = "accuracy"
    higher_is_better: bool = True
    optimizer: str = "adam"
    lr: float = 1e-3
    batch_size: int = 128
    epochs: int = 20

    def __post_init__(self) -> None:
        for field, pair in (("train", self.train), ("val", self.val)):
            if not isinstance(pair, tuple | list) or len(pair) != 2:
                raise TaskError(
                    f"Task {field} must be an (x, y) pair, but got {type(pair).__name__}"
                )
            x, y = pair
            if len(x) != len(y):
                raise TaskError(
                    f"Task {field} x and y differ in length: len(x)={len(x)}, len(y)={len(y)}"
                )
            if len(x) == 0:
                raise TaskError(f"Task {field} is empty (name={self.name!r})")
        check_positive_float("Task", "lr", self.lr, error=TaskError)
        check_int("Task", "batch_size", self.batch_size, error=TaskError)
        check_int("Task", "epochs", self.epochs, error=TaskError)

    @property
    def steps_per_epoch(self) -> int:
        """Optimizer updates per epoch with the default batch size (last partial batch kept)."""
        return -(-len(self.train[0]) // self.batch_size)

    def describe(self) -> dict[str, Any]:
        """A JSON-safe summary (no tensors or callables)."""
        return {
            "name": self.name,
            "n_train": len(self.train[0]),
            "n_val": len(self.val[0]),
            "metric_name": self.metric_name,
            "higher_is_better": self.higher_is_better,
            "optimizer": self.optimizer,
            "lr": self.lr,
            "batch_size": self.batch_size,
            "epochs": self.epochs,
        }
