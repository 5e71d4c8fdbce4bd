"""The study's schedules, built per run from the run's total number of optimizer updates."""

from __future__ import annotations

from collections.abc import Callable

from lrkit import schedules as S
from lrkit.errors import ConfigError
from lrkit.study._budget import SCHEDULES

__all__ = ["DESCRIPTIONS", "build_schedule", "check_schedules", "plateau_patience"]

#: One line per schedule, shown in the report.
DESCRIPTIONS: dict[str, str] = {
    "constant": "constant LR",
    "step": "multistep: ×0.1 at 50% and 75% of the updates",
    "exponential": "exponential decay to 1% of the LR at the last update",
    "cosine": "cosine decay to 0",
    "one_cycle": "one-cycle (Smith & Topin): warm up to the LR over 30%, anneal (cos)",
    "wsd": "warmup-stable-decay: constant, then a 1−sqrt cooldown over the last 20%",
    "plateau": "constant LR ×0.1 when the validation loss stops improving (ReduceOnPlateau)",
}


def check_schedules(names: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Validate and de-duplicate schedule names, keeping the canonical order."""
    names = tuple(names)
    unknown = [n for n in names if n not in SCHEDULES]
    if unknown or not names:
        raise ConfigError(
            f"schedules must be a non-empty subset of {', '.join(SCHEDULES)}, "
            f"but got schedules={','.join(names)!r}"
        )
    return tuple(n for n in SCHEDULES if n in names)


def build_schedule(name: str, lr: float, total: int) -> Callable[[int], float]:
    """The LR of update ``k`` for schedule ``name`` with peak ``lr`` over ``total`` updates.

    ``plateau`` is the constant base schedule here; the plateau rule multiplies it in the loop.
    """
    total = max(int(total), 2)
    if name in ("constant", "plateau"):
        return S.constant(lr)
    if name == "step":
        return S.multistep(lr, milestones=[total // 2, (3 * total) // 4], gamma=0.1)
    if name == "exponential":
        # lr * rate**(k/steps) reaches 1% at the last update, k = total - 1.
        return S.exponential(lr, rate=0.01, steps=total - 1)
    if name == "cosine":
        return S.cosine(lr, steps=total)
    if name == "one_cycle":
        return S.one_cycle(lr, steps=total)
    if name == "wsd":
        return S.wsd(lr, steps=total, decay_steps=max(1, total // 5))
    raise ConfigError(f"unknown schedule {name!r}: use one of {', '.join(SCHEDULES)}")


def plateau_patience(epochs: int) -> int:
    """Epochs without improvement tolerated before a cut: ~10% of the run, at least 1."""
    return max(1, round(epochs / 10))
