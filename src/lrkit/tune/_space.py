"""Search bounds and the optional extra search space, validated and turned into Optuna calls."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from lrkit.errors import ConfigError

__all__ = ["SpaceSpec", "check_bounds", "normalise_space", "suggest_space"]

#: One extra hyperparameter: ``[a, b, c]`` (categorical), ``(low, high)`` (uniform; int if
#: both are ints), ``(low, high, "log")`` (log-uniform), or an Optuna distribution.
SpaceSpec = Any


def check_bounds(low: Any, high: Any) -> tuple[float, float]:
    """Validate the LR bounds: finite, positive, ``low < high``."""
    for name, v in (("low", low), ("high", high)):
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise ConfigError(f"{name} must be a finite number, but got {name}={v!r}")
        if v <= 0:
            raise ConfigError(
                f"{name} must be > 0 (the LR is searched on a log scale), but got {name}={v!r}"
            )
    if not low < high:
        raise ConfigError(f"low must be < high, but got low={low!r}, high={high!r}")
    return float(low), float(high)


def normalise_space(space: Mapping[str, SpaceSpec] | None) -> dict[str, Any]:
    """Map ``space`` to Optuna distributions (raises :class:`ConfigError` on a bad entry)."""
    from optuna.distributions import (
        BaseDistribution,
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    if space is None:
        return {}
    if not isinstance(space, Mapping):
        raise ConfigError(f"space must be a mapping name -> spec, but got {type(space).__name__}")
    out: dict[str, Any] = {}
    for name, spec in space.items():
        if name == "lr":
            raise ConfigError("space must not contain 'lr': the LR is set by low/high")
        if isinstance(spec, BaseDistribution):
            out[name] = spec
            continue
        if isinstance(spec, Mapping):  # JSON form: {"choices": [...]} or {"low", "high", "log"}
            if "choices" in spec:
                spec = list(spec["choices"])
            elif "low" in spec and "high" in spec:
                spec = (
                    (spec["low"], spec["high"], "log")
                    if spec.get("log")
                    else (spec["low"], spec["high"])
                )
        if isinstance(spec, BaseDistribution):
            out[name] = spec
        elif isinstance(spec, list):
            if not spec:
                raise ConfigError(f"space[{name!r}] is an empty list of choices")
            out[name] = CategoricalDistribution(spec)
        elif isinstance(spec, tuple) and len(spec) in (2, 3):
            lo, hi = spec[0], spec[1]
            log = len(spec) == 3 and spec[2] == "log"
            if len(spec) == 3 and not log:
                raise ConfigError(f"space[{name!r}] third item must be 'log', but got {spec[2]!r}")
            if not (isinstance(lo, int | float) and isinstance(hi, int | float) and lo < hi):
                raise ConfigError(
                    f"space[{name!r}] must be (low, high) with low < high, got {spec!r}"
                )
            if log and lo <= 0:
                raise ConfigError(
                    f"space[{name!r}] is log-scaled, so low must be > 0, got {spec!r}"
                )
            if isinstance(lo, int) and isinstance(hi, int) and not isinstance(lo, bool):
                out[name] = IntDistribution(lo, hi, log=log)
            else:
                out[name] = FloatDistribution(float(lo), float(hi), log=log)
        else:
            raise ConfigError(
                f"space[{name!r}] must be a list of choices, (low, high[, 'log']) or an Optuna "
                f"distribution, but got {spec!r}"
            )
    return out


def suggest_space(trial: Any, space: dict[str, Any]) -> dict[str, Any]:
    """Sample every extra hyperparameter in ``trial`` (they land in ``trial.params``)."""
    from optuna.distributions import CategoricalDistribution, IntDistribution

    out: dict[str, Any] = {}
    for name, d in space.items():
        if isinstance(d, CategoricalDistribution):
            out[name] = trial.suggest_categorical(name, d.choices)
        elif isinstance(d, IntDistribution):
            out[name] = trial.suggest_int(name, d.low, d.high, step=d.step, log=d.log)
        else:
            out[name] = trial.suggest_float(name, d.low, d.high, step=d.step, log=d.log)
    return out
