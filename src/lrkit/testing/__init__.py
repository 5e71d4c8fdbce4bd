"""Shared contract suites for people who extend lrkit.

A schedule written outside lrkit (or a new factory inside it) should pass the same contract as
the built-in ones; call these helpers from your own tests, e.g. with ``pytest.mark.parametrize``
over your parameter sets:

>>> from lrkit import schedules as S
>>> from lrkit.testing import check_invalid, check_schedule
>>> check_schedule(S.warmup(S.cosine(lr=0.1, steps=100), steps=10), steps=150)
>>> check_invalid(S.cosine, {"lr": -1.0, "steps": 10}, arg="lr")
ScheduleError('cosine: lr must be >= 0, but got lr=-1.0')

Each helper raises :class:`AssertionError` with a message saying what broke.
"""

from __future__ import annotations

from lrkit.testing._cases import example_schedules, schedule_cases
from lrkit.testing._schedules import (
    check_invalid,
    check_registry_covered,
    check_roundtrip,
    check_schedule,
    check_values,
    check_vectorised,
    probe_steps,
)

__all__ = [
    "check_invalid",
    "check_registry_covered",
    "check_roundtrip",
    "check_schedule",
    "check_values",
    "check_vectorised",
    "example_schedules",
    "probe_steps",
    "schedule_cases",
]
