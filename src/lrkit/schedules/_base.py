"""The :class:`Schedule` base class, the registry of schedule factories, and argument checks.

A schedule is a frozen dataclass whose :meth:`Schedule.formula` is written once against an
*array namespace* ``xp`` (NumPy, ``jax.numpy`` or ``keras.ops``): only ``xp.where``,
``xp.minimum``, ``xp.maximum``, ``xp.floor``, ``xp.cos``, ``xp.sqrt``, ``xp.power``,
``xp.exp``, ``xp.log``, ``xp.tanh`` and Python arithmetic operators are used, and never a
Python branch on the step, so the same code runs under NumPy and under ``jax.jit``.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, TypeVar, overload

import numpy as np

from lrkit import _validate
from lrkit.errors import ScheduleError

__all__ = ["Schedule", "from_dict", "registry"]

_REGISTRY: dict[str, tuple[type[Schedule], Callable[..., Schedule]]] = {}

S = TypeVar("S", bound="type[Schedule]")


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

        return scale(self, factor)

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


# -- argument checks (shared by every factory) -----------------------------------------------


def check_float(where: str, arg: str, value: Any, **bounds: Any) -> float:
    """:func:`lrkit._validate.check_float` raising :class:`ScheduleError`."""
    return _validate.check_float(where, arg, value, error=ScheduleError, **bounds)


def check_int(where: str, arg: str, value: Any, *, low: int = 1) -> int:
    """:func:`lrkit._validate.check_int` raising :class:`ScheduleError`."""
    return _validate.check_int(where, arg, value, low=low, error=ScheduleError)


def check_choice(where: str, arg: str, value: Any, choices: Sequence[str]) -> str:
    """:func:`lrkit._validate.check_choice` raising :class:`ScheduleError`."""
    return _validate.check_choice(where, arg, value, choices, error=ScheduleError)


def check_schedule(where: str, arg: str, value: Any) -> Schedule:
    """Return ``value`` if it is a :class:`Schedule`, else raise."""
    if not isinstance(value, Schedule):
        raise ScheduleError(f"{where}: {arg} must be a schedule, but got {arg}={value!r}")
    return value


def check_bool(where: str, arg: str, value: Any) -> bool:
    """:func:`lrkit._validate.check_bool` raising :class:`ScheduleError`."""
    return _validate.check_bool(where, arg, value, error=ScheduleError)


def schedule_factory(name: str, cls: type[Schedule]) -> Callable[[Callable[..., Schedule]], Any]:
    """Register the decorated factory under ``name``; it builds instances of ``cls``."""

    def deco(factory: Callable[..., Schedule]) -> Callable[..., Schedule]:
        _register(name, factory, cls)
        return factory

    return deco
