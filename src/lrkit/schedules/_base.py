"""The :class:`Schedule` base class, the registry of schedule factories, and argument checks.

A schedule is a frozen dataclass whose :meth:`Schedule.formula` is written once against an
*array namespace* ``xp`` (NumPy, ``jax.numpy`` or ``keras.ops``): only ``xp.where``,
``xp.minimum``, ``xp.maximum``, ``xp.floor``, ``xp.cos``, ``xp.sqrt``, ``xp.power``,
``xp.exp``, ``xp.log``, ``xp.tanh`` and Python arithmetic operators are used, and never a
Python branch on the step, so the same code runs under NumPy and under ``jax.jit``.
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, TypeVar, cast, overload

import numpy as np

from lrkit import _validate
from lrkit.errors import ScheduleError

__all__ = ["Schedule", "from_dict", "registry"]

_REGISTRY: dict[str, tuple[type[Schedule], Callable[..., Schedule]]] = {}


def registry() -> dict[str, Callable[..., Schedule]]:
    """Map each schedule name (as used by :func:`parse` and ``to_dict``) to its factory."""
    return {name: factory for name, (_, factory) in sorted(_REGISTRY.items())}


def _register(name: str, factory: Callable[..., Schedule], cls: type[Schedule]) -> None:
    if name in _REGISTRY:
        raise RuntimeError(f"schedule {name!r} registered twice")
    cls.name = name
    _REGISTRY[name] = (cls, factory)


@dataclasses.dataclass(frozen=True, repr=False)
class Schedule:
    """A learning-rate schedule: a pure function of the optimizer-update index ``k``.

    ``s(k)`` is the LR used for the k-th optimizer update, counting from 0. Call it with an
    ``int`` to get a ``float``, or with an integer NumPy array to get a float64 array of the
    same shape with identical values. Schedules hold no state; the adapter owns the counter.
    """

    name: ClassVar[str] = "schedule"

    def __post_init__(self) -> None:
        _check_fields(self)
        self.validate()

    def validate(self) -> None:
        """Checks that involve several arguments (each field's own check is declared with
        :func:`arg`); raise :class:`~lrkit.errors.ScheduleError` naming them and their values."""

    # -- to be provided by each schedule -------------------------------------------------
    def formula(self, k: Any, xp: Any) -> Any:
        """Evaluate the schedule at float steps ``k`` (an ``xp`` array) with namespace ``xp``."""
        raise NotImplementedError

    @property
    def horizon(self) -> int | None:
        """Number of steps the schedule is designed for, or ``None`` when it has no natural end."""
        return None

    # -- evaluation ----------------------------------------------------------------------
    @overload
    def __call__(self, k: int) -> float: ...

    @overload
    def __call__(self, k: np.ndarray) -> np.ndarray: ...

    def __call__(self, k: int | np.ndarray | Sequence[int]) -> float | np.ndarray:
        if isinstance(k, numbers.Integral) and not isinstance(k, bool):
            if k < 0:
                raise ScheduleError(f"{self.name}: step must be >= 0, but got k={k}")
            # a one-element array, not a NumPy scalar: NumPy may round some ufuncs differently
            # for 0-d and array inputs (np.power(0.1, 2.0) on AVX-512), and s(k) must equal s(ks)
            out = self.formula(np.full(1, k, dtype=np.float64), np)
            return float(np.asarray(out, dtype=np.float64).reshape(-1)[0])
        arr = np.asarray(k)
        if arr.dtype.kind not in "iu":
            if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.floor(arr)):
                pass  # integral floats (e.g. from np.linspace) are accepted
            else:
                raise ScheduleError(
                    f"{self.name}: steps must be integers, but got an array of dtype {arr.dtype}"
                )
        if arr.size and arr.min() < 0:
            raise ScheduleError(f"{self.name}: steps must be >= 0, but got k={arr.min()}")
        out = self.formula(arr.astype(np.float64), np)
        return np.broadcast_to(np.asarray(out, dtype=np.float64), arr.shape).copy()

    def evaluate(self, k: Any, xp: Any) -> Any:
        """Evaluate at float steps ``k`` with the array namespace ``xp`` (JAX, Keras ops, ...)."""
        return self.formula(k, xp)

    def sample(self, steps: int) -> np.ndarray:
        """The LRs of the first ``steps`` updates, ``s(np.arange(steps))``."""
        return self(np.arange(int(steps)))

    # -- serialisation -------------------------------------------------------------------
    def params(self) -> dict[str, Any]:
        """The constructor arguments, in declaration order."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict; :func:`lrkit.schedules.from_dict` rebuilds an equal schedule.

        >>> from lrkit.schedules import cosine
        >>> cosine(lr=0.1, steps=100).to_dict()
        {'name': 'cosine', 'lr': 0.1, 'steps': 100, 'min_lr': 0.0}
        """
        return {"name": self.name, **{k: _to_jsonable(v) for k, v in self.params().items()}}

    def __repr__(self) -> str:
        defaults = _defaults(type(self))
        parts = []
        for key, value in self.params().items():
            if key in defaults and defaults[key] == value and type(defaults[key]) is type(value):
                continue
            parts.append(f"{key}={_repr_value(value)}")
        return f"{self.name}({', '.join(parts)})"

    # -- composition sugar ---------------------------------------------------------------
    def __mul__(self, factor: float) -> Schedule:
        from lrkit.schedules._combinators import scale

        return scale(self, factor=factor)

    __rmul__ = __mul__


def _defaults(cls: type[Schedule]) -> dict[str, Any]:
    return {
        f.name: f.default for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING
    }


def _to_jsonable(value: Any) -> Any:
    if isinstance(value, Schedule):
        return value.to_dict()
    if isinstance(value, tuple | list):
        return [_to_jsonable(v) for v in value]
    return value


def _repr_value(value: Any) -> str:
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_repr_value(v) for v in value) + "]"
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return repr(value)


def from_dict(data: dict[str, Any]) -> Schedule:
    """Rebuild a schedule from :meth:`Schedule.to_dict` output.

    >>> from lrkit.schedules import from_dict, warmup, cosine
    >>> s = warmup(cosine(lr=0.1, steps=100), steps=10)
    >>> from_dict(s.to_dict()) == s
    True
    """
    if not isinstance(data, dict) or "name" not in data:
        raise ScheduleError(f"a schedule dict needs a 'name' key, but got {data!r}")
    args = dict(data)
    name = args.pop("name")
    factory = _factory(name)
    return factory(**{k: _from_jsonable(v) for k, v in args.items()})


def _from_jsonable(value: Any) -> Any:
    if isinstance(value, dict) and "name" in value:
        return from_dict(value)
    if isinstance(value, list):
        return [_from_jsonable(v) for v in value]
    return value


def _factory(name: Any) -> Callable[..., Schedule]:
    if not isinstance(name, str) or name not in _REGISTRY:
        import difflib

        close = difflib.get_close_matches(str(name), list(_REGISTRY), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ScheduleError(
            f"unknown schedule {name!r}{hint} (known: {', '.join(sorted(_REGISTRY))})"
        )
    return _REGISTRY[name][1]


# -- argument checks, declared on each schedule's fields -------------------------------------


def arg(check: str = "float", *, default: Any = dataclasses.MISSING, **options: Any) -> Any:
    """A schedule field validated (and canonicalised) when the schedule is built.

    ``check`` is one of :data:`_CHECKS` (``"float"``, ``"int"``, ``"bool"``, ``"choice"``,
    ``"schedule"``, ``"ints"``, ``"floats"``, ``"schedules"``); ``options`` go to it (bounds,
    ``choices``, ``optional=True`` to let ``None`` through). Declaring the checks once on the
    fields, rather than in every factory, also checks schedules built from their class.
    """
    if check not in _CHECKS:  # a typo in a schedule's definition, caught at import
        raise RuntimeError(f"unknown argument check {check!r} (known: {', '.join(_CHECKS)})")
    metadata = {"check": check, "options": options}
    if default is dataclasses.MISSING:
        return dataclasses.field(metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def _float(where: str, name: str, value: Any, **bounds: Any) -> float:
    return _validate.check_float(where, name, value, error=ScheduleError, **bounds)


def _int(where: str, name: str, value: Any, *, low: int = 1) -> int:
    return _validate.check_int(where, name, value, low=low, error=ScheduleError)


def _bool(where: str, name: str, value: Any) -> bool:
    return _validate.check_bool(where, name, value, error=ScheduleError)


def _choice(where: str, name: str, value: Any, *, choices: Sequence[str]) -> str:
    return _validate.check_choice(where, name, value, choices, error=ScheduleError)


def _schedule(where: str, name: str, value: Any) -> Schedule:
    if not isinstance(value, Schedule):
        raise ScheduleError(f"{where}: {name} must be a schedule, but got {name}={value!r}")
    return value


def _sequence(where: str, name: str, value: Any, what: str) -> Sequence[Any]:
    if isinstance(value, str | bytes | Schedule) or not isinstance(value, Sequence):
        raise ScheduleError(f"{where}: {name} must be a list of {what}, but got {name}={value!r}")
    return value


def _ints(where: str, name: str, value: Any, *, low: int = 1) -> tuple[int, ...]:
    items = _sequence(where, name, value, "integers")
    return tuple(_int(where, f"{name}[{i}]", v, low=low) for i, v in enumerate(items))


def _floats(where: str, name: str, value: Any, **bounds: Any) -> tuple[float, ...]:
    items = _sequence(where, name, value, "numbers")
    return tuple(_float(where, f"{name}[{i}]", v, **bounds) for i, v in enumerate(items))


def _schedules(where: str, name: str, value: Any) -> tuple[Schedule, ...]:
    items = _sequence(where, name, value, "schedules")
    if not items:
        raise ScheduleError(f"{where}: {name} must be a non-empty list, but got {name}={value!r}")
    return tuple(_schedule(where, f"{name}[{i}]", v) for i, v in enumerate(items))


_CHECKS: dict[str, Callable[..., Any]] = {
    "float": _float,
    "int": _int,
    "bool": _bool,
    "choice": _choice,
    "schedule": _schedule,
    "ints": _ints,
    "floats": _floats,
    "schedules": _schedules,
}


_FieldCheck = tuple[str, Callable[..., Any], dict[str, Any], bool]
_FIELD_CHECKS: dict[type[Schedule], list[_FieldCheck]] = {}


def _field_checks(cls: type[Schedule]) -> list[_FieldCheck]:
    # read once per class: dataclasses.fields() on every construction tripled its cost
    if cls not in _FIELD_CHECKS:
        checks = []
        for f in dataclasses.fields(cls):
            if "check" in f.metadata:
                options = dict(f.metadata["options"])
                optional = bool(options.pop("optional", False))
                checks.append((f.name, _CHECKS[f.metadata["check"]], options, optional))
        _FIELD_CHECKS[cls] = checks
    return _FIELD_CHECKS[cls]


def _check_fields(schedule: Schedule) -> None:
    for name, check, options, optional in _field_checks(type(schedule)):
        value = getattr(schedule, name)
        if optional and value is None:
            continue
        checked = check(schedule.name, name, value, **options)
        object.__setattr__(schedule, name, checked)  # frozen: canonical type (1e4 -> 10000)


def check_boundaries(
    where: str, boundaries: Sequence[int], name: str, pieces: Sequence[Any]
) -> None:
    """Raise unless ``boundaries`` split the steps into ``len(pieces)`` intervals, in order
    (``piecewise``'s values, ``join``'s schedules)."""
    bs = list(boundaries)
    if len(bs) != len(pieces) - 1:
        raise ScheduleError(
            f"{where}: {name} must have one more entry than boundaries, but got "
            f"{len(pieces)} {name} for {len(bs)} boundaries: "
            f"{name}={_repr_value(list(pieces))}, boundaries={bs}"
        )
    if any(b <= a for a, b in zip(bs, bs[1:], strict=False)):
        raise ScheduleError(
            f"{where}: boundaries must be strictly increasing, but got boundaries={bs}"
        )


def ordered(where: str, low_name: str, low: float, high_name: str, high: float) -> None:
    """Raise unless ``low <= high`` (``max_lr >= base_lr``, ``max_lr >= min_lr``, ...)."""
    if high < low:
        raise ScheduleError(
            f"{where}: {high_name} must be >= {low_name}, but got "
            f"{low_name}={low!r}, {high_name}={high!r}"
        )


F = TypeVar("F", bound=Callable[..., Schedule])


def schedule_factory(name: str, cls: type[Schedule]) -> Callable[[F], F]:
    """Register the decorated factory under ``name``; it builds instances of ``cls``.

    The factory's parameters are the fields of ``cls`` in the same order (the order the text
    form's positional arguments follow); all but the first are keyword-only. A call with more
    positional arguments raises a :class:`TypeError` that spells out the keyword form, since
    these factories took positional arguments before.
    """

    def deco(factory: F) -> F:
        params = list(inspect.signature(factory).parameters)

        @functools.wraps(factory)
        def call(*args: Any, **kwargs: Any) -> Schedule:
            if len(args) > 1:
                named = {**dict(zip(params[1:], args[1:], strict=False)), **kwargs}
                fixed = [_repr_value(args[0]), *(f"{k}={_repr_value(v)}" for k, v in named.items())]
                raise TypeError(
                    f"{name}() takes 1 positional argument ({params[0]}) but {len(args)} were "
                    f"given; the others are keyword-only: {name}({', '.join(fixed)})"
                )
            return factory(*args, **kwargs)

        _register(name, call, cls)
        return cast(F, call)

    return deco


def field_names(name: str) -> list[str]:
    """The fields of schedule ``name`` in declaration order (also its ``to_dict`` order)."""
    _factory(name)
    return [f.name for f in dataclasses.fields(_REGISTRY[name][0])]
