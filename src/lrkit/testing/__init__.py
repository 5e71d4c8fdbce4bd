"""Shared contract suites for people who extend lrkit.

A schedule written outside lrkit (or a new factory inside it) should pass the same contract as
the built-in ones; call these helpers from your own tests, e.g. with ``pytest.mark.parametrize``
over your parameter sets:

>>> from lrkit import schedules as S
>>> from lrkit.testing import check_invalid, check_schedule
>>> check_schedule(S.warmup(S.cosine(lr=0.1, steps=100), steps=10), steps=150)
>>> check_invalid(S.cosine, {"lr": -1.0, "steps": 10}, arg="lr")
ScheduleError('cosine: lr must be >= 0, but got lr=-1.0')

A framework adapter passes :func:`check_adapter` (see :mod:`lrkit.testing._integration` for the
run function it drives). Each helper raises :class:`AssertionError` with a message saying what
broke.
"""

from __future__ import annotations

from lrkit.testing._cases import example_schedules, schedule_cases
from lrkit.testing._integration import check_adapter
from lrkit.testing._schedules import check_invalid, check_registry_covered, check_schedule

# the contracts an extender runs; their parts (check_roundtrip, check_vectorised, check_values,
# probe_steps, check_lrs, ...) stay importable from the private modules
__all__ = [
    "check_adapter",
    "check_invalid",
    "check_registry_covered",
    "check_schedule",
    "example_schedules",
    "schedule_cases",
]
