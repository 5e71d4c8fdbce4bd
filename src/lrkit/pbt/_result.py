"""The result of population-based training: the discovered schedule, lineage and history."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from lrkit.schedules import Schedule

if TYPE_CHECKING:
    import torch

__all__ = ["Exploit", "PBTResult", "build_result", "lineage_schedule"]


@dataclass(frozen=True)
class Exploit:
    """Member ``member`` took over the weights and optimizer state of member ``source`` after
    ``step`` updates, and went on with LR ``lr`` (``source`` had ``source_lr``)."""

    step: int
    member: int
    source: int
    source_lr: float
    lr: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return dataclasses.asdict(self)


def lineage_schedule(starts: np.ndarray, lrs: np.ndarray) -> Schedule:
    """Piecewise-constant schedule: ``lrs[r]`` from update ``starts[r]`` on; equal runs merged."""
    from lrkit.schedules import piecewise

    boundaries: list[int] = []
    values: list[float] = [float(lrs[0])]
    for start, lr in zip(starts[1:], lrs[1:], strict=True):
        if float(lr) != values[-1]:
            boundaries.append(int(start))
            values.append(float(lr))
    return piecewise(boundaries, values=values)


@dataclass(frozen=True, eq=False)
class PBTResult:
    """A population trained with exploit (copy the best) and explore (perturb the LR).

    The run is split into ``R`` rounds of ``interval`` updates (the last may be shorter);
    round ``r`` covers updates ``round_starts[r]`` to ``eval_steps[r] - 1``.

    Attributes:
        schedule: the LR at every update along the winner's lineage, as an lrkit piecewise
            schedule: training from the same weights on the same batches with it reproduces
            the winner. Its repr has every digit; print :attr:`schedule_text` instead.
        lrs: LR of each member during each round, ``(K, R)``.
        metrics: validation score of each member at the end of each round, ``(K, R)``
            (before that round's exploit; NaN for a diverged member).
        parents: ``parents[i, r]`` is the member whose weights member ``i`` started round
            ``r`` from (``i`` itself when it was not replaced), ``(K, R)``.
        losses: training loss of the member in each slot at every update, ``(K, steps)``.
        eval_steps: updates done at each evaluation, ``(R,)``.
        lineage: every exploit, in order.
        best_index: the member with the best final score.
        best_metric: its final score.
        winner_path: the slot the winner's weights occupied in each round, ``(R,)``.
        criterion: ``"val_metric"`` or ``"val_loss"``; ``maximize`` its direction.
        best_weights: the winner's final parameters and buffers (BatchNorm statistics) by
            name (CPU tensors), ready for ``model.load_state_dict(..., strict=False)``.
        select, anneal: the exploit rule and the annealed fraction of the run (see
            :func:`lrkit.pbt`); ``anneal_from``: the update the final decay starts at, or None.
        baseline_lrs, baseline_metrics: with ``compare=True``, the K initial LRs trained at a
            constant rate alongside, and their final scores (else None).
        notes: plain-language findings: whether PBT beat the equal-cost constant grid.
    """

    schedule: Schedule
    lrs: np.ndarray
    metrics: np.ndarray
    parents: np.ndarray
    losses: np.ndarray
    eval_steps: np.ndarray
    lineage: tuple[Exploit, ...]
    best_index: int
    best_metric: float
    winner_path: np.ndarray
    criterion: str
    maximize: bool
    optimizer: str
    engine: str
    interval: int
    quantile: float
    seed: int
    wall_time_s: float
    best_weights: dict[str, torch.Tensor] = field(repr=False)
    select: str = "truncation"
    anneal: float = 0.0
    anneal_from: int | None = None
    baseline_lrs: np.ndarray | None = None
    baseline_metrics: np.ndarray | None = None
    notes: tuple[str, ...] = ()

    @property
    def baseline_best_index(self) -> int | None:
        """The best constant-LR run of the baseline (None without one or if all diverged)."""
        if self.baseline_metrics is None or not np.isfinite(self.baseline_metrics).any():
            return None
        sign = 1.0 if self.maximize else -1.0
        key = np.where(np.isfinite(self.baseline_metrics), sign * self.baseline_metrics, -np.inf)
        return int(np.argmax(key))

    @property
    def baseline_best_lr(self) -> float | None:
        """The best constant LR of the equal-cost grid (None without a baseline)."""
        i = self.baseline_best_index
        return None if i is None or self.baseline_lrs is None else float(self.baseline_lrs[i])

    @property
    def baseline_best_metric(self) -> float | None:
        """Its final score (None without a baseline)."""
        i = self.baseline_best_index
        return (
            None if i is None or self.baseline_metrics is None else float(self.baseline_metrics[i])
        )

    @property
    def beat_baseline(self) -> bool | None:
        """Whether PBT's winner scored strictly better than the best constant LR (None: no
        baseline, or nothing finite to compare)."""
        base = self.baseline_best_metric
        if base is None or not np.isfinite(self.best_metric):
            return None
        return bool(self.best_metric > base if self.maximize else self.best_metric < base)

    @property
    def steps(self) -> int:
        """Number of optimizer updates of every member."""
        return int(self.losses.shape[1])

    @property
    def population(self) -> int:
        """Number of members K."""
        return int(self.lrs.shape[0])

    @property
    def round_starts(self) -> np.ndarray:
        """First update of each round, ``(R,)``."""
        return np.concatenate([[0], self.eval_steps[:-1]]).astype(int)

    @property
    def history(self) -> list[list[dict[str, float]]]:
        """Per member, per round: ``{"step", "lr", "metric"}`` (metric at the round's end)."""
        return [
            [
                {"step": int(s), "lr": float(self.lrs[i, r]), "metric": float(self.metrics[i, r])}
                for r, s in enumerate(self.eval_steps)
            ]
            for i in range(self.population)
        ]

    @property
    def winner_losses(self) -> np.ndarray:
        """Training loss at every update along the winner's lineage, ``(steps,)``."""
        out = np.empty(self.steps)
        for r, (a, b) in enumerate(zip(self.round_starts, self.eval_steps, strict=True)):
            out[a:b] = self.losses[self.winner_path[r], a:b]
        return out

    @property
    def schedule_text(self) -> str:
        """``repr(schedule)`` with every LR rounded to 4 significant digits, for display.

        ``schedule`` itself (and ``schedule_spec`` in :meth:`to_dict`) keeps the exact values
        that replay the winner; this text parses back to a schedule within 0.05 % of them.
        """
        from lrkit.schedules import from_dict

        def rounded(v: Any) -> Any:
            if isinstance(v, float):
                return float(f"{v:.4g}")
            if isinstance(v, list):
                return [rounded(u) for u in v]
            if isinstance(v, dict):
                return {key: rounded(u) for key, u in v.items()}
            return v

        return repr(from_dict(rounded(self.schedule.to_dict())))

    @property
    def winner_lrs(self) -> np.ndarray:
        """The LR of each round along the winner's lineage, ``(R,)``."""
        return self.lrs[self.winner_path, np.arange(len(self.eval_steps))]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (NaN and inf become None); the weights are left out."""
        from lrkit._json import json_value

        return {
            "schedule": repr(self.schedule),
            "schedule_spec": self.schedule.to_dict(),
            "schedule_text": self.schedule_text,
            "best_index": self.best_index,
            "best_metric": self.best_metric if np.isfinite(self.best_metric) else None,
            "criterion": self.criterion,
            "maximize": self.maximize,
            "optimizer": self.optimizer,
            "engine": self.engine,
            "population": self.population,
            "steps": self.steps,
            "interval": self.interval,
            "quantile": self.quantile,
            "seed": self.seed,
            "wall_time_s": self.wall_time_s,
            "eval_steps": self.eval_steps.tolist(),
            "winner_path": self.winner_path.tolist(),
            "lrs": json_value(self.lrs),
            "metrics": json_value(self.metrics),
            "parents": self.parents.tolist(),
            "lineage": [e.to_dict() for e in self.lineage],
            "select": self.select,
            "anneal": self.anneal,
            "anneal_from": self.anneal_from,
            "baseline_lrs": json_value(self.baseline_lrs),
            "baseline_metrics": json_value(self.baseline_metrics),
            "baseline_best_lr": self.baseline_best_lr,
            "baseline_best_metric": self.baseline_best_metric,
            "beat_baseline": self.beat_baseline,
            "winner_losses": json_value(self.winner_losses),
            "notes": list(self.notes),
        }

    def plot(self, path: str | None = None) -> Any:
        """Every member's LR over the rounds coloured by its metric; the winner's lineage on top.

        Returns the matplotlib Figure; saves it to ``path`` when given.
        """
        from lrkit.sweep._result import two_panels

        fig, ax0, ax1 = two_panels(path)
        import matplotlib
        from matplotlib import cm, colors

        finite = self.metrics[np.isfinite(self.metrics)]
        lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        norm = colors.Normalize(vmin=lo, vmax=hi if hi > lo else lo + 1e-12)
        cmap = matplotlib.colormaps["viridis" if self.maximize else "viridis_r"]
        starts, ends = self.round_starts, self.eval_steps
        for i in range(self.population):
            for r in range(len(ends)):
                m = self.metrics[i, r]
                color = cmap(norm(m)) if np.isfinite(m) else "lightgrey"
                ax0.plot([starts[r], ends[r]], [self.lrs[i, r]] * 2, color=color, lw=1.5)
                if r > 0 and self.parents[i, r] != i:  # an exploit: jump from the source's LR
                    src = self.parents[i, r]
                    ax0.plot([starts[r]] * 2, [self.lrs[src, r - 1], self.lrs[i, r]],
                             color=color, lw=0.6, alpha=0.5)  # fmt: skip
        ks = np.arange(self.steps)
        ax0.step(ks, self.schedule(ks), where="post", color="C3", lw=2.5, label="winner's lineage")
        ax0.set(xlabel="update", ylabel="learning rate", yscale="log",
                title=f"PBT, K={self.population} ({self.optimizer})")  # fmt: skip
        ax0.legend(loc="best")
        label = self.criterion.replace("_", " ")
        fig.colorbar(cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax0, label=label)
        for i in range(self.population):
            ax1.plot(ends, self.metrics[i], color="grey", lw=0.6, alpha=0.6)
        ax1.plot(ends, self.metrics[self.winner_path, np.arange(len(ends))], "o-", color="C3",
                 ms=3, label=f"winner: {self.best_metric:.4g}")  # fmt: skip
        ax1.set(xlabel="update", ylabel=label, title=f"{label} per member")
        ax1.legend(loc="best")
        fig.tight_layout()
        if path is not None:
            fig.savefig(path, dpi=120)
        return fig


def _notes(criterion: str, maximize: bool, best: float, base_lr: float | None,
           base: float | None, population: int) -> tuple[str, ...]:  # fmt: skip
    """Whether PBT's winner beat the equal-cost grid, said plainly."""
    if base_lr is None or base is None:
        return ()
    name = "validation loss" if criterion == "val_loss" else "validation score"
    same = (
        f"(the best of the same {population} initial LRs trained at a constant rate, the same "
        "number of updates; both chosen on the same validation data)"
    )
    if not np.isfinite(best) or not (best > base if maximize else best < base):
        return (
            f"PBT did not beat the equal-cost constant-LR grid: its winner's {name} {best:.4g} "
            f"vs {base:.4g} at a constant lr={base_lr:.3g} {same}; prefer that constant LR.",
        )
    return (
        f"PBT beat the equal-cost constant-LR grid: its winner's {name} {best:.4g} vs "
        f"{base:.4g} at a constant lr={base_lr:.3g} {same}. Check on held-out data before "
        "trusting a small difference.",
    )


def build_result(state: Any, losses: np.ndarray, *, criterion: str, optimizer: str, engine: str,
                 interval: int, quantile: float, seed: int, select: str, anneal: float,
                 anneal_from: int | None, compare: bool, wall_time_s: float) -> PBTResult:  # fmt: skip
    """The winner (best final score), its lineage back to round 0, its schedule, and the
    comparison with the constant-LR baseline rows."""
    from lrkit.schedules import join, linear, scale

    ends = np.asarray(state.ends, dtype=int)
    rounds, higher = len(ends), state.higher
    final = state.metrics[:, -1]
    key = np.where(np.isfinite(final), final * (1.0 if higher else -1.0), -np.inf)
    best_index = int(np.argmax(key))
    path = np.empty(rounds, dtype=int)
    path[-1] = best_index
    for rr in range(rounds - 1, 0, -1):
        path[rr - 1] = state.parents[path[rr], rr]
    starts = np.concatenate([[0], ends[:-1]])
    winner = state.lrs[path, np.arange(rounds)]
    schedule = lineage_schedule(starts, winner)
    if anneal_from is not None:  # the last rounds: the winner's LR times the shared decay
        tail = scale(
            linear(1.0, end=0.0, steps=int(ends[-1]) - anneal_from), factor=float(winner[-1])
        )
        schedule = join([schedule, tail], boundaries=[anneal_from])
    lr0 = state.lrs[:, 0].copy()
    best = float(final[best_index])
    result = PBTResult(
        schedule=schedule, lrs=state.lrs, metrics=state.metrics, parents=state.parents,
        losses=losses, eval_steps=ends, lineage=tuple(state.lineage), best_index=best_index,
        best_metric=best, winner_path=path, criterion=criterion, maximize=higher,
        optimizer=optimizer, engine=engine, interval=interval, quantile=quantile, seed=seed,
        wall_time_s=wall_time_s, best_weights=state.pop.weights(best_index), select=select,
        anneal=anneal, anneal_from=anneal_from, baseline_lrs=lr0 if compare else None,
        baseline_metrics=state.baseline.copy() if compare else None,
    )  # fmt: skip
    notes = _notes(criterion, higher, best, result.baseline_best_lr, result.baseline_best_metric,
                   len(lr0))  # fmt: skip
    return dataclasses.replace(result, notes=notes)
