"""Row-aligned columns (``_Table``) and how JSON records, dicts of lists and DataFrames become
one: the shared layer under every text and in-memory reader."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from lrkit.errors import LogFormatError


class _Table:
    """Row-aligned columns: ``values`` is NaN where a cell is missing *or* a logged NaN;
    ``present`` says which cells were really there."""

    def __init__(self, n_rows: int) -> None:
        self.n_rows = n_rows
        self.values: dict[str, np.ndarray] = {}
        self.present: dict[str, np.ndarray] = {}
        #: non-numeric columns: name -> (row number, first non-numeric cell)
        self.text: dict[str, tuple[int, str]] = {}
        #: what the parser decided that the user should know (the Log's notes)
        self.notes: list[str] = []

    def add(self, name: str, cells: Sequence[float | None]) -> None:
        self.values[name] = np.array([math.nan if c is None else c for c in cells], dtype=float)
        self.present[name] = np.array([c is not None for c in cells], dtype=bool)


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


def _table_from_records(records: Sequence[Mapping[str, Any]]) -> _Table:
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
    notes: list[str] = []
    if len(lengths) != 1:
        cols, note = _last_history(cols, source)
        notes.append(note)
        lengths = {len(v) for v in cols.values()}
    n = lengths.pop()
    table = _Table(n)
    table.notes = notes
    for k, seq in cols.items():
        cells = [_scalar(v) for v in seq]
        if any(c == "text" for c in cells):
            continue
        table.add(k, _trailing_nan_rule([c if not isinstance(c, str) else None for c in cells]))
    return table


def _last_history(cols: dict[str, list[Any]], source: str) -> tuple[dict[str, list[Any]], str]:
    """Several histories of different lengths under one mapping (two Keras ``History.history``
    dicts merged, ``reg_loss`` ×30 and ``cls_loss`` ×19): the columns as long as the last one
    written, and a note saying so, where every group of equally long columns holds a loss
    (each is a history); otherwise the lengths are an error."""
    groups: dict[int, list[str]] = {}
    for k, v in cols.items():
        groups.setdefault(len(v), []).append(k)
    last = groups[len(cols[list(cols)[-1]])]
    if not all(any("loss" in k.lower() for k in g) for g in groups.values()):
        detail = ", ".join(f"{k}={len(v)}" for k, v in cols.items())
        raise LogFormatError(f"{source}: columns have different lengths ({detail})")
    sizes = ", ".join(f"{g[0]}… ×{n}" for n, g in groups.items())
    note = (
        f"{len(groups)} histories of different lengths in one file ({sizes}): diagnosing the "
        f"last one ({', '.join(last[:3])}{'…' if len(last) > 3 else ''})"
    )
    return {k: cols[k] for k in last}, note


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
