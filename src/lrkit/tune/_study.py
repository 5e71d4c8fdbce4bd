"""A study's bookkeeping: the budget count, stored settings, the range test, the result."""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from contextlib import contextmanager
from typing import Any

from lrkit.errors import ConfigError, TuneError
from lrkit.tune._result import SKIPPED_ATTR, TuneResult, records_from_study, retried_numbers

__all__ = ["build_result", "check_config", "finder_dict", "over_cap", "quiet_optuna", "tally"]

CONFIG_ATTR = "lrkit:config"
FINDER_ATTR = "lrkit:finder"
INTERRUPTED_ATTR = "lrkit:interrupted"


def build_result(study: Any, info: Mapping[str, Any]) -> TuneResult:
    """Pack a study's trials into a :class:`TuneResult` (raises if none completed).

    ``info`` holds what the study does not: ``strategy``, ``low``, ``high`` and optionally
    ``focus``, ``finder`` and ``notes``.
    """
    low, high, focus = float(info["low"]), float(info["high"]), info.get("focus")
    records = records_from_study(study.get_trials(deepcopy=False))
    complete = [r for r in records if r.state == "complete" and r.value is not None]
    notes = list(info.get("notes") or [])
    failed = [r for r in records if r.state == "fail"]
    if failed:
        notes.append(f"{len(failed)} trial(s) failed; see .errors")
    if not complete:
        first = failed[0].error if failed and failed[0].error else "no trial finished"
        raise TuneError(
            f"no trial completed in study {study.study_name!r} ({len(records)} trials): {first}"
        )
    direction = study.direction.name.lower()
    key: Any = (lambda r: r.value) if direction == "minimize" else (lambda r: -r.value)
    best = min(complete, key=key)
    return TuneResult(
        best_lr=best.lr,
        best_value=float(best.value),  # type: ignore[arg-type]
        best_params=dict(best.params),
        trials=records,
        strategy=str(info["strategy"]),
        direction=direction,
        low=low,
        high=high,
        study_name=study.study_name,
        focus=None if focus is None or focus == (low, high) else (focus[0], focus[1]),
        finder=info.get("finder"),
        study=study,
        notes=tuple(notes),
    )


def tally(trials: list[Any]) -> tuple[int, int, int]:
    """``(finished, running, waiting)`` trials that count toward the budget."""
    retried = retried_numbers(trials)
    done = running = waiting = 0
    for t in trials:
        if _excluded(t, retried):
            continue
        if t.state.is_finished():
            done += 1
        elif t.state.name == "RUNNING":
            running += 1
        else:
            waiting += 1
    return done, running, waiting


def _excluded(t: Any, retried: set[int]) -> bool:
    ua = t.user_attrs
    return bool(ua.get(SKIPPED_ATTR) or ua.get(INTERRUPTED_ATTR)) or t.number in retried


def over_cap(trials: list[Any], number: int, cap: int) -> bool:
    """True if finished trials plus running trials started before ``number`` fill the budget.

    Trial numbers are allocated in order by the storage, so the earlier trial wins a race and
    exactly ``cap`` trials run, however many workers ask at the same moment.
    """
    retried = retried_numbers(trials)
    ahead = 0
    for t in trials:
        if t.number == number or _excluded(t, retried):
            continue
        if t.state.is_finished() or (t.state.name == "RUNNING" and t.number < number):
            ahead += 1
    return ahead >= cap


def check_config(study: Any, **config: Any) -> None:
    stored = study.user_attrs.get(CONFIG_ATTR)
    if stored is None:
        study.set_user_attr(CONFIG_ATTR, config)
        return
    diff = {k: (stored.get(k), v) for k, v in config.items() if stored.get(k) != v}
    if diff:
        what = ", ".join(f"{k}={new!r} (stored: {old!r})" for k, (old, new) in diff.items())
        raise ConfigError(
            f"study {study.study_name!r} was created with other settings: {what}; "
            "use the same settings to resume, or another study name"
        )


def _pair(v: Any) -> list[float] | None:
    if v is None:
        return None
    lo, hi = (float(t) for t in v)
    if not 0 < lo < hi:
        raise ConfigError(f"finder search_range must satisfy 0 < low < high, but got {v!r}")
    return [lo, hi]


def finder_dict(finder: Any) -> dict[str, Any]:
    """Normalise ``finder=`` to ``{"suggestion", "interval", "cost", "notes", "search_range"}``."""
    if callable(finder) and not hasattr(finder, "interval"):
        finder = finder()
    if hasattr(finder, "interval"):
        lo, hi = finder.interval
        return {
            "suggestion": float(finder.suggestion),
            "interval": [float(lo), float(hi)],
            "cost": None,
            "notes": [str(n) for n in getattr(finder, "notes", ())],
            "search_range": _pair(getattr(finder, "search_range", None)),
        }
    if isinstance(finder, Mapping) and "interval" in finder:
        lo, hi = finder["interval"]
        sug = finder.get("suggestion")
        return {
            "suggestion": float(sug) if sug is not None else math.sqrt(float(lo) * float(hi)),
            "interval": [float(lo), float(hi)],
            "cost": None if finder.get("cost") is None else float(finder["cost"]),
            "notes": [str(n) for n in finder.get("notes") or ()],
            "search_range": _pair(finder.get("search_range")),
        }
    if isinstance(finder, tuple | list) and len(finder) == 2:
        lo, hi = float(finder[0]), float(finder[1])
        if not 0 < lo < hi:
            raise ConfigError(f"finder interval must satisfy 0 < low < high, but got {finder!r}")
        return {
            "suggestion": math.sqrt(lo * hi),
            "interval": [lo, hi],
            "cost": None,
            "notes": [],
            "search_range": None,
        }
    raise ConfigError(
        "finder must be a FinderResult, a mapping with 'interval', a (low, high) pair or a "
        f"callable returning one, but got {type(finder).__name__}"
    )


@contextmanager
def quiet_optuna() -> Any:
    """Optuna logs every trial at INFO and failures with tracebacks; lrkit logs failures itself."""
    import optuna

    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)
            yield
    finally:
        optuna.logging.set_verbosity(level)
