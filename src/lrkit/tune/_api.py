"""``tune``: an LR search on Optuna with an exact trial budget shared by every worker."""

from __future__ import annotations

import logging
import math
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from contextlib import contextmanager
from typing import Any

from lrkit.errors import ConfigError, TuneError, require
from lrkit.tune._result import (
    ERROR_ATTR,
    SKIPPED_ATTR,
    TuneResult,
    records_from_study,
    retried_numbers,
)
from lrkit.tune._space import SpaceSpec, check_bounds, normalise_space, suggest_space
from lrkit.tune._storage import GRACE_PERIOD, HEARTBEAT_INTERVAL, open_storage, open_study
from lrkit.tune._strategies import STRATEGIES, make_plan

__all__ = ["Objective", "tally", "tune"]

#: ``objective(lr, trial) -> float``; ``trial`` is an :class:`optuna.trial.Trial`.
Objective = Callable[[float, Any], float]

_log = logging.getLogger("lrkit.tune")

CONFIG_ATTR = "lrkit:config"
FINDER_ATTR = "lrkit:finder"
INTERRUPTED_ATTR = "lrkit:interrupted"


def tune(
    objective: Objective,
    *,
    low: float = 1e-6,
    high: float = 1.0,
    trials: int = 20,
    strategy: str = "auto",
    storage: Any = None,
    study_name: str | None = None,
    seed: int | None = None,
    direction: str = "minimize",
    pruner: Any = None,
    timeout: float | None = None,
    space: Mapping[str, SpaceSpec] | None = None,
    finder: Any = None,
    max_resource: int | str = "auto",
    heartbeat_interval: int = HEARTBEAT_INTERVAL,
    grace_period: int = GRACE_PERIOD,
    callbacks: Iterable[Callable[[Any, Any], None]] = (),
) -> TuneResult:
    """Search the learning rate (and optionally more) with Optuna.

    ``objective(lr, trial)`` trains or evaluates at ``lr`` and returns the value to optimise;
    it may call ``trial.report(value, epoch)`` and ``trial.should_prune()`` (then raise
    ``optuna.TrialPruned``), and read extra hyperparameters from ``trial.params``. A trial that
    raises or returns NaN fails, the search goes on, and the error is in the result.

    Args:
        low, high: LR bounds, searched on a log scale (``0 < low < high``).
        trials: the study's total budget: trials that finish (complete, pruned or failed),
            counted across every worker sharing the study. A re-run with the same storage and
            study name resumes and only runs what is missing.
        strategy: ``grid``, ``random``, ``bayes``, ``hyperband``, ``coarse-to-fine`` or ``auto``
            (see :mod:`lrkit.tune`). ``auto`` uses ``finder``; without it, ``bayes``.
        storage: ``None`` (in memory), an RDB URL (``sqlite:///tune.db``,
            ``postgresql://user@host/db``) or an Optuna storage object.
        study_name: required to share or resume a study in a storage.
        seed: seeds the sampler (give each worker of a shared study its own seed).
        direction: ``"minimize"`` or ``"maximize"``.
        pruner: an Optuna pruner, replacing the strategy's.
        timeout: seconds after which this worker starts no new trial.
        space: extra hyperparameters, e.g. ``{"weight_decay": (1e-6, 1e-2, "log"),
            "batch_size": [32, 64, 128]}``; lists are categorical, ``(low, high)`` uniform.
        finder: for ``auto``: a :class:`lrkit.finder.FinderResult`, a mapping with
            ``interval`` (and ``suggestion``, ``cost``), an ``(low, high)`` pair, or a
            zero-argument callable returning one — called only if the study has none yet.
        max_resource: the number of ``trial.report`` steps of a full trial (hyperband).
        heartbeat_interval, grace_period: RDB heartbeat settings in seconds; a worker that is
            silent for ``grace_period`` has its trial failed and re-queued (at most 3 times).
        callbacks: Optuna callbacks ``(study, frozen_trial)`` run after each trial.

    Raises:
        ConfigError: a bad argument. TuneError: an unreachable storage, or no trial completed.
    """
    low, high = check_bounds(low, high)
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise ConfigError(f"trials must be an int >= 1, but got trials={trials!r}")
    if strategy not in STRATEGIES:
        raise ConfigError(f"strategy must be one of {', '.join(STRATEGIES)}, but got {strategy!r}")
    if direction not in ("minimize", "maximize"):
        raise ConfigError(f"direction must be 'minimize' or 'maximize', but got {direction!r}")
    if timeout is not None and not (isinstance(timeout, int | float) and timeout > 0):
        raise ConfigError(f"timeout must be a number > 0 (seconds), but got timeout={timeout!r}")
    if not callable(objective):
        raise ConfigError(f"objective must be callable, but got {type(objective).__name__}")
    dists = normalise_space(space)
    optuna: Any = require("optuna", "optuna")

    with _quiet_optuna():
        url = storage if isinstance(storage, str) else ""
        st = open_storage(storage, heartbeat_interval=heartbeat_interval, grace_period=grace_period)
        study = open_study(st, study_name, direction, None, None, url=url)
        _check_config(study, strategy=strategy, low=low, high=high, direction=direction)
        notes: list[str] = []
        finder_info = None
        used = strategy
        if strategy == "auto":
            finder_info = study.user_attrs.get(FINDER_ATTR)
            if finder_info is None and finder is not None:
                finder_info = finder_dict(finder)
                study.set_user_attr(FINDER_ATTR, finder_info)
                # Another worker may have stored its own a moment ago: everyone uses one.
                finder_info = study.user_attrs.get(FINDER_ATTR, finder_info)
            if finder_info is None:
                used = "bayes"
                notes.append("strategy 'auto' had no range test (finder=None): ran 'bayes'")
            else:
                notes.extend(f"range test: {n}" for n in finder_info.get("notes") or ())
        plan = make_plan(
            used,
            low=low,
            high=high,
            trials=trials,
            seed=seed,
            pruner=pruner,
            finder=finder_info,
            max_resource=max_resource,
        )
        study.sampler = plan.sampler
        study.pruner = plan.pruner
        cap = trials

        def wrapped(trial: Any) -> float:
            _heartbeat_now(study, trial)
            if _over_cap(study.get_trials(deepcopy=False), trial.number, cap):
                # Another worker took the last slot between our check and this trial's start.
                trial.set_user_attr(SKIPPED_ATTR, True)
                raise optuna.TrialPruned("trial budget reached by other workers")
            lr = trial.suggest_float("lr", plan.lr_range[0], plan.lr_range[1], log=True)
            suggest_space(trial, dists)
            try:
                value = objective(lr, trial)
            except optuna.TrialPruned:
                raise
            except KeyboardInterrupt:
                trial.set_user_attr(INTERRUPTED_ATTR, True)
                raise
            except Exception as exc:
                return _fail(trial, lr, f"{type(exc).__name__}: {exc}")
            try:
                value = float(value)
            except (TypeError, ValueError):
                return _fail(trial, lr, f"objective returned {value!r}, not a number")
            if not math.isfinite(value):
                return _fail(trial, lr, f"objective returned {value!r}")
            return value

        deadline = None if timeout is None else time.monotonic() + float(timeout)
        poll = min(1.0, heartbeat_interval / 2)
        cbs = list(callbacks)
        while True:
            if deadline is not None and time.monotonic() >= deadline:
                notes.append(f"timeout={timeout} s reached")
                break
            optuna.storages.fail_stale_trials(study)
            all_trials = study.get_trials(deepcopy=False)
            done, running, _ = tally(all_trials)
            if done >= cap:
                break
            if done + running >= cap or not plan.prepare(study, all_trials):
                time.sleep(poll)  # other workers hold the last slots (or the coarse stage)
                continue
            remaining = None if deadline is None else max(1e-3, deadline - time.monotonic())
            study.optimize(
                wrapped, n_trials=1, timeout=remaining, catch=(Exception,), callbacks=cbs
            )
    return build_result(
        study,
        strategy=used,
        low=low,
        high=high,
        focus=plan.lr_range,
        finder=finder_info,
        notes=notes,
    )


