"""The parsed training log: a few named series on a common step axis."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Log", "Series"]


@dataclass(frozen=True)
class Series:
    """One logged quantity: ``values[i]`` was logged at ``steps[i]``.

    ``values`` keeps non-finite entries exactly as logged (a logged ``nan`` is NaN here);
    cells that were empty in the source are not part of the series at all.
    """

    name: str
    steps: np.ndarray
    values: np.ndarray

    def __post_init__(self) -> None:
        if self.steps.shape != self.values.shape:
            raise ValueError(
                f"Series {self.name!r}: steps and values differ in length "
                f"({self.steps.shape[0]} vs {self.values.shape[0]})"
            )

    def __len__(self) -> int:
        return int(self.values.shape[0])

    def finite(self) -> Series:
        """The finite part of the series (for statistics; the original is kept)."""
        keep = np.isfinite(self.values)
        return Series(self.name, self.steps[keep], self.values[keep])

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "steps": [float(s) for s in self.steps],
            "values": [_json_float(v) for v in self.values],
        }


def _json_float(v: float) -> float | str:
    # JSON has no NaN/inf; keep them visible as strings rather than dropping them.
    v = float(v)
    return v if np.isfinite(v) else str(v)


@dataclass(frozen=True)
class Log:
    """A training log as lrkit understood it.

    Attributes:
        loss: the training loss (the most finely logged training-loss column).
        val_loss: the validation loss, if any.
        lr: the learning rate, if any.
        metrics: every other numeric column or tag, by its source name.
        x_name: what the step axis counts: ``"step"``, ``"epoch"`` or ``"index"`` (row number).
        source: the file or object the log came from.
        format: the reader that parsed it (``csv``, ``lightning``, ``jsonl``, ``json``,
            ``huggingface``, ``yolo``, ``mlflow``, ``wandb``, ``tensorboard``, ``keras``, ``text``,
            ``dataframe``, ``dict``).
        notes: what the reader decided that the user should know (several runs in one file,
            a derived loss column, rows mapped from epochs to steps).
        loss_is_validation: the log has no training loss, and ``loss`` is its validation
            loss (the rules then read a rise after the best as overfitting).
        loss_is_error_rate: the log has no loss at all, and ``loss`` (and ``val_loss``) are
            error rates read off its accuracy (no loss's chance level applies).
    """

    loss: Series
    val_loss: Series | None = None
    lr: Series | None = None
    metrics: Mapping[str, Series] = field(default_factory=dict)
    x_name: str = "step"
    source: str = "<memory>"
    format: str = "dict"
    notes: tuple[str, ...] = ()
    loss_is_validation: bool = False
    loss_is_error_rate: bool = False

    @property
    def columns(self) -> dict[str, str | None]:
        """Which source column was used for each role."""
        return {
            "loss": self.loss.name,
            "val_loss": self.val_loss.name if self.val_loss is not None else None,
            "lr": self.lr.name if self.lr is not None else None,
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "format": self.format,
            "x_name": self.x_name,
            "columns": self.columns,
            "loss": self.loss.to_dict(),
            "val_loss": self.val_loss.to_dict() if self.val_loss is not None else None,
            "lr": self.lr.to_dict() if self.lr is not None else None,
            "metrics": sorted(self.metrics),
            "notes": list(self.notes),
        }
