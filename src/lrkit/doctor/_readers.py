"""Readers for the logs people really have: CSV, Lightning ``metrics.csv``, JSON Lines, Keras
history JSON and CSVLogger files, Hugging Face ``trainer_state.json``, Ultralytics YOLO
``results.csv``, MLflow run folders, Weights & Biases history exports, TensorBoard event files,
pandas DataFrames, dicts of lists, Keras ``History``.

Every reader keeps every row: nothing is sampled or thinned. Text files are parsed from their
raw text, so an empty cell (not logged at this row, as in Lightning's sparse rows) and a logged
``nan`` (the loss really was NaN) stay different things.
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from lrkit.doctor._columns import (
    normalise,
    pick_epoch,
    pick_loss,
    pick_losses,
    pick_lr,
    pick_step,
    pick_val_loss,
)
from lrkit.doctor._log import Log, Series
from lrkit.errors import ConfigError, LogFormatError

__all__ = ["FORMATS", "read_log"]

FORMATS = (
    "csv", "lightning", "jsonl", "json", "huggingface", "yolo", "mlflow", "wandb",
    "tensorboard", "keras", "dataframe", "dict",
)  # fmt: skip


class _Table:
    """Row-aligned columns: ``values`` is NaN where a cell is missing *or* a logged NaN;
    ``present`` says which cells were really there."""

    def __init__(self, n_rows: int) -> None:
        self.n_rows = n_rows
        self.values: dict[str, np.ndarray] = {}
        self.present: dict[str, np.ndarray] = {}
        #: non-numeric columns: name -> (row number, first non-numeric cell)
        self.text: dict[str, tuple[int, str]] = {}

    def add(self, name: str, cells: Sequence[float | None]) -> None:
        self.values[name] = np.array([math.nan if c is None else c for c in cells], dtype=float)
        self.present[name] = np.array([c is not None for c in cells], dtype=bool)


def read_log(
    log: Any,
    *,
    format: str | None = None,
    loss: str | None = None,
    val_loss: str | None = None,
    lr: str | None = None,
    step: str | None = None,
) -> Log:
    """Parse ``log`` into a :class:`Log`.

    Args:
        log: a path (CSV, ``metrics.csv``, JSON Lines, JSON, a TensorBoard event file or run
            directory), a dict of lists, a pandas DataFrame, or a Keras ``History``.
        format: force a reader (one of ``FORMATS``); detected from the content when ``None``.
        loss, val_loss, lr, step: column (or TensorBoard tag) names, when the detection of
            aliases such as ``train_loss``/``loss``/``Loss/train`` is not enough.

    Raises:
        LogFormatError: the log is empty, truncated, binary, or has no loss column.
        ConfigError: ``format`` or a column name is not valid.

    >>> log = read_log({"step": [0, 1, 2, 3], "train_loss": [2.3, 1.9, 1.7, 1.6]})
    >>> log.loss.name, log.loss.values.tolist()
    ('train_loss', [2.3, 1.9, 1.7, 1.6])
    """
    if format is not None and format not in FORMATS:
        raise ConfigError(f"format={format!r} is not one of {', '.join(FORMATS)}")
    names = {"loss": loss, "val_loss": val_loss, "lr": lr, "step": step}
    if isinstance(log, (str, os.PathLike)):
        return _read_path(Path(log), format, names)
    if hasattr(log, "history") and isinstance(log.history, Mapping):  # keras.callbacks.History
        return _from_table(
            _table_from_mapping(log.history, "<History>"), "<History>", "keras", names
        )
    if _is_dataframe(log):
        return _from_table(_table_from_dataframe(log), "<DataFrame>", "dataframe", names)
    if isinstance(log, Mapping):
        fmt = format or ("keras" if _looks_like_keras(log) else "dict")
        return _from_table(_table_from_mapping(log, "<dict>"), "<dict>", fmt, names)
    raise ConfigError(
        f"log={type(log).__name__} is not a path, dict of lists, DataFrame or Keras History"
    )


# ----------------------------------------------------------------------------- paths


def _read_path(path: Path, format: str | None, names: dict[str, str | None]) -> Log:
    if not path.exists():
        raise LogFormatError(f"{path}: no such file or directory")
    if format == "mlflow" or (format is None and path.is_dir() and _mlflow_runs(path)):
        from lrkit.doctor._mlflow import read_mlflow

        series, source, ml_notes = read_mlflow(path)
        return _from_series(series, source, "mlflow", names, ml_notes)
    if path.is_dir() and format != "tensorboard":
        inner = _log_in_dir(path)
        if inner is None:
            raise LogFormatError(
                f"{path}: the folder holds no log lrkit can read (looked for TensorBoard event "
                "files, metrics.csv, trainer_state.json, results.csv, *.csv, *.jsonl, *.json, "
                "MLflow metrics/)"
            )
        if inner != path:
            return _read_path(inner, format, names)
    if path.is_dir() or format == "tensorboard" or "tfevents" in path.name:
        from lrkit.doctor._tensorboard import read_tensorboard

        series = read_tensorboard(path)
        return _from_series(series, str(path), "tensorboard", names)
    raw = path.read_bytes()
    if not raw.strip():
        raise LogFormatError(f"{path}: file is empty")
    if b"\x00" in raw[:65536]:
        raise LogFormatError(f"{path}: binary content, not a text log (CSV, JSON Lines or JSON)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise LogFormatError(
            f"{path}: not UTF-8 text (byte {exc.start}); expected CSV, JSON Lines or JSON"
        ) from None
    fmt = format or _sniff(path, text)
    if fmt in ("csv", "lightning", "yolo", "wandb"):
        table = _parse_csv(text, str(path))
        notes: list[str] = []
        table = _wandb_chart_export(table, notes)
        if format is None:
            if _looks_like_yolo(table):
                fmt = "yolo"
            elif _looks_like_wandb(table):
                fmt = "wandb"
            elif _looks_like_lightning(table):
                fmt = "lightning"
        return _from_table(table, str(path), fmt, names, notes)
    if fmt == "jsonl" and (format == "jsonl" or len(text.strip().splitlines()) > 1):
        return _from_table(_parse_jsonl(text, str(path)), str(path), "jsonl", names)
    # json / keras / huggingface: one document
    table, kind = _parse_json_document(text, str(path))
    return _from_table(table, str(path), format or kind, names)


#: Files a training tool writes, in the order they are looked for inside a folder.
_KNOWN_FILES = ("metrics.csv", "trainer_state.json", "results.csv", "training.log", "history.csv")


def _log_in_dir(path: Path) -> Path | None:
    """The log inside a folder: the folder itself (TensorBoard), a known file, or the only
    text log. ``None`` when there is nothing readable."""
    if any(p.is_file() for p in path.rglob("*tfevents*")):
        return path
    for name in _KNOWN_FILES:
        hits = sorted(path.rglob(name), key=lambda p: (p.stat().st_mtime, str(p)))
        if hits:
            return hits[-1]  # the newest run (checkpoint-N/trainer_state.json: the latest)
    texts = [
        p
        for p in sorted(path.iterdir())
        if p.is_file() and p.suffix.lower() in (".csv", ".jsonl", ".ndjson", ".json", ".tsv")
    ]
    return texts[0] if len(texts) == 1 else None


def _mlflow_runs(path: Path) -> bool:
    return (
        (path / "metrics").is_dir()
        or any(p.is_dir() for p in path.glob("*/metrics"))
        or any(p.is_dir() for p in path.glob("*/*/metrics"))
    )


def _sniff(path: Path, text: str) -> str:
    head = text.lstrip()
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if head.startswith("["):
        return "json"
    if head.startswith("{"):
        # One JSON document spread over lines (Keras history) or one object per line?
        first = head.splitlines()[0].strip()
        try:
            json.loads(first)
        except json.JSONDecodeError:
            return "json"
        return "jsonl"
    return "csv"


def _number(cell: str) -> float | None:
    """Float value of a raw cell; ``None`` for an empty cell. Raises ValueError otherwise."""
    s = cell.strip()
    if not s:
        return None
    return float(s)  # accepts nan, NaN, inf, -inf, Infinity


def _parse_csv(text: str, source: str) -> _Table:
    sample = text[:4096]
    delimiter = "\t" if sample.count("\t") > sample.count(",") else ","
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    while rows and not any(c.strip() for c in rows[-1]):
        rows.pop()
    header = [h.strip() for h in rows[0]]
    if not rows[1:]:
        raise LogFormatError(f"{source}: header only, no data rows (columns: {', '.join(header)})")
    if len(set(header)) != len(header):
        dup = sorted({h for h in header if header.count(h) > 1})
        raise LogFormatError(f"{source}: duplicate column names {', '.join(dup)}")
    data = rows[1:]
    for i, row in enumerate(data):
        if len(row) != len(header):
            line = i + 2
            if i == len(data) - 1 and len(row) < len(header):
                raise LogFormatError(
                    f"{source}: truncated: last row (line {line}) has {len(row)} of "
                    f"{len(header)} fields"
                )
            raise LogFormatError(
                f"{source}: line {line} has {len(row)} fields, the header has {len(header)}"
            )
    table = _Table(len(data))
    for j, name in enumerate(header):
        cells: list[float | None] = []
        try:
            for row in data:
                cells.append(_number(row[j]))
        except ValueError:
            bad_line = len(cells) + 2
            if bad_line == len(data) + 1 and any(c is not None for c in cells):
                raise LogFormatError(
                    f"{source}: truncated: last row (line {bad_line}) has {row[j]!r} in "
                    f"column {name!r}"
                ) from None
            table.text[name] = (bad_line, row[j])
            continue  # a text column (timestamps, run names): not a curve
        table.add(name, cells)
    return table


def _looks_like_lightning(table: _Table) -> bool:
    names = list(table.values)
    has_axes = pick_epoch(names) is not None and pick_step(names) is not None
    suffixed = any(normalise(n).endswith(("_step", "_epoch")) for n in names)
    sparse = any(not p.all() for p in table.present.values())
    return has_axes and (suffixed or sparse)


def _flatten(obj: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in obj.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(_flatten(v, key + "/"))
        else:
            out[key] = v
    return out


def _scalar(v: Any) -> float | str | None:
    """A JSON value as a float, ``None`` for missing, or the string ``"text"`` for non-numbers."""
    if v is None:
        return None
    if isinstance(v, bool):
        return float(v)
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return "text"
    if isinstance(v, list) and len(v) == 1:
        return _scalar(v[0])
    return "text"


def _table_from_records(records: list[Mapping[str, Any]]) -> _Table:
    flat = [_flatten(r) for r in records]
    keys: dict[str, None] = {}
    for r in flat:
        keys.update(dict.fromkeys(r))
    table = _Table(len(flat))
    for k in keys:
        cells = [_scalar(r.get(k)) for r in flat]
        if any(c == "text" for c in cells):
            continue
        table.add(k, [c if not isinstance(c, str) else None for c in cells])
    return table


def _parse_jsonl(text: str, source: str) -> _Table:
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    records: list[Mapping[str, Any]] = []
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            what = "truncated: last line" if i == len(lines) - 1 else "line"
            raise LogFormatError(
                f"{source}: {what} {i + 1} is not valid JSON ({exc.msg})"
            ) from None
        if not isinstance(rec, Mapping):
            raise LogFormatError(
                f"{source}: line {i + 1} is a JSON {type(rec).__name__}, not an object"
            )
        records.append(rec)
    return _table_from_records(records)


def _parse_json_document(text: str, source: str) -> tuple[_Table, str]:
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        truncated = exc.pos >= len(text.rstrip()) - 1
        what = "truncated JSON" if truncated else "invalid JSON"
        raise LogFormatError(
            f"{source}: {what} at line {exc.lineno}, column {exc.colno} ({exc.msg})"
        ) from None
    if isinstance(doc, list):
        if not doc:
            raise LogFormatError(f"{source}: empty JSON list")
        if not all(isinstance(r, Mapping) for r in doc):
            raise LogFormatError(f"{source}: a JSON list must hold one object per row")
        return _table_from_records(doc), "json"
    if isinstance(doc, Mapping):
        if isinstance(doc.get("history"), Mapping):  # {"history": {...}, "params": ...}
            doc = doc["history"]
        log_history = doc.get("log_history")  # transformers' trainer_state.json
        if isinstance(log_history, list) and all(isinstance(r, Mapping) for r in log_history):
            # The final summary record ({train_loss, train_runtime, total_flos, ...}) holds
            # the run's mean loss: one number, not a point of the curve.
            rows = [r for r in log_history if not _HF_SUMMARY.intersection(r)]
            if not rows:
                raise LogFormatError(f"{source}: log_history holds no per-step records")
            return _table_from_records(rows), "huggingface"
        if doc and all(isinstance(v, list) for v in doc.values()):
            kind = "keras" if _looks_like_keras(doc) else "json"
            return _table_from_mapping(doc, source), kind
        return _table_from_records([doc]), "json"
    raise LogFormatError(f"{source}: a JSON {type(doc).__name__} is not a training log")


_HF_SUMMARY = frozenset({"train_runtime", "train_samples_per_second", "total_flos"})


def _looks_like_keras(d: Mapping[str, Any]) -> bool:
    keys = {normalise(str(k)) for k in d}
    return "loss" in keys and pick_step(keys) is None and pick_epoch(keys) is None


def _table_from_mapping(d: Mapping[str, Any], source: str) -> _Table:
    if not d:
        raise LogFormatError(f"{source}: no columns")
    cols: dict[str, list[Any]] = {}
    for k, v in d.items():
        seq = v.tolist() if hasattr(v, "tolist") else v
        if not isinstance(seq, (list, tuple)):
            seq = [seq]
        cols[str(k)] = list(seq)
    lengths = {len(v) for v in cols.values()}
    if len(lengths) != 1:
        detail = ", ".join(f"{k}={len(v)}" for k, v in cols.items())
        raise LogFormatError(f"{source}: columns have different lengths ({detail})")
    n = lengths.pop()
    table = _Table(n)
    for k, seq in cols.items():
        cells = [_scalar(v) for v in seq]
        if any(c == "text" for c in cells):
            continue
        table.add(k, _trailing_nan_rule([c if not isinstance(c, str) else None for c in cells]))
    return table


def _trailing_nan_rule(cells: list[float | None]) -> list[float | None]:
    """In memory, NaN may mean "not logged here" (pandas padding) or a NaN loss. NaNs that
    only form one block at the end are a diverged run (kept as logged NaN); NaNs elsewhere
    are padding (missing cells), as in a Lightning metrics.csv read by pandas."""
    isnan = [c is not None and math.isnan(c) for c in cells]
    if not any(isnan):
        return cells
    first = isnan.index(True)
    if all(isnan[first:]) and first > 0:
        return cells
    return [None if nan else c for c, nan in zip(cells, isnan)]


def _is_dataframe(obj: Any) -> bool:
    return type(obj).__name__ == "DataFrame" and hasattr(obj, "columns") and hasattr(obj, "to_dict")


def _table_from_dataframe(df: Any) -> _Table:
    d: dict[str, list[Any]] = {}
    for col in df.columns:
        s = df[col]
        try:
            vals = s.astype(float).tolist()
        except (TypeError, ValueError):
            continue
        # pandas' NA/None become NaN in astype(float); see _trailing_nan_rule.
        d[str(col)] = vals
    return _table_from_mapping(d, "<DataFrame>")


# ----------------------------------------------------------------------------- assembling


def _resolve(name: str | None, available: list[str], role: str, source: str) -> str | None:
    if name is None:
        return None
    if name in available:
        return name
    by_norm = {normalise(a): a for a in available}
    if normalise(name) in by_norm:
        return by_norm[normalise(name)]
    raise ConfigError(
        f"{role}={name!r} is not a column of {source} (columns: {', '.join(available)})"
    )


# ----------------------------------------------------------------------------- tool layouts


def _looks_like_yolo(table: _Table) -> bool:
    keys = {normalise(n) for n in table.values}
    return (
        "epoch" in keys
        and any(k.startswith("train_") and k.endswith("_loss") for k in keys)
        and (any(k.startswith(("lr_pg", "x_lr")) for k in keys))
    )


def _yolo(table: _Table, notes: list[str]) -> tuple[str, str | None, str | None]:
    """Ultralytics ``results.csv``: the summed loss components, and the LR of a weight group.

    YOLOv5 and Ultralytics put the biases in parameter group 0 and warm their LR *down* from
    ``warmup_bias_lr`` (0.1) while the other groups warm up from 0 (``_setup_train`` /
    ``optimizer_step`` in ultralytics/engine/trainer.py, ``train.py`` in yolov5). After the
    warm-up every group follows the same schedule, so group 1 is the run's LR.
    """
    by_norm = {normalise(n): n for n in table.values}
    parts = {"train": [], "val": []}  # type: dict[str, list[str]]
    for k, n in by_norm.items():
        for side in parts:
            if k.startswith(side + "_") and k.endswith("_loss"):
                parts[side].append(n)
    roles: dict[str, str | None] = {}
    for side, cols in parts.items():
        if not cols:
            roles[side] = None
            continue
        name = f"{side}/loss (sum of {', '.join(c.split('/')[-1] for c in cols)})"
        present = np.logical_and.reduce([table.present[c] for c in cols])
        total = np.sum([table.values[c] for c in cols], axis=0)
        table.values[name], table.present[name] = total, present
        roles[side] = name
    lr = next((by_norm[k] for k in ("lr_pg1", "x_lr1", "lr_pg2", "x_lr2", "lr_pg0", "x_lr0")
               if k in by_norm), None)  # fmt: skip
    if roles["train"] is not None and len(parts["train"]) > 1:
        notes.append(f"the training loss is the sum of the {len(parts['train'])} logged components")
    if lr is not None and normalise(lr) not in ("lr_pg0", "x_lr0"):
        notes.append(f"LR from {lr} (group 0 holds the biases, warmed up from a high LR)")
    assert roles["train"] is not None  # _looks_like_yolo saw one
    return roles["train"], roles["val"], lr


def _looks_like_wandb(table: _Table) -> bool:
    keys = set(table.values)
    return "_step" in keys and (any("/" in k for k in keys) or "_runtime" in keys)


_CHART = re.compile(r"^(?P<run>.+?) - (?P<key>.+?)(?P<agg>__MIN|__MAX)?$")


def _wandb_chart_export(table: _Table, notes: list[str]) -> _Table:
    """A W&B chart's "Export CSV": ``Step`` plus ``<run> - <key>`` (and ``__MIN``/``__MAX``
    band) columns, one group per run. Keep the last run's columns under their plain keys."""
    runs: dict[str, dict[str, str]] = {}
    for name in table.values:
        m = _CHART.match(name)
        if m and not m["agg"]:
            runs.setdefault(m["run"], {})[m["key"]] = name
    if not runs:
        return table
    run = list(runs)[-1]
    out = _Table(table.n_rows)
    for name in table.values:
        if not _CHART.match(name):
            out.values[name], out.present[name] = table.values[name], table.present[name]
    for key, name in runs[run].items():
        out.values[key], out.present[key] = table.values[name], table.present[name]
    out.text = table.text
    if len(runs) > 1:
        notes.append(f"{len(runs)} runs in this chart export; diagnosing the last, {run!r}")
    return out


