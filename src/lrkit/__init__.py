"""lrkit: the learning-rate workbench.

Schedules (:mod:`lrkit.schedules`), feedback control (:mod:`lrkit.control`), the LR range test
(:func:`find_lr`), the doctor (:func:`diagnose`), LR search (:func:`tune`), vectorised sweeps
(:func:`sweep`, :func:`pbt`), scaling rules (:mod:`lrkit.scaling`), the impact study
(:func:`run_study`), built-in tasks (:mod:`lrkit.tasks`) and framework adapters
(:mod:`lrkit.integrations`). Importing lrkit imports no ML framework; the heavier parts load on
first use.
"""

from __future__ import annotations

import importlib
from typing import Any

from lrkit import schedules
from lrkit._version import __version__
from lrkit.control import ReduceOnPlateau
from lrkit.errors import ConfigError, LRKitError, ScheduleError
from lrkit.finder import FinderResult, find_lr
from lrkit.schedules import Schedule, parse

__all__ = [
    "ConfigError",
    "Diagnosis",
    "FinderResult",
    "LRKitError",
    "ReduceOnPlateau",
    "Schedule",
    "ScheduleError",
    "__version__",
    "diagnose",
    "find_lr",
    "parse",
    "pbt",
    "run_study",
    "schedules",
    "sweep",
    "tune",
]


# Subpackages that are also the function users call (``lrkit.tune(...)``): imported on first
# use, so ``import lrkit`` stays light and needs none of their optional dependencies.
_CALLABLE_SUBPACKAGES = ("pbt", "sweep", "tune")
_LAZY = {"run_study": "lrkit.study", "diagnose": "lrkit.doctor", "Diagnosis": "lrkit.doctor"}


def __getattr__(name: str) -> Any:
    if name in _CALLABLE_SUBPACKAGES:
        return importlib.import_module(f"lrkit.{name}")
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'lrkit' has no attribute {name!r}")
