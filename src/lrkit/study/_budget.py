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
        pbt: members of the population-based-training phase (:func:`lrkit.pbt` over the
            first optimizer's sensitivity-grid range, with its equal-cost constant-LR grid
            trained alongside); 0 turns the phase off.
    """

    name: str
    epochs: int
    grid: int
    span: float
    seeds: int
    optimizers: tuple[str, ...] | None
    finder_steps: int
    pbt: int = 0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["optimizers"] = list(self.optimizers) if self.optimizers is not None else None
        return d


# Sized from measured costs on a shared 2-core CPU (mnist1d-cnn, one torch thread: ~0.13 s per
# epoch with evaluation): quick trains 280 epochs (~40 s end to end), standard 1680 (~4 min),
# thorough 7840 (~17 min). The PBT phase (off for quick, which the CI runs within 90 s) trains
# 2 x 8 members vectorised (PBT and its equal-cost constant grid) for the budget's epochs:
# ~5 s per epoch on mnist1d-cnn (torch.func.vmap, one thread, busy 2-core CPU), so ~1 min more
# for standard and ~3.5 min more for thorough.
BUDGETS: dict[str, Budget] = {
    # name: Budget(name, epochs, grid, span, seeds, optimizers, finder_steps, pbt)
    "quick": Budget("quick", 5, 5, 1.2, 3, None, 60, 0),
    "standard": Budget("standard", 12, 7, 1.5, 3, ("adam", "sgd_momentum"), 100, 8),
    "thorough": Budget("thorough", 40, 9, 2.0, 5, ("adam", "sgd_momentum"), 200, 8),
}


def get_budget(budget: str | Budget) -> Budget:
    """The named budget (a :class:`Budget` passes through)."""
    if isinstance(budget, Budget):
        return budget
    return BUDGETS[check_choice("study", "budget", budget, tuple(BUDGETS))]
