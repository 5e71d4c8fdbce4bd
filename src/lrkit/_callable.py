"""Make a subpackage callable, so ``lrkit.tune(...)`` and ``import lrkit.tune`` both work.

``lrkit.tune`` is both a subpackage (``lrkit.tune.TuneResult``) and the function users call.
A plain re-export of the function is clobbered as soon as anyone imports the subpackage (the
import system sets the parent's attribute to the module), so the module itself is made
callable instead: calling it calls the function.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from typing import Any

__all__ = ["callable_module"]


def callable_module(name: str, func: Callable[..., Any]) -> None:
    """Turn module ``name`` into a callable that forwards to ``func``."""
    module = sys.modules[name]

    class _CallableModule(types.ModuleType):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            return func(*args, **kwargs)

    _CallableModule.__call__.__doc__ = func.__doc__
    module.__class__ = _CallableModule
