"""Vectorised learning-rate sweeps: K copies of a model, one per LR, trained at once.

Importing this package does not import torch; :func:`sweep` does when it is called.
"""

from __future__ import annotations

from lrkit.sweep._api import sweep
from lrkit.sweep._result import SweepResult

__all__ = ["SweepResult", "sweep"]

from lrkit._callable import callable_module

callable_module(__name__, sweep)
