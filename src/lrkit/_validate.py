"""Argument checks shared by every package.

Each check returns the value in its canonical type or raises ``error`` (a subclass of
:class:`~lrkit.errors.LRKitError` and ``ValueError``; :class:`~lrkit.errors.ConfigError` by
default) with a message that names the place, the argument and the value given, e.g.
``"sweep: epochs must be >= 1, but got epochs=0"``. Packages pass their own error class
(schedules raise :class:`~lrkit.errors.ScheduleError`, tune :class:`~lrkit.errors.TuneError`).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from typing import Any

from lrkit.errors import ConfigError, LRKitError

__all__ = ["check_bool", "check_choice", "check_float", "check_int", "check_positive_float"]

ErrorType = type[LRKitError]


def check_float(
    where: str,
    arg: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
    allow_inf: bool = False,
    error: ErrorType = ConfigError,
) -> float:
    """Return ``value`` as a float inside the given bounds, or raise ``error``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise error(f"{where}: {arg} must be a number, but got {arg}={value!r}")
    out = float(value)
    if math.isnan(out) or (math.isinf(out) and not allow_inf):
        raise error(f"{where}: {arg} must be finite, but got {arg}={value!r}")
    if low is not None and (out < low or (low_open and out == low)):
        op = ">" if low_open else ">="
        raise error(f"{where}: {arg} must be {op} {low:g}, but got {arg}={value!r}")
    if high is not None and (out > high or (high_open and out == high)):
        op = "<" if high_open else "<="
        raise error(f"{where}: {arg} must be {op} {high:g}, but got {arg}={value!r}")
    return out


def check_positive_float(
    where: str, arg: str, value: Any, *, error: ErrorType = ConfigError
) -> float:
    """Return ``value`` as a finite float > 0, or raise ``error``."""
    return check_float(where, arg, value, low=0.0, low_open=True, error=error)


def check_int(
    where: str,
    arg: str,
    value: Any,
    *,
    low: int | None = 1,
    high: int | None = None,
    error: ErrorType = ConfigError,
) -> int:
    """Return ``value`` as an int in ``[low, high]`` (integral floats such as ``1e4`` pass)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise error(f"{where}: {arg} must be an integer, but got {arg}={value!r}")
    if isinstance(value, numbers.Integral):
        out = int(value)
    elif math.isfinite(float(value)) and float(value).is_integer():
        out = int(float(value))
    else:
        raise error(f"{where}: {arg} must be an integer, but got {arg}={value!r}")
    if low is not None and out < low:
        raise error(f"{where}: {arg} must be >= {low}, but got {arg}={value!r}")
    if high is not None and out > high:
        raise error(f"{where}: {arg} must be <= {high}, but got {arg}={value!r}")
    return out


def check_choice(
    where: str, arg: str, value: Any, choices: Sequence[str], *, error: ErrorType = ConfigError
) -> str:
    """Return ``value`` if it is one of ``choices``, else raise naming the allowed values."""
    if value not in choices:
        raise error(
            f"{where}: {arg} must be one of {', '.join(map(repr, choices))}, but got {arg}={value!r}"
        )
    return str(value)


def check_bool(where: str, arg: str, value: Any, *, error: ErrorType = ConfigError) -> bool:
    """Return ``value`` if it is a bool (NumPy's included), else raise."""
    if not isinstance(value, bool) and type(value).__name__ != "bool_":
        raise error(f"{where}: {arg} must be True or False, but got {arg}={value!r}")
    return bool(value)
