"""Study budgets: how much training each of ``quick``, ``standard`` and ``thorough`` buys."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from lrkit.errors import ConfigError

__all__ = ["BUDGETS", "SCHEDULES", "Budget", "get_budget"]

#: Every schedule the study knows, in report order.
SCHEDULES: tuple[str, ...] = (
    "constant",
    "step",
    "exponential",
    "cosine",
    "one_cycle",
    "wsd",
    "plateau",
)


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
    "quick": Budget("quick", epochs=5, grid=5, span=1.2, seeds=3, optimizers=None, finder_steps=60),
    "standard": Budget(
        "standard",
        epochs=12,
        grid=7,
        span=1.5,
        seeds=3,
        optimizers=("adam", "sgd_momentum"),
        finder_steps=100,
    ),
    "thorough": Budget(
        "thorough",
        epochs=40,
        grid=9,
        span=2.0,
        seeds=5,
        optimizers=("adam", "sgd_momentum"),
        finder_steps=200,
    ),
}


def get_budget(budget: str | Budget) -> Budget:
    """The named budget (a :class:`Budget` passes through)."""
    if isinstance(budget, Budget):
        return budget
    if budget not in BUDGETS:
        raise ConfigError(f"budget must be one of {', '.join(BUDGETS)}, but got budget={budget!r}")
    return BUDGETS[budget]
