"""Schedules by name: one builder for the study, tune's ``schedule`` parameter and the CLI.

A named schedule is built per run from the run's peak LR and its total number of optimizer
updates, so the same name means the same shape whatever the task's size. ``plateau`` is a
constant schedule times a :class:`lrkit.control.ReduceOnPlateau` controller fed the
validation loss after each epoch (see :func:`build_controller`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lrkit import schedules as S
from lrkit._validate import check_choice, check_int, check_positive_float

if TYPE_CHECKING:
    from lrkit.control import ReduceOnPlateau
    from lrkit.schedules import Schedule

__all__ = ["SCHEDULE_NAMES", "build_controller", "build_schedule", "plateau_patience"]

#: Every schedule name :func:`build_schedule` knows.
SCHEDULE_NAMES: tuple[str, ...] = (
    "constant",
    "linear",
    "step",
    "exponential",
    "cosine",
    "one_cycle",
    "wsd",
    "plateau",
)


def build_schedule(name: str, lr: float, total: int) -> Schedule:
    """The schedule ``name`` with peak ``lr`` over ``total`` optimizer updates.

    ``plateau`` is the constant base schedule here; its controller multiplies it in the loop.

    >>> build_schedule("cosine", 0.1, 100)
    cosine(lr=0.1, steps=100)
    """
    check_choice("build_schedule", "name", name, SCHEDULE_NAMES)
    lr = check_positive_float("build_schedule", "lr", lr)
    total = max(check_int("build_schedule", "total", total), 2)
    if name in ("constant", "plateau"):
        return S.constant(lr)
    if name == "linear":
        return S.linear(start=lr, end=0.0, steps=total)
    if name == "step":
        return S.multistep(lr, milestones=[total // 2, (3 * total) // 4], gamma=0.1)
    if name == "exponential":
        # lr * rate**(k/steps) reaches 1% at the last update, k = total - 1.
        return S.exponential(lr, rate=0.01, steps=total - 1)
    if name == "cosine":
        return S.cosine(lr, steps=total)
    if name == "one_cycle":
        return S.one_cycle(lr, steps=total)
    return S.wsd(lr, steps=total, decay_steps=max(1, total // 5))


def plateau_patience(epochs: int) -> int:
    """Epochs without improvement tolerated before a cut: ~10% of the run, at least 1."""
    return max(1, round(epochs / 10))


def build_controller(name: str, epochs: int) -> ReduceOnPlateau | None:
    """The feedback rule of schedule ``name`` over ``epochs`` epochs (``None``: closed form).

    ``plateau``: ×0.1 when the validation loss has not improved for :func:`plateau_patience`
    epochs.
    """
    check_choice("build_controller", "name", name, SCHEDULE_NAMES)
    if name != "plateau":
        return None
    from lrkit.control import ReduceOnPlateau

    return ReduceOnPlateau(factor=0.1, patience=plateau_patience(epochs))
