"""The worker entry point: one process that joins a study and runs trials until the budget is met.

``python -m lrkit.tune CONFIG_JSON`` runs :func:`run_worker`; :func:`lrkit.tune.run_local` (behind
``lrkit tune --workers N``) starts N of them, each given a :class:`~lrkit.tune.WorkerConfig`. A
worker on another host is the same ``lrkit tune`` command with the same ``--storage`` and
``--study-name``.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lrkit.errors import ConfigError, LRKitError
from lrkit.tune._local import WorkerConfig

__all__ = ["load_objective", "main", "run_worker", "tune_kwargs"]

_TUNE_KEYS = (
    "low",
    "high",
    "trials",
    "strategy",
    "storage",
    "study_name",
    "seed",
    "direction",
    "timeout",
    "heartbeat_interval",
    "grace_period",
    "space",
    "max_resource",
)


def load_objective(spec: str) -> Any:
    """Import ``package.module:function`` or ``path/to/file.py:function``."""
    if ":" not in spec:
        raise ConfigError(
            f"objective must be 'module:function' or 'file.py:function', got {spec!r}"
        )
    mod_name, _, attr = spec.rpartition(":")
    if mod_name.endswith(".py"):
        path = Path(mod_name)
        if not path.is_file():
            raise ConfigError(f"objective file not found: {mod_name!r}")
        s = importlib.util.spec_from_file_location(f"_lrkit_objective_{path.stem}", path)
        if s is None or s.loader is None:
            raise ConfigError(f"cannot load objective file {mod_name!r}")
        module = importlib.util.module_from_spec(s)
        s.loader.exec_module(module)
    else:
        module = importlib.import_module(mod_name)
    try:
        return getattr(module, attr)
    except AttributeError:
        raise ConfigError(f"{mod_name!r} has no attribute {attr!r} (objective={spec!r})") from None


def tune_kwargs(config: Mapping[str, Any]) -> dict[str, Any]:
    """The :func:`lrkit.tune.tune` keywords in a worker config."""
    return {k: config[k] for k in _TUNE_KEYS if k in config and config[k] is not None}


def run_worker(config: WorkerConfig | Mapping[str, Any], callbacks: Any = ()) -> Any:
    """Join (or create) the study in ``config`` and run trials until its budget is met.

    ``config`` is a :class:`~lrkit.tune.WorkerConfig` or a mapping of :func:`lrkit.tune.tune`
    keywords (those of the config, and e.g. ``heartbeat_interval`` or ``space``) plus either
    ``task`` (a built-in name or ``file.py:factory``; with ``epochs`` and ``train_seed``) or
    ``objective`` (``module:function``). Returns the :class:`lrkit.tune.TuneResult` of the
    whole study.
    """
    from lrkit.tune._api import tune

    if isinstance(config, WorkerConfig):
        config = config.to_dict()
    kw = tune_kwargs(config)
    if config.get("task"):
        from lrkit.tasks import get_task
        from lrkit.tune._task import task_finder, task_objective

        task = get_task(str(config["task"]))
        objective = task_objective(
            task, epochs=config.get("epochs"), seed=int(config.get("train_seed", 0))
        )
        kw.setdefault("direction", objective.direction)
        kw.setdefault("max_resource", objective.max_resource)
        if kw.get("strategy", "auto") == "auto":
            fseed = int(config.get("train_seed", 0))
            kw["finder"] = config.get("finder") or (
                lambda: task_finder(task, seed=fseed, epochs=config.get("epochs"))
            )
    elif config.get("objective"):
        objective = load_objective(str(config["objective"]))
        if config.get("finder") is not None:
            kw["finder"] = config["finder"]
    else:
        raise ConfigError("a worker config needs 'task' or 'objective'")
    return tune(objective, callbacks=callbacks, **kw)


def main(argv: list[str] | None = None) -> int:
    """``python -m lrkit.tune CONFIG_JSON``: run one worker; errors print one line, exit 2."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m lrkit.tune CONFIG_JSON", file=sys.stderr)
        return 2
    try:
        config = json.loads(args[0])
        result = run_worker(config)
    except (LRKitError, json.JSONDecodeError) as exc:
        print(f"lrkit: error: {str(exc).splitlines()[0] if str(exc) else exc!r}", file=sys.stderr)
        return 2
    print(
        json.dumps(
            {
                "best_lr": result.best_lr,
                "best_value": result.best_value,
                "n_complete": result.n_complete,
            }
        )
    )
    return 0
