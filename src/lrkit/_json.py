"""JSON-safe values for results' ``to_dict()``: one policy for NaN/inf, tuples and NumPy.

Strict JSON has no NaN or infinity, so a non-finite float becomes ``None`` (``json.dumps(...,
allow_nan=False)`` then never fails); tuples become lists, NumPy arrays and scalars become
Python lists and numbers, and nested results become their own ``to_dict()``.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

__all__ = ["json_float", "json_value", "to_json_dict"]


def json_float(value: Any) -> float | None:
    """``float(value)``, or ``None`` when it is NaN or infinite (or ``None`` itself).

    >>> json_float(0.5), json_float(float("nan")), json_float(None)
    (0.5, None, None)
    """
    if value is None:
        return None
    out = float(value)
    return out if math.isfinite(out) else None


def json_value(value: Any) -> Any:
    """``value`` made JSON-safe, recursively (see the module docstring).

    >>> json_value({"a": (1, float("inf")), "b": [2.5, None]})
    {'a': [1, None], 'b': [2.5, None]}
    """
    if type(value) is float:  # fast path: long loss histories are lists of plain floats
        return value if math.isfinite(value) else None
    if isinstance(value, bool) or value is None or isinstance(value, int | str):
        return value
    if isinstance(value, float):
        return json_float(value)
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if hasattr(value, "tolist"):  # NumPy arrays and scalars, without importing NumPy
        return json_value(value.tolist())
    return value


def to_json_dict(obj: Any) -> dict[str, Any]:
    """The public fields of dataclass ``obj`` (names not starting with ``_``), JSON-safe.

    >>> @dataclasses.dataclass(frozen=True)
    ... class Point:
    ...     x: float
    ...     names: tuple[str, ...]
    >>> to_json_dict(Point(float("nan"), ("a", "b")))
    {'x': None, 'names': ['a', 'b']}
    """
    return {
        f.name: json_value(getattr(obj, f.name))
        for f in dataclasses.fields(obj)
        if not f.name.startswith("_")
    }
