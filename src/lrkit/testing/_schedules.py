"""The schedule contract: what every :class:`lrkit.schedules.Schedule` must satisfy.

Modelled on optuna's ``testing/pytest_samplers.py``: plain functions that raise
:class:`AssertionError`, so they work under pytest, unittest or a bare script.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import numpy as np

from lrkit.errors import ScheduleError
from lrkit.schedules import Schedule, from_dict, parse, registry

__all__ = [
    "check_invalid",
    "check_registry_covered",
    "check_roundtrip",
    "check_schedule",
    "check_values",
    "check_vectorised",
    "probe_steps",
]

_Steps = int | Sequence[int] | np.ndarray


def probe_steps(schedule: Schedule, steps: _Steps = 256) -> np.ndarray:
    """The integer steps the contract evaluates ``schedule`` at.

    ``steps`` is a count (``0 .. steps-1``) or explicit steps. Around a finite horizon ``H`` the
    steps ``H-1, H, H+1, H+2, 2H`` are added, where clamping and phase changes happen.

    >>> from lrkit.schedules import cosine
    >>> probe_steps(cosine(lr=1.0, steps=10), steps=3).tolist()
    [0, 1, 2, 9, 10, 11, 12, 20]
    """
    if isinstance(steps, int | np.integer) and not isinstance(steps, bool):
        ks = np.arange(int(steps), dtype=np.int64)
    else:
        ks = np.asarray(steps, dtype=np.int64).ravel()
    extra: list[int] = []
    horizon = schedule.horizon
    if horizon is not None:
        extra = [horizon - 1, horizon, horizon + 1, horizon + 2, 2 * horizon]
    out = np.unique(np.concatenate([ks, np.asarray(extra, dtype=np.int64)]))
    return out[out >= 0]


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


def check_vectorised(schedule: Schedule, ks: np.ndarray) -> None:
    """Assert that the array path gives *exactly* the floats of the scalar path, at every step.

    Also checks that Python ints, NumPy integers, lists, integral float arrays and 2-D arrays
    all give the same values, in the input's shape.
    """
    ks = np.asarray(ks, dtype=np.int64)
    dyn: Any = schedule  # called with NumPy integers and lists too, beyond the typed overloads
    vec = schedule(ks)
    assert isinstance(vec, np.ndarray), f"{schedule!r}: array input gave {type(vec).__name__}"
    assert vec.dtype == np.float64, f"{schedule!r}: array output has dtype {vec.dtype}"
    assert vec.shape == ks.shape, f"{schedule!r}: shape {vec.shape} for steps of shape {ks.shape}"
    for i, k in enumerate(ks.tolist()):
        scalar = schedule(k)
        assert type(scalar) is float, f"{schedule!r}: s({k}) is {type(scalar).__name__}"
        assert _same(scalar, float(vec[i])), (
            f"{schedule!r}: scalar and vectorised values differ at k={k}: "
            f"s({k}) = {scalar!r}, s(array)[{i}] = {float(vec[i])!r}"
        )
        assert _same(float(dyn(np.int64(k))), scalar), f"{schedule!r}: s(np.int64({k})) differs"
    if ks.size:
        assert np.array_equal(schedule(ks.astype(np.float64)), vec, equal_nan=True), (
            f"{schedule!r}: integral float steps give other values than integer steps"
        )
        assert np.array_equal(dyn(ks.tolist()), vec, equal_nan=True), (
            f"{schedule!r}: a list of steps gives other values than an array"
        )
        assert np.array_equal(schedule(ks.astype(np.float64)[::-1]), vec[::-1], equal_nan=True), (
            f"{schedule!r}: a reversed (non-contiguous) array of steps gives other values"
        )
        # a reversed, non-contiguous 2-D view: values must not depend on layout or order
        grid = np.stack([ks, ks])[:, ::-1]
        got = schedule(grid)
        assert got.shape == grid.shape, f"{schedule!r}: 2-D input gave shape {got.shape}"
        assert np.array_equal(got[0], vec[::-1], equal_nan=True), (
            f"{schedule!r}: a 2-D, non-contiguous array of steps gives other values"
        )
    assert schedule(np.zeros(0, dtype=np.int64)).shape == (0,), f"{schedule!r}: empty input"


def check_values(schedule: Schedule, ks: np.ndarray) -> None:
    """Assert that every value is a finite, non-negative float."""
    values = schedule(np.asarray(ks, dtype=np.int64))
    bad = ~np.isfinite(values) | (values < 0)
    if bad.any():
        i = int(np.argmax(bad))
        raise AssertionError(
            f"{schedule!r}: LR must be finite and >= 0, but s({int(ks[i])}) = {values[i]!r}"
        )


def check_roundtrip(schedule: Schedule, ks: np.ndarray | None = None) -> None:
    """Assert ``from_dict(to_dict)``, JSON and ``parse(repr)`` all give back an equal schedule."""
    d = schedule.to_dict()
    assert isinstance(d, dict) and isinstance(d.get("name"), str), f"{schedule!r}: to_dict {d!r}"
    assert d["name"] in registry(), f"{schedule!r}: name {d['name']!r} is not registered"
    text = json.dumps(d, allow_nan=False)  # strict JSON: no NaN/Infinity tokens
    loaded = json.loads(text)
    assert loaded == d, f"{schedule!r}: to_dict() is not JSON-stable: {d!r} -> {loaded!r}"
    copies = {
        "from_dict(to_dict())": from_dict(d),
        "from_dict(json)": from_dict(loaded),
        "parse(repr())": parse(repr(schedule)),
    }
    for how, other in copies.items():
        assert type(other) is type(schedule), f"{schedule!r}: {how} gave {type(other).__name__}"
        assert other == schedule, f"{schedule!r}: {how} gave a different schedule {other!r}"
        assert hash(other) == hash(schedule), f"{schedule!r}: {how} changed the hash"
        assert repr(other) == repr(schedule), f"{schedule!r}: {how} changed the repr"
        assert other.to_dict() == d, f"{schedule!r}: {how} changed to_dict()"
        if ks is not None:
            assert np.array_equal(other(ks), schedule(ks)), f"{schedule!r}: {how} changed values"


def check_schedule(schedule: Schedule, *, steps: _Steps = 256) -> None:
    """Run the whole schedule contract on ``schedule``.

    * the scalar and vectorised paths agree exactly (:func:`check_vectorised`);
    * every value is finite and non-negative (:func:`check_values`);
    * ``to_dict``/``from_dict``, JSON and ``parse(repr(s))`` round-trip (:func:`check_roundtrip`);
    * negative or non-integer steps raise :class:`lrkit.errors.ScheduleError`;
    * ``horizon`` is ``None`` or an ``int >= 0``.

    ``steps`` is a count or explicit steps, see :func:`probe_steps`.
    """
    assert isinstance(schedule, Schedule), f"not a Schedule: {schedule!r}"
    horizon = schedule.horizon
    assert horizon is None or (type(horizon) is int and horizon >= 0), (
        f"{schedule!r}: horizon must be None or an int >= 0, but got {horizon!r}"
    )
    ks = probe_steps(schedule, steps)
    check_vectorised(schedule, ks)
    check_values(schedule, ks)
    check_roundtrip(schedule, ks)
    dyn: Any = schedule
    for bad in (-1, np.int64(-3), np.array([0, -1]), np.array([0.5]), np.array([np.nan])):
        try:
            dyn(bad)
        except ScheduleError:
            continue
        raise AssertionError(f"{schedule!r}: s({bad!r}) did not raise ScheduleError")


def check_invalid(
    factory: Callable[..., Any],
    kwargs: Mapping[str, Any],
    *,
    arg: str | None = None,
) -> ScheduleError:
    """Assert that ``factory(**kwargs)`` raises a :class:`ScheduleError` (a ``ValueError``)
    whose message names the offending argument and its value.

    ``arg`` is the argument at fault; when omitted, the message must name at least one of
    ``kwargs`` together with its value. The value may appear as ``repr(value)`` or, for a list,
    as the repr of one of its items. Returns the exception for further checks.
    """
    try:
        factory(**kwargs)
    except ScheduleError as exc:
        err = exc
    except Exception as exc:  # the wrong kind of error is a contract failure too
        raise AssertionError(
            f"{_call(factory, kwargs)} raised {type(exc).__name__}: {exc} "
            "instead of lrkit.errors.ScheduleError"
        ) from exc
    else:
        raise AssertionError(f"{_call(factory, kwargs)} did not raise")
    assert isinstance(err, ValueError), f"{type(err).__name__} is not a ValueError"
    msg = str(err)
    names = [arg] if arg is not None else list(kwargs)
    for name in names:
        if name in msg and any(r in msg for r in _value_reprs(kwargs.get(name))):
            return err
    raise AssertionError(
        f"{_call(factory, kwargs)} raised {msg!r}, which does not name "
        f"{' or '.join(names)} with its value"
    )


def _value_reprs(value: Any) -> list[str]:
    reprs = [repr(value)]
    if isinstance(value, float) and value.is_integer():
        reprs.append(repr(int(value)))
    if isinstance(value, int | float) and not isinstance(value, bool):
        reprs.append(repr(float(value)))
    if isinstance(value, list | tuple):
        reprs.append(repr(list(value)))
        reprs.extend(repr(v) for v in value)
    return reprs


def _call(factory: Callable[..., Any], kwargs: Mapping[str, Any]) -> str:
    name = getattr(factory, "__name__", repr(factory))
    return f"{name}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})"


def check_registry_covered(covered: Iterable[str]) -> None:
    """Assert that every registered schedule name is in ``covered`` (your test's parameter sets).

    Put this in your suite so that registering a new schedule without adding parameter sets
    for it fails the tests.
    """
    missing = sorted(set(registry()) - set(covered))
    assert not missing, f"registered schedules without parameter sets in the suite: {missing}"
