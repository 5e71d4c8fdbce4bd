"""Parse the text form of a schedule, e.g. ``"warmup(cosine(lr=3e-4, steps=10000), steps=500)"``.

The grammar is a Python call expression, read with :mod:`ast` (never ``eval``): schedule names
as functions, numbers, ``True``/``False``/``None``, ``inf``, strings, lists, and nested
schedule calls. The ``repr`` of every schedule is in this form, so ``parse(repr(s)) == s``.

The text form is user data (configs, logs, saved specs), so it keeps accepting positional
arguments after the first, although the Python factories take those by keyword only:
``"multistep(0.1, [30, 60])"`` maps its arguments onto the schedule's fields in declaration
order (``lr``, ``milestones``, ``gamma``), the order the factories had when they were
positional and the order of ``to_dict``.
"""

from __future__ import annotations

import ast
import math
from typing import Any

from lrkit.errors import ScheduleError
from lrkit.schedules._base import Schedule, _factory, field_names

__all__ = ["parse"]


def parse(text: str) -> Schedule:
    """Build a schedule from its text form.

    >>> parse("warmup(cosine(lr=3e-4, steps=10000), steps=500)")
    warmup(schedule=cosine(lr=0.0003, steps=10000), steps=500)
    >>> parse("multistep(0.1, [30, 60])")(45)
    0.010000000000000002
    """
    if not isinstance(text, str) or not text.strip():
        raise ScheduleError(f"a schedule spec must be a non-empty string, but got {text!r}")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as exc:
        raise ScheduleError(f"cannot parse schedule {text!r}: {exc.msg}") from None
    value = _value(tree.body, text)
    if not isinstance(value, Schedule):
        raise ScheduleError(f"{text!r} is not a schedule call such as 'cosine(lr=0.1, steps=1000)'")
    return value


def _value(node: ast.AST, text: str) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float | str | bool | None):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd):
        inner = _value(node.operand, text)
        if isinstance(inner, int | float) and not isinstance(inner, bool):
            return -inner if isinstance(node.op, ast.USub) else inner
    if isinstance(node, ast.Name) and node.id in ("inf", "infinity"):
        return math.inf
    if isinstance(node, ast.List | ast.Tuple):
        return [_value(e, text) for e in node.elts]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        factory = _factory(node.func.id)
        params = field_names(node.func.id)
        if len(node.args) > len(params):
            raise ScheduleError(
                f"{node.func.id}: takes at most {len(params)} arguments ({', '.join(params)}), "
                f"but got {len(node.args)} in {text!r}"
            )
        kwargs: dict[str, Any] = {}
        for name, arg in zip(params, node.args, strict=False):
            kwargs[name] = _value(arg, text)
        for kw in node.keywords:
            if kw.arg is None or kw.arg not in params:
                raise ScheduleError(
                    f"{node.func.id}: unknown argument {kw.arg!r} in {text!r} "
                    f"(arguments: {', '.join(params)})"
                )
            if kw.arg in kwargs:
                raise ScheduleError(f"{node.func.id}: argument {kw.arg!r} given twice in {text!r}")
            kwargs[kw.arg] = _value(kw.value, text)
        try:
            return factory(**kwargs)
        except TypeError as exc:
            raise ScheduleError(f"{node.func.id}: {exc} in {text!r}") from None
    snippet = ast.get_source_segment(text.strip(), node) or type(node).__name__
    raise ScheduleError(f"cannot understand {snippet!r} in schedule {text!r}")
