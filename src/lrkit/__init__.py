"""lrkit: the learning-rate workbench.

Schedules (:mod:`lrkit.schedules`), feedback control (:mod:`lrkit.control`), and adapters for
training frameworks (:mod:`lrkit.integrations`). The core imports no ML framework.
"""

from __future__ import annotations

from lrkit import schedules
from lrkit._version import __version__
from lrkit.control import ReduceOnPlateau
from lrkit.errors import ConfigError, LRKitError, ScheduleError
from lrkit.schedules import Schedule, parse

__all__ = [
    "ConfigError",
    "LRKitError",
    "ReduceOnPlateau",
    "Schedule",
    "ScheduleError",
    "__version__",
    "parse",
    "schedules",
]
