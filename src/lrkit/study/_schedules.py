"""The study's schedules: which names it runs and how the report describes them.

They are built per run by :func:`lrkit.tasks.build_schedule` (the builder tune and the CLI
share), from the run's peak LR and total number of optimizer updates.
"""

from __future__ import annotations

from lrkit.errors import ConfigError
from lrkit.study._budget import SCHEDULES

__all__ = ["DESCRIPTIONS", "check_schedules"]

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