# ----------------------------------------------------------------------------- assembling


def _densest(table: _Table, cols: list[str]) -> str | None:
    """The column with the most logged values; ties keep the alias order of ``cols``."""
    best, n_best = (cols[0] if cols else None), 0
    for c in cols:
        n = int(table.present[c].sum())
        if n > n_best:
            best, n_best = c, n
    return best


def _split_runs(
    table: _Table, x_col: str, rows: np.ndarray, notes: list[str], x_name: str
) -> np.ndarray:
    """Rows to keep when ``x_col`` goes backwards: a restart at (or before) the run's first
    position starts a new run (appended CSVLogger files): only the last run is kept; a step back
    to a later position is a resume from a checkpoint: the rows it replays are dropped."""
    has_x = table.present[x_col] & np.isfinite(table.values[x_col])
    order = np.flatnonzero(has_x)
    keep = np.ones(table.n_rows, dtype=bool)
    if order.size < 2:
        return keep
    xs = table.values[x_col]
    run_start_row, run_first_x = 0, float(xs[order[0]])
    n_runs, n_resumes, prev = 1, 0, float(xs[order[0]])
    for r in order[1:]:
        x = float(xs[r])
        if x < prev:
            if x <= run_first_x:
                n_runs += 1
                keep[run_start_row:r] = False
                run_start_row, run_first_x = int(r), x
            else:
                n_resumes += 1
                replayed = np.arange(run_start_row, r)
                replayed = replayed[has_x[replayed] & (xs[replayed] >= x)]
                keep[replayed] = False
        prev = x
    if n_runs > 1:
        kept = np.flatnonzero(keep & rows)
        span = f" ({x_name}s {xs[kept[0]]:g}–{xs[kept[-1]]:g})" if kept.size else ""
        notes.append(
            f"{n_runs} runs in this log ({x_name} counter restarts); diagnosing the last{span}"
        )
    if n_resumes:
        notes.append(
            f"{n_resumes} resume(s) from a checkpoint: replayed {x_name}s keep their newest values"
        )
    return keep