def _heartbeat_now(study: Any, trial: Any) -> None:
    """Record the trial's first heartbeat before its objective starts.

    Optuna records heartbeats from a thread it starts with the trial; a worker killed before
    that thread's first write leaves a RUNNING trial with no heartbeat, which
    ``fail_stale_trials`` never fails, so the other workers would wait for it forever
    (seen once in CI: a SIGKILL right after the objective began, on a loaded machine).
    """
    from optuna.storages._heartbeat import BaseHeartbeat, is_heartbeat_enabled

    storage: Any = getattr(study, "_storage", None)
    trial_id = getattr(trial, "_trial_id", None)
    if trial_id is not None and storage is not None and is_heartbeat_enabled(storage):
        assert isinstance(storage, BaseHeartbeat)  # implied by is_heartbeat_enabled
        storage.record_heartbeat(trial_id)


def _fail(trial: Any, lr: float, error: str) -> float:
    """Record why the trial failed and fail it (Optuna fails a trial that returns NaN)."""
    trial.set_user_attr(ERROR_ATTR, error)
    _log.warning("lrkit.tune: trial %d failed (lr=%.3g): %s", trial.number, lr, error)
    return math.nan


def build_result(
    study: Any,
    *,
    strategy: str,
    low: float,
    high: float,
    focus: tuple[float, float] | None = None,
    finder: dict[str, Any] | None = None,
    notes: list[str] | None = None,
) -> TuneResult:
    """Pack a study's trials into a :class:`TuneResult` (raises if none completed)."""
    records = records_from_study(study.get_trials(deepcopy=False))
    complete = [r for r in records if r.state == "complete" and r.value is not None]
    notes = list(notes or [])
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
        strategy=strategy,
        direction=direction,
        low=low,
        high=high,
        study_name=study.study_name,
        focus=None if focus is None or focus == (low, high) else (focus[0], focus[1]),
        finder=finder,
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


def _over_cap(trials: list[Any], number: int, cap: int) -> bool:
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


def _check_config(study: Any, **config: Any) -> None:
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
def _quiet_optuna() -> Any:
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
