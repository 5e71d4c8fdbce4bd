"""JSON readers: JSON Lines, one JSON document (a list of records, a Keras history, a dict of
lists) and Hugging Face ``trainer_state.json``."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

from lrkit.doctor._columns import normalise, pick_epoch, pick_loss, pick_step
from lrkit.doctor._table import _Table, _table_from_mapping, _table_from_records
from lrkit.errors import LogFormatError


def _parse_jsonl(text: str, source: str) -> _Table:
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    records: list[Mapping[str, Any]] = []
    for i, line in enumerate(lines):
        if not line.strip() or line.lstrip().startswith(("//", "#")):
            continue  # a blank line, or a comment written between runs (``// run 2``)
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
        batches = _batch_records(doc)
        return _table_from_records(doc if batches is None else batches), "json"
    if isinstance(doc, Mapping):
        if isinstance(doc.get("history"), Mapping):  # {"history": {...}, "params": ...}
            doc = doc["history"]
        log_history = doc.get("log_history")  # transformers' trainer_state.json
        if isinstance(log_history, list) and all(isinstance(r, Mapping) for r in log_history):
            # The final summary record ({train_loss, train_runtime, total_flos, ...}) holds
            # the run's mean loss: one number, not a point of the curve.
            rows = [r for r in log_history if not _HF_SUMMARY.intersection(r)]
            means = [
                r
                for r in log_history
                if _HF_SUMMARY.intersection(r) and isinstance(r.get("train_loss"), int | float)
            ]
            summary_only = not rows
            if summary_only:
                # A run that ended before its first logging step (logging_steps above the
                # run's steps): only its summary is left, and its mean training loss is the
                # one point there is (non-finite: it diverged; finite: too little to judge).
                rows = [{"step": r.get("step", 0), "loss": r["train_loss"]} for r in means]
            elif any("loss" in r and not _is_nonfinite(r["loss"]) for r in rows):
                # A non-finite mean after finite logged steps: the run diverged after its last
                # logging step (the Trainer averages every step's loss into the mean).
                last = float(rows[-1].get("step", 0) or 0)
                rows += [
                    {"step": max(float(r.get("step", 0) or 0), last + 1), "loss": r["train_loss"]}
                    for r in means
                    if _is_nonfinite(r["train_loss"])
                ]
            if not rows:
                raise LogFormatError(f"{source}: log_history holds no per-step records")
            table = _table_from_records(rows)
            if summary_only:
                table.notes.append(
                    "the log holds only the run's closing summary (its mean training loss): "
                    "set logging_steps below the run's number of steps to log the curve"
                )
            return table, "huggingface"
        boosting = _catboost(doc)
        if boosting is not None:
            return boosting, "catboost"
        if doc and all(isinstance(v, list) for v in doc.values()):
            kind = "keras" if _looks_like_keras(doc) else "json"
            return _table_from_mapping(doc, source), kind
        records = _records_under_a_key(doc)
        if records is not None:
            # An experiment tracker's record: run metadata plus its per-step records under
            # one key ({"content": {hp...}, "history": [{epoch, train_loss, ...}, ...]}).
            return _table_from_records(records), "json"
        series = _series_beside_metadata(doc)
        if series is not None:
            kind = "keras" if _looks_like_keras(series) else "json"
            return _table_from_mapping(series, source), kind
        return _table_from_records([doc]), "json"
    raise LogFormatError(f"{source}: a JSON {type(doc).__name__} is not a training log")


_HF_SUMMARY = frozenset({"train_runtime", "train_samples_per_second", "total_flos"})


def _catboost(doc: Mapping[str, Any]) -> _Table | None:
    """CatBoost's ``catboost_training.json`` (``{"meta": {"learn_metrics": [{"name": ...}],
    ...}, "iterations": [{"iteration": 0, "learn": [...], "test": [...]}, ...]}``): the first
    learn metric (the objective) per iteration as the loss, the first test metric as the
    validation loss; ``None`` for any other document."""
    meta, its = doc.get("meta"), doc.get("iterations")
    if not (isinstance(meta, Mapping) and isinstance(its, list) and its):
        return None
    if not all(isinstance(r, Mapping) and isinstance(r.get("learn"), list) for r in its):
        return None
    learn = meta.get("learn_metrics") or [{}]
    name = learn[0].get("name", "loss") if isinstance(learn[0], Mapping) else "loss"
    rows: list[Mapping[str, Any]] = []
    for r in its:
        row = {"iteration": r.get("iteration", len(rows)), "loss": r["learn"][0]}
        test = r.get("test")
        if isinstance(test, list) and test:
            row["val_loss"] = test[0]
        rows.append(row)
    table = _table_from_records(rows)
    table.notes.append(f"CatBoost log: the loss is its objective {name!r} (learn and test sets)")
    return table


def _batch_records(epochs: list[Mapping[str, Any]]) -> list[Mapping[str, Any]] | None:
    """Per-batch records from epoch records that list their batches (skorch's ``History``:
    ``[{"epoch": 1, "batches": [{"train_loss": 0.70, ...}, ...], "train_loss": 0.69,
    "valid_loss": 0.70, ...}, ...]``): a record per training batch, numbered by a running
    ``step``, its epoch's summary (the epoch mean renamed ``epoch_<name>``) on the epoch's last
    batch; ``None`` where the records hold no such lists."""
    if not all(isinstance(r.get("batches"), list) for r in epochs):
        return None
    out: list[dict[str, Any]] = []
    for i, rec in enumerate(epochs):
        batches = [b for b in rec["batches"] if isinstance(b, Mapping) and "train_loss" in b]
        for b in batches:
            out.append({"step": len(out) + 1, "epoch": rec.get("epoch", i + 1), **b})
        summary = {
            (f"epoch_{k}" if k == "train_loss" else k): v
            for k, v in rec.items()
            if k not in ("batches", "epoch")
        }
        if out and batches:
            out[-1] |= summary
        else:
            out.append({"epoch": rec.get("epoch", i + 1), **summary})
    return [*out] if any("train_loss" in r for r in out) else None


def _records_under_a_key(doc: Mapping[str, Any]) -> list[Mapping[str, Any]] | None:
    """The longest list of at least two JSON objects directly under one of ``doc``'s keys
    whose records name a loss (its per-step history), or ``None``."""
    best: list[Mapping[str, Any]] | None = None
    for v in doc.values():
        if not (isinstance(v, list) and len(v) >= 2 and all(isinstance(r, Mapping) for r in v)):
            continue
        names = {k for r in v for k in r}
        if pick_loss(names) is not None and (best is None or len(v) > len(best)):
            best = v
    return best


def _series_beside_metadata(doc: Mapping[str, Any]) -> dict[str, list[Any]] | None:
    """A history saved with run metadata beside its per-epoch lists (``{"backbone": ...,
    "classes": [...], "train_loss": [...], "val_loss": [...], "test_acc": 0.91}``), its lists
    also one level down (``{"epochs": [...], "metrics": {"loss": [...], "learning_rate":
    [...]}}``): every list of numbers as long as the loss's, or ``None`` where no such list
    names a loss."""

    def numbers(v: Any) -> bool:
        return (
            isinstance(v, list)
            and bool(v)
            and all(
                x is None or (isinstance(x, int | float) and not isinstance(x, bool)) for x in v
            )
        )

    lists = {str(k): v for k, v in doc.items() if numbers(v)}
    for group, inner in doc.items():
        if isinstance(inner, Mapping):
            for k, v in inner.items():
                if numbers(v):
                    lists[str(k) if str(k) not in lists else f"{group}/{k}"] = v
    loss = pick_loss(lists)
    if loss is None or len(lists[loss]) < 2:
        return None
    return {k: v for k, v in lists.items() if len(v) == len(lists[loss])}


def _is_nonfinite(v: Any) -> bool:
    return isinstance(v, int | float) and not math.isfinite(v)


def _looks_like_keras(d: Mapping[str, Any]) -> bool:
    keys = {normalise(str(k)) for k in d}
    return "loss" in keys and pick_step(keys) is None and pick_epoch(keys) is None