def _from_table(
    table: _Table,
    source: str,
    fmt: str,
    names: dict[str, str | None],
    notes: list[str] | None = None,
) -> Log:
    notes = [] if notes is None else notes
    available = list(table.values)
    step_col = _resolve(names["step"], available, "step", source) or pick_step(available)
    epoch_col = pick_epoch(available)
    yolo = fmt == "yolo" and names["loss"] is None and _looks_like_yolo(table)
    loss_col: str | None
    yolo_val: str | None = None
    yolo_lr: str | None = None
    if yolo:
        loss_col, yolo_val, yolo_lr = _yolo(table, notes)
        available = list(table.values)
    else:
        loss_col = _resolve(names["loss"], available, "loss", source) or _densest(
            table, pick_losses(available)
        )
    val_as_loss = False
    if loss_col is None and names["loss"] is None:
        only_val = pick_val_loss(available)
        if only_val is not None and table.present[only_val].any():
            # Some loggers keep only the validation curve: judge that curve, and say so.
            loss_col, val_as_loss = only_val, True
            notes.append(f"no training loss logged: diagnosing {only_val!r} instead")
    if loss_col is None:
        text_loss = pick_loss(list(table.text))
        if text_loss is not None:
            line, cell = table.text[text_loss]
            raise LogFormatError(
                f"{source}: loss column {text_loss!r} is not numeric (row {line}: {cell!r})"
            )
        columns = ", ".join([*available, *table.text])
        raise LogFormatError(f"{source}: no loss column (columns: {columns})")
    val_col = _resolve(names["val_loss"], available, "val_loss", source) or (
        yolo_val if yolo else pick_val_loss([a for a in available if a != loss_col])
    )
    if val_as_loss:
        val_col = None
    lr_col = _resolve(names["lr"], available, "lr", source) or (
        yolo_lr if yolo else pick_lr(available)
    )

    loss_rows = table.present[loss_col]
    x_col, x_name = None, "index"
    for cand, cand_name in ((step_col, "step"), (epoch_col, "epoch")):
        if cand is None or cand == loss_col:
            continue
        xs = table.values[cand][loss_rows]
        if not (table.present[cand][loss_rows].all() and np.isfinite(xs).all()):
            continue
        keep = _split_runs(table, cand, loss_rows, notes, cand_name)
        kept = table.values[cand][loss_rows & keep]
        if cand_name == "epoch" and len(np.unique(kept)) < len(kept):
            notes[:] = [n for n in notes if cand_name not in n]
            continue  # several rows per epoch: an epoch is not a position
        x_col, x_name = cand, cand_name
        if not keep.all():
            table = _subset(table, keep)
        break

    if x_col is None and fmt == "keras":
        x_name = "epoch"  # History rows are epochs, counted from 0

    def series(col: str) -> Series:
        rows = table.present[col]
        if x_col is None:
            xs = np.flatnonzero(rows).astype(float)
        else:
            ok = table.present[x_col] & np.isfinite(table.values[x_col])
            xs_all = table.values[x_col].copy()
            if not ok[rows].all():
                # Rows logged without a step (an epoch summary among step records) sit at the
                # step logged just before them.
                idx = np.flatnonzero(ok)
                for r in np.flatnonzero(rows & ~ok):
                    before = idx[idx < r]
                    if before.size == 0:
                        raise LogFormatError(
                            f"{source}: column {col!r} has a value at row {r + 1} where "
                            f"{x_col!r} is empty"
                        )
                    xs_all[r] = xs_all[before[-1]]
                if col in (loss_col, val_col):
                    notes.append(
                        f"{int((rows & ~ok).sum())} {col!r} value(s) without a {x_name} placed "
                        f"at the {x_name} logged before them"
                    )
            xs = xs_all[rows]
        return Series(col, xs, table.values[col][rows])

    taken = {loss_col, val_col, lr_col, step_col, epoch_col}
    metrics = {c: series(c) for c in available if c not in taken and table.present[c].any()}
    return _finish(
        series(loss_col),
        series(val_col) if val_col and table.present[val_col].any() else None,
        series(lr_col) if lr_col and table.present[lr_col].any() else None,
        metrics,
        x_name,
        source,
        fmt,
        notes,
    )


