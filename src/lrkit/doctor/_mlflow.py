"""MLflow run folders: ``mlruns/<experiment>/<run>/metrics/<key>``.

MLflow's file store writes one file per metric key (a key with ``/`` becomes sub-folders) and
one ``<timestamp> <value> <step>`` line per logged point (``mlflow/store/tracking/file_store.py``).
Read as text: no MLflow install needed.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from lrkit.doctor._log import Series
from lrkit.errors import LogFormatError

__all__ = ["has_runs", "read_mlflow"]


def _run_folders(path: Path) -> Iterator[Path]:
    """Folders with a ``metrics/`` folder: ``path`` itself (a run), or its children (an
    experiment) or grandchildren (``mlruns``), lazily and before any ``.trash`` filter."""
    if (path / "metrics").is_dir():
        yield path
        return
    for pattern in ("*/metrics", "*/*/metrics"):
        yield from (p.parent for p in path.glob(pattern) if p.is_dir())


def has_runs(path: Path) -> bool:
    """Whether ``path`` looks like an MLflow run, experiment or ``mlruns`` folder."""
    return next(_run_folders(path), None) is not None


def _runs(path: Path) -> list[Path]:
    found = list(_run_folders(path))
    if found == [path]:
        return found
    return sorted(r for r in found if ".trash" not in r.parts)


def _read_metric(f: Path, key: str) -> tuple[Series, float]:
    steps: list[float] = []
    values: list[float] = []
    last_time = -math.inf
    for i, line in enumerate(f.read_text().splitlines()):
        if not line.strip():
            continue
        parts = line.split()
        try:
            ts, value = float(parts[0]), float(parts[1])
            step = float(parts[2]) if len(parts) > 2 else float(len(steps))
        except (ValueError, IndexError):
            raise LogFormatError(
                f"{f}: line {i + 1} is not '<timestamp> <value> <step>' ({line.strip()!r})"
            ) from None
        steps.append(step)
        values.append(value)
        last_time = max(last_time, ts)
    order = np.argsort(np.array(steps), kind="stable")  # MLflow does not sort by step
    return Series(key, np.array(steps)[order], np.array(values)[order]), last_time


def read_mlflow(path: Path) -> tuple[dict[str, Series], str, list[str]]:
    """Every metric of the newest run under ``path`` (a run, experiment or ``mlruns`` folder),
    its folder, and notes."""
    runs = _runs(path)
    if not runs:
        raise LogFormatError(f"{path}: no MLflow run folder (…/<run>/metrics/) found")
    by_run: dict[Path, tuple[dict[str, Series], float]] = {}
    for run in runs:
        metrics = run / "metrics"
        series: dict[str, Series] = {}
        newest = -math.inf
        for f in sorted(p for p in metrics.rglob("*") if p.is_file()):
            key = f.relative_to(metrics).as_posix()
            s, t = _read_metric(f, key)
            if len(s):
                series[key] = s
                newest = max(newest, t)
        if series:
            by_run[run] = (series, newest)
    if not by_run:
        raise LogFormatError(f"{path}: the MLflow run folders hold no metric values")
    run = max(by_run, key=lambda r: by_run[r][1])
    notes = []
    if len(by_run) > 1:
        notes.append(f"{len(by_run)} MLflow runs here; diagnosing the newest, {run.name}")
    return by_run[run][0], str(run), notes
