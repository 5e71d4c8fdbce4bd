"""LR search on Optuna: strategies, exact budgets, resumable and distributed studies.

:func:`tune` runs ``objective(lr, trial)`` under one of six strategies (see
:mod:`lrkit.tune._strategies` for when to use which): ``grid``, ``random``, ``bayes``,
``hyperband``, ``coarse-to-fine`` and finder-seeded ``auto``. Samplers, pruners and storages
are Optuna's (Akiba et al. 2019); lrkit adds the LR-aware strategies, a study budget that stays
exact with many concurrent workers, and the reporting.

Storage: in memory by default; ``sqlite:///tune.db`` to resume; ``postgresql://...`` to share
one study between worker processes on many hosts (:func:`run_local` starts N of them here, each
given a :class:`WorkerConfig` as JSON). Heartbeats are on for database storages: a worker
killed mid-trial has its trial failed and re-run by another worker.

    import lrkit
    result = lrkit.tune(lambda lr, trial: (math.log10(lr) + 3) ** 2, strategy="bayes",
                        trials=15, seed=0)
    result.best_lr, result.plot("tune.png")
"""

from __future__ import annotations

from lrkit.tune._api import Objective, tune
from lrkit.tune._local import WorkerConfig, run_local
from lrkit.tune._result import TrialRecord, TuneResult
from lrkit.tune._strategies import STRATEGIES
from lrkit.tune._task import task_finder, task_objective
from lrkit.tune._worker import run_worker

# What users call or construct (the budget and result helpers stay private).
__all__ = [
    "STRATEGIES",
    "Objective",
    "TrialRecord",
    "TuneResult",
    "WorkerConfig",
    "run_local",
    "run_worker",
    "task_finder",
    "task_objective",
    "tune",
]

from lrkit._callable import callable_module

callable_module(__name__, tune)
