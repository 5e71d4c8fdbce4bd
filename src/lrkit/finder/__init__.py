"""LR range test (Smith 2017): sweep the LR, watch the loss, suggest an LR and a range.

The core is framework-free — :func:`range_test` drives any ``step_fn(lr) -> loss`` and
:func:`suggest` reads any curve — and imports no ML framework. :func:`find_lr` runs the
test on a PyTorch model (torch is imported only when it is called) and leaves the model,
the optimizer and the RNGs exactly as they were.
"""

from __future__ import annotations

from lrkit.finder._core import MIN_STEPS, lr_sweep, range_test
from lrkit.finder._result import FinderResult
from lrkit.finder._suggest import METHODS, ema, fit_curve, lrkit_interval, suggest
from lrkit.finder._task import find_lr_on_task  # imports torch only when called
from lrkit.finder._torch import find_lr  # imports torch only when called

__all__ = [
    "METHODS",
    "MIN_STEPS",
    "FinderResult",
    "ema",
    "find_lr",
    "find_lr_on_task",
    "fit_curve",
    "lr_sweep",
    "lrkit_interval",
    "range_test",
    "suggest",
]
