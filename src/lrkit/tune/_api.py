"""``tune``: an LR search on Optuna with an exact trial budget shared by every worker."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from lrkit._validate import check_choice, check_int, check_positive_float
from lrkit.errors import ConfigError, TuneError, require
from lrkit.tune._result import ERROR_ATTR, SKIPPED_ATTR, TuneResult
from lrkit.tune._space import SpaceSpec, check_bounds, normalise_space, suggest_space
from lrkit.tune._storage import GRACE_PERIOD, HEARTBEAT_INTERVAL, open_storage, open_study
from lrkit.tune._strategies import STRATEGIES, make_plan
from lrkit.tune._study import (
    FINDER_ATTR,
    INTERRUPTED_ATTR,
    build_result,
    check_config,
    finder_dict,
    over_cap,
    quiet_optuna,
    tally,
)

__all__ = ["Objective", "tune"]

#: ``objective(lr, trial) -> float``; ``trial`` is an :class:`optuna.trial.Trial`.
Objective = Callable[[float, Any], float]

_log = logging.getLogger("lrkit.tune")

#: How many of a call's first trials must raise the same error before it stops (``fail_fast``).
#: A bug (a ``KeyError``, a ``NameError``) raises the same message on every trial; a flaky
#: failure at rate p repeats three times at the start with probability p**3 (3% at p = 0.3),
#: and only stops the search if its message is also identical each time.
FAIL_FAST = 3


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
    fail_fast: int = FAIL_FAST,
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
        fail_fast: stop with a :class:`~lrkit.errors.TuneError` when the first ``fail_fast``
            trials this call runs all raise the same exception with the same message (a bug in
            the objective, not a flaky failure); ``0`` never stops.

    Raises:
        ConfigError: a bad argument. TuneError: an unreachable storage, no trial completed,
        or the first trials all raised the same error (``fail_fast``).
    """
    low, high = check_bounds(low, high)
    trials = check_int("tune", "trials", trials)
    fail_fast = check_int("tune", "fail_fast", fail_fast, low=0)
    check_choice("tune", "strategy", strategy, STRATEGIES)
    check_choice("tune", "direction", direction, ("minimize", "maximize"))
    if timeout is not None:
        check_positive_float("tune", "timeout", timeout)
    if not callable(objective):
        raise ConfigError(f"objective must be callable, but got {type(objective).__name__}")
    dists = normalise_space(space)
    optuna: Any = require("optuna", "optuna")

    with quiet_optuna():
        url = storage if isinstance(storage, str) else ""
        st = open_storage(storage, heartbeat_interval=heartbeat_interval, grace_period=grace_period)
        study = open_study(st, study_name, direction, None, None, url=url)
        check_config(study, strategy=strategy, low=low, high=high, direction=direction)
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
        raised: list[tuple[int, float, str | None]] = []  # this call's trials: error or None

        def wrapped(trial: Any) -> float:
            _heartbeat_now(study, trial)
            if over_cap(study.get_trials(deepcopy=False), trial.number, cap):
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
                error = f"{type(exc).__name__}: {exc}"
                raised.append((trial.number, lr, error))
                return _fail(trial, lr, error)
            raised.append((trial.number, lr, None))
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
            _stop_on_same_failure(raised, fail_fast)  # only when more trials would follow
            if done + running >= cap or not plan.prepare(study, all_trials):
                time.sleep(poll)  # other workers hold the last slots (or the coarse stage)
                continue
            remaining = None if deadline is None else max(1e-3, deadline - time.monotonic())
            study.optimize(
                wrapped, n_trials=1, timeout=remaining, catch=(Exception,), callbacks=cbs
            )
    info = {"strategy": used, "low": low, "high": high, "focus": plan.lr_range}
    return build_result(study, {**info, "finder": finder_info, "notes": notes})


def _stop_on_same_failure(raised: list[tuple[int, float, str | None]], n: int) -> None:
    """Raise once the first ``n`` trials of this call all raised one identical error."""
    if n < 1 or len(raised) != n:
        return
    errors = {e for _, _, e in raised}
    if len(errors) == 1 and None not in errors:
        number, lr, error = raised[0]
        more = f" and the next {n - 1}" if n > 1 else ""
        raise TuneError(
            f"trial {number} (lr={lr:.3g}){more} all raised {error}; stopped the search: this "
            "looks like a bug in the objective, not a flaky failure (see tune(fail_fast=...))"
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
