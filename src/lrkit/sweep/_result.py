"""The result of a sweep: per-LR curves, validation scores and the best LR."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from lrkit._json import json_value

__all__ = ["SweepResult", "two_panels"]


def two_panels(path: str | None) -> tuple[Any, Any, Any]:
    """A figure with two axes side by side, ``(fig, left, right)`` (no display when saving)."""
    from lrkit._plotting import pyplot

    fig, (ax0, ax1) = pyplot(path).subplots(1, 2, figsize=(11, 4))
    return fig, ax0, ax1


@dataclass(frozen=True, eq=False)
class SweepResult:
    """K learning rates trained side by side on the same batches from the same weights.

    Attributes:
        lrs: the K base learning rates, shape ``(K,)``.
        losses: training loss of each copy at each step, ``(K, steps)``; NaN from the step
            a copy diverged onwards.
        eval_steps: number of updates done at each validation, ``(E,)`` (end of every epoch,
            and the last step if it ends mid-epoch).
        val_loss: validation loss per copy per evaluation, ``(K, E)``, or None.
        val_metric: ``metric(logits, y)`` per copy per evaluation, ``(K, E)``, or None.
        diverged_at: the step at which each copy's loss became NaN/inf, -1 if never.
        best_index: index of the best LR among the copies that did not fail (None if all
            failed: diverged or at chance).
        criterion: what chose it: ``"val_metric"``, ``"val_loss"`` or ``"train_loss"``
            (mean of the last tenth of the steps).
        maximize: whether a larger ``val_metric`` is better.
        at_chance: copies whose final validation score is no better than ``chance_score``
            (by two binomial standard errors, at least 0.01, for a metric in [0, 1]; else
            by 2 %): they learned nothing and count as failed. All False without val_data.
        chance_score: the criterion's value for the best constant prediction (the label
            frequencies as logits for integer labels, the mean for real-valued targets); None
            when it is not defined (no validation data, other output shapes).
    """

    lrs: np.ndarray
    losses: np.ndarray
    eval_steps: np.ndarray
    val_loss: np.ndarray | None
    val_metric: np.ndarray | None
    diverged_at: np.ndarray
    best_index: int | None
    criterion: str
    maximize: bool
    optimizer: str
    engine: str
    chunk: int
    wall_time_s: float
    at_chance: np.ndarray
    chance_score: float | None

    @property
    def steps(self) -> int:
        """Number of optimizer updates each copy made."""
        return int(self.losses.shape[1])

    @property
    def diverged(self) -> np.ndarray:
        """Boolean mask of the copies whose loss became NaN or inf."""
        return self.diverged_at >= 0

    @property
    def failed(self) -> np.ndarray:
        """Boolean mask of the copies that diverged or ended at chance level."""
        return self.diverged | self.at_chance

    @property
    def n_failed(self) -> int:
        """How many copies diverged or ended at chance level."""
        return int(self.failed.sum())

    @property
    def best_lr(self) -> float | None:
        """The LR with the best final score (see ``criterion``), None if all failed."""
        return None if self.best_index is None else float(self.lrs[self.best_index])

    @property
    def final_scores(self) -> np.ndarray:
        """The score each copy is ranked by (NaN for diverged copies)."""
        return final_scores(self.losses, self.val_loss, self.val_metric, self.criterion)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (NaN and inf become None)."""
        return {
            "lrs": self.lrs.tolist(),
            "best_lr": self.best_lr,
            "best_index": self.best_index,
            "criterion": self.criterion,
            "maximize": self.maximize,
            "optimizer": self.optimizer,
            "engine": self.engine,
            "chunk": self.chunk,
            "steps": self.steps,
            "wall_time_s": self.wall_time_s,
            "final_scores": json_value(self.final_scores),
            "diverged_at": self.diverged_at.tolist(),
            "at_chance": self.at_chance.tolist(),
            "chance_score": self.chance_score,
            "n_failed": self.n_failed,
            "eval_steps": self.eval_steps.tolist(),
            "losses": json_value(self.losses),
            "val_loss": json_value(self.val_loss),
            "val_metric": json_value(self.val_metric),
        }

    def plot(self, path: str | None = None) -> Any:
        """Training curves coloured by LR, and the final score against the LR.

        Returns the matplotlib Figure; saves it to ``path`` when given.
        """
        fig, ax0, ax1 = two_panels(path)
        import matplotlib
        from matplotlib import cm, colors

        lrs = self.lrs
        norm = colors.LogNorm(vmin=float(lrs.min()), vmax=float(lrs.max()) * (1 + 1e-12))
        cmap = matplotlib.colormaps["viridis"]
        steps = np.arange(1, self.steps + 1)
        for i, lr in enumerate(lrs):
            ax0.plot(steps, self.losses[i], color=cmap(norm(lr)), lw=1)
        ax0.set(xlabel="step", ylabel="training loss", yscale="log", title="loss per LR")
        fig.colorbar(cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax0, label="learning rate")
        scores = self.final_scores
        ax1.plot(lrs, scores, "o-", ms=3)
        if self.best_index is not None:
            ax1.axvline(lrs[self.best_index], color="C3", ls="--", label=f"best {self.best_lr:.3g}")
            ax1.legend()
        ax1.set(
            xlabel="learning rate",
            xscale="log",
            ylabel=self.criterion.replace("_", " "),
            title=f"final {self.criterion.replace('_', ' ')} vs LR ({self.optimizer})",
        )
        fig.tight_layout()
        if path is not None:
            fig.savefig(path, dpi=120)
        return fig


def final_scores(
    losses: np.ndarray, val_loss: np.ndarray | None, val_metric: np.ndarray | None, criterion: str
) -> np.ndarray:
    """Per-copy ranking score for ``criterion`` (NaN where a copy diverged)."""
    if criterion == "val_metric" and val_metric is not None:
        return val_metric[:, -1].astype(float)
    if criterion == "val_loss" and val_loss is not None:
        return val_loss[:, -1].astype(float)
    tail = max(1, losses.shape[1] // 10)
    with np.errstate(invalid="ignore"):
        return losses[:, -tail:].mean(axis=1)
