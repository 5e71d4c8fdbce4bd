"""Run one study with N worker processes on this machine, with live progress.

:class:`WorkerConfig` is what a worker needs, serialised to JSON for ``python -m lrkit.tune``;
:func:`run_local` creates the study once (and runs the range test of ``auto`` once), starts the
workers, shows their progress from the shared storage and returns the study's result. A worker
on another host runs the same config against the same storage.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lrkit._validate import check_int
from lrkit.errors import ConfigError, TuneError

__all__ = ["WorkerConfig", "run_local"]


@dataclass(frozen=True)
class WorkerConfig:
    """Everything a tuning worker needs; the JSON of :meth:`to_json` is its command line.

    Exactly one of ``task`` (a built-in name or ``file.py:factory``) and ``objective``
    (``module:function`` or ``file.py:function``) is set; the other fields are
    :func:`lrkit.tune.tune`'s keywords, ``epochs`` and ``train_seed`` those of the task's
    objective. ``None`` means the default.
    """

    task: str | None = None
    objective: str | None = None
    strategy: str = "auto"
    trials: int = 20
    storage: str | None = None
    study_name: str | None = None
    low: float = 1e-6
    high: float = 1.0
    epochs: int | None = None
    seed: int | None = None
    timeout: float | None = None
    train_seed: int = 0

    def __post_init__(self) -> None:
        if (self.task is None) == (self.objective is None):
            raise ConfigError(
                f"a worker config needs exactly one of task and objective, but got "
                f"task={self.task!r}, objective={self.objective!r}"
            )
        check_int("tune", "trials", self.trials)

    @property
    def name(self) -> str:
        """The study name: ``study_name``, else ``lrkit-TASK-STRATEGY``."""
        if self.study_name:
            return self.study_name
        source = str(self.task or self.objective)
        return f"lrkit-{Path(source.split(':')[0]).stem}-{self.strategy}"

    def to_dict(self) -> dict[str, Any]:
        """The fields that are set (``None`` left out), with the study name filled in."""
        out = {k: v for k, v in dataclasses.asdict(self).items() if v is not None}
        return {**out, "study_name": self.name}

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

    @classmethod
    def from_mapping(cls, config: Mapping[str, Any]) -> WorkerConfig:
        """Build from a mapping; unknown keys are an error naming them."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(config) - names)
        if unknown:
            raise ConfigError(f"unknown worker config keys {unknown}; known: {sorted(names)}")
        return cls(**config)


def run_local(config: WorkerConfig, *, workers: int = 1, progress: bool = True) -> Any:
    """Run the study of ``config`` with ``workers`` local processes; return its ``TuneResult``.

    One worker runs in this process. Several need a database ``storage`` they share: the study
    is created (and ``auto``'s range test run) here first, the workers run as
    ``python -m lrkit.tune CONFIG_JSON`` with seeds ``seed + i``, and a worker that fails makes
    this call raise :class:`~lrkit.errors.TuneError` with its last error line.
    """
    from lrkit._progress import ProgressBar
    from lrkit.tune._space import check_bounds
    from lrkit.tune._worker import run_worker

    check_bounds(config.low, config.high)
    workers = check_int("tune", "workers", workers)
    if workers > 1 and config.storage is None:
        raise ConfigError(
            "--workers > 1 needs a shared --storage (sqlite:///tune.db or postgresql://...)"
        )
    with ProgressBar(f"tune {config.name}", config.trials, enabled=progress, eta=False) as bar:
        show = _Show(bar, config.trials)
        if workers == 1:
            return run_worker(config.to_dict(), callbacks=[lambda study, _t: show(study)])
        _prepare(config)
        _run_processes(config, workers, show)
    return run_worker(config.to_dict())  # the budget is met: this only reads the study


class _Show:
    """Trials done and the best value so far, from a study (this process's or the storage's)."""

    def __init__(self, bar: Any, total: int) -> None:
        self.bar, self.total = bar, total

    def __call__(self, study: Any) -> None:
        if not self.bar.enabled:
            return
        from lrkit.tune._study import tally

        trials = study.get_trials(deepcopy=False)
        done, running, _ = tally(trials)
        complete = [t for t in trials if t.state.name == "COMPLETE"]
        info = f"running {running}"
        if complete:
            pick = max if study.direction.name == "MAXIMIZE" else min
            best = pick(complete, key=lambda t: float(t.value))
            info = f"best {float(best.value):.4g} at lr={best.params.get('lr', float('nan')):.3g}"
        self.bar.update(completed=min(done, self.total), info=info)


def _prepare(config: WorkerConfig) -> None:
    """Create the schema and the study once (and run the range test) before workers start."""
    from lrkit.tune._storage import open_storage, open_study
    from lrkit.tune._study import FINDER_ATTR, quiet_optuna

    direction = "minimize"
    task: Any = None
    if config.task is not None:
        from lrkit.tasks import get_task

        task = get_task(config.task)
        direction = "maximize" if task.higher_is_better else "minimize"
    with quiet_optuna():
        st = open_storage(config.storage)
        study = open_study(st, config.name, direction, None, None, url=config.storage or "")
        if task is not None and config.strategy == "auto" and FINDER_ATTR not in study.user_attrs:
            from lrkit.tune._task import task_finder

            study.set_user_attr(
                FINDER_ATTR, task_finder(task, seed=config.train_seed, epochs=config.epochs)
            )


def _run_processes(config: WorkerConfig, workers: int, show: _Show) -> None:
    # Each worker's stderr goes to a temporary file, not a pipe: a pipe read only after the
    # workers exit would block a worker that writes more than the pipe holds (~64 KB).
    with contextlib.ExitStack() as stack:
        procs, errs = [], []
        for i in range(workers):
            seed = None if config.seed is None else config.seed + i
            cfg = dataclasses.replace(config, seed=seed).to_json()
            errs.append(stack.enter_context(tempfile.TemporaryFile(mode="w+")))
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "lrkit.tune", cfg],
                    stdout=subprocess.DEVNULL,
                    stderr=errs[-1],
                    text=True,
                )
            )
        study = None
        try:
            while any(p.poll() is None for p in procs):
                study = study or _load(config)
                if study is not None:
                    show(study)
                time.sleep(0.5)
        except BaseException:
            for p in procs:
                if p.poll() is None:
                    p.terminate()
            raise
        for p, f in zip(procs, errs):
            f.seek(0)
            err = f.read()
            if p.returncode != 0:
                last = err.strip().splitlines()[-1] if err.strip() else f"exit code {p.returncode}"
                raise TuneError(f"worker {p.pid} failed: {last.removeprefix('lrkit: error: ')}")


def _load(config: WorkerConfig) -> Any:
    if not config.storage:
        return None
    import optuna

    from lrkit.tune._storage import _driver_url

    try:
        return optuna.load_study(study_name=config.name, storage=_driver_url(config.storage))
    except Exception:  # progress is best effort: the study may not be readable yet
        return None