def _subset(table: _Table, keep: np.ndarray) -> _Table:
    out = _Table(int(keep.sum()))
    for k in table.values:
        out.values[k], out.present[k] = table.values[k][keep], table.present[k][keep]
    out.text = table.text
    return out


def _from_series(
    found: dict[str, Series],
    source: str,
    fmt: str,
    names: dict[str, str | None],
    notes: list[str] | None = None,
) -> Log:
    available = list(found)
    loss_col = _resolve(names["loss"], available, "loss", source) or max(
        pick_losses(available), key=lambda k: len(found[k]), default=None
    )
    if loss_col is None:
        raise LogFormatError(f"{source}: no loss tag (tags: {', '.join(available) or 'none'})")
    val_col = _resolve(names["val_loss"], available, "val_loss", source) or pick_val_loss(
        [a for a in available if a != loss_col]
    )
    lr_col = _resolve(names["lr"], available, "lr", source) or pick_lr(available)
    taken = {loss_col, val_col, lr_col}
    metrics = {k: v for k, v in found.items() if k not in taken}
    return _finish(
        found[loss_col],
        found[val_col] if val_col else None,
        found[lr_col] if lr_col else None,
        metrics,
        "step",
        source,
        fmt,
        notes or [],
    )


def _finish(
    loss: Series,
    val: Series | None,
    lr: Series | None,
    metrics: dict[str, Series],
    x_name: str,
    source: str,
    fmt: str,
    notes: list[str],
) -> Log:
    if len(loss) == 0:
        raise LogFormatError(f"{source}: loss column {loss.name!r} has no values")
    # NaN from the first evaluation to the last while training is finite: the validation
    # loss was never computed (YOLO logs this under some AMP setups), not a divergence.
    never = val is not None and len(val) > 0 and not np.isfinite(val.values).any()
    if val is not None and never and np.isfinite(loss.values).any():
        notes.append(f"{val.name} is NaN at every evaluation (never computed): ignored")
        val = None
    return Log(
        loss=loss,
        val_loss=val,
        lr=lr,
        metrics=metrics,
        x_name=x_name,
        source=source,
        format=fmt,
        notes=tuple(dict.fromkeys(notes)),
    )
