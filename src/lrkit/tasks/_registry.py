"""Resolve a task by built-in name or from a user's ``path/to/file.py:factory`` spec."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from lrkit.errors import TaskError
from lrkit.tasks._builtin import BUILTIN
from lrkit.tasks._task import Task

__all__ = ["available", "get_task", "load_task_file"]


def available() -> list[str]:
    """Names of the built-in tasks.

    >>> available()
    ['digits-mlp', 'mnist1d-cnn', 'mnist1d-mlp']
    """
    return sorted(BUILTIN)


def get_task(name_or_path: str | Task) -> Task:
    """Return the built-in task ``name`` or the task made by ``path/to/file.py:factory``.

    A :class:`Task` passes through unchanged.
    """
    if isinstance(name_or_path, Task):
        return name_or_path
    if not isinstance(name_or_path, str) or not name_or_path:
        raise TaskError(f"task must be a name or 'file.py:factory', but got {name_or_path!r}")
    if name_or_path in BUILTIN:
        return BUILTIN[name_or_path]()
    if ":" in name_or_path or name_or_path.endswith(".py"):
        return load_task_file(name_or_path)
    raise TaskError(
        f"unknown task {name_or_path!r}: use one of {', '.join(available())} "
        "or 'path/to/file.py:factory'"
    )


def load_task_file(spec: str) -> Task:
    """Import ``path/to/file.py`` and call its ``factory()``, which must return a :class:`Task`.

    The factory name defaults to ``task`` when the spec has no ``:factory`` part.
    """
    # rpartition keeps Windows drive letters ("C:\\x\\t.py:make") in the path part.
    path_str, sep, factory_name = spec.rpartition(":")
    if not sep or not path_str.endswith(".py"):
        path_str, factory_name = spec, "task"
    path = Path(path_str).expanduser()
    if not path.is_file():
        raise TaskError(f"task file not found: {str(path)!r} (from spec {spec!r})")
    mod_name = f"_lrkit_user_task_{abs(hash(str(path.resolve())))}"
    module_spec = importlib.util.spec_from_file_location(mod_name, path)
    if module_spec is None or module_spec.loader is None:
        raise TaskError(f"cannot import task file {str(path)!r}")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[mod_name] = module  # dataclasses and pickling look the module up by name
    try:
        module_spec.loader.exec_module(module)
    except Exception as exc:
        sys.modules.pop(mod_name, None)
        raise TaskError(f"importing task file {str(path)!r} failed: {exc!r}") from exc
    factory = getattr(module, factory_name, None)
    if not callable(factory):
        raise TaskError(f"task file {str(path)!r} has no callable {factory_name!r}")
    task = factory()
    if not isinstance(task, Task):
        raise TaskError(
            f"{spec!r} must return an lrkit.tasks.Task, but returned {type(task).__name__}"
        )
    return task
