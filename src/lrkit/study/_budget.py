"""Study budgets: how much training each of ``quick``, ``standard`` and ``thorough`` buys."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from lrkit._validate import check_choice
from lrkit.tasks._schedules import SCHEDULE_NAMES

__all__ = ["BUDGETS", "SCHEDULES", "Budget", "get_budget"]

#: Every schedule the study knows, in report order: the named schedules of
#: :func:`lrkit.tasks.build_schedule` but ``linear`` (close to ``cosine`` at this resolution).
SCHEDULES: tuple[str, ...] = tuple(n for n in SCHEDULE_NAMES if n != "linear")


@dataclass(frozen=True)
class Budget:
    """What one study run trains.

    Attributes:
        name: ``"quick"``, ``"standard"`` or ``"thorough"``.
        epochs: epochs of every training run (sweep points and final runs alike).
        grid: learning rates per schedule in the sensitivity sweep.
        span: decades the grid covers on each side of the finder's centre.
        seeds: seeds of the final trainings at each schedule's best LR.
        optimizers: default optimizers (``None``: the task's own optimizer only).
        finder_steps: steps of the range test.
    """

    name: str
    epochs: int
    grid: int
    span: float
    seeds: int
    optimizers: tuple[str, ...] | None
    finder_steps: int

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["optimizers"] = list(self.optimizers) if self.optimizers is not None else None
        return d


# Sized from measured costs on a shared 2-core CPU (mnist1d-cnn, one torch thread: ~0.13 s per
# epoch with evaluation): quick trains 280 epochs (~40 s end to end), standard 1680 (~4 min),
# thorough 7840 (~17 min).
BUDGETS: dict[str, Budget] = {
    # name: Budget(name, epochs, grid, span, seeds, optimizers, finder_steps)
    "quick": Budget("quick", 5, 5, 1.2, 3, None, 60),
    "standard": Budget("standard", 12, 7, 1.5, 3, ("adam", "sgd_momentum"), 100),
    "thorough": Budget("thorough", 40, 9, 2.0, 5, ("adam", "sgd_momentum"), 200),
}


def get_budget(budget: str | Budget) -> Budget:
    """The named budget (a :class:`Budget` passes through)."""
    if isinstance(budget, Budget):
        return budget
    return BUDGETS[check_choice("study", "budget", budget, tuple(BUDGETS))]
