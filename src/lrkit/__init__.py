"""lrkit: the learning-rate workbench.

Schedules (:mod:`lrkit.schedules`), feedback control (:mod:`lrkit.control`), the LR range test
(:func:`find_lr`, :mod:`lrkit.finder`), built-in tasks (:mod:`lrkit.tasks`), and adapters for
training frameworks (:mod:`lrkit.integrations`). Importing lrkit imports no ML framework.
"""

from __future__ import annotations

from lrkit import schedules
from lrkit._version import __version__
from lrkit.control import ReduceOnPlateau
from lrkit.errors import ConfigError, LRKitError, ScheduleError
from lrkit.finder import FinderResult, find_lr
from lrkit.schedules import Schedule, parse

__all__ = [
    "ConfigError",
    "FinderResult",
    "LRKitError",
    "ReduceOnPlateau",
    "Schedule",
    "ScheduleError",
    "__version__",
    "find_lr",
    "parse",
    "schedules",
]
