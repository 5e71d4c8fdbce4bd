"""Ultralytics YOLO ``results.csv`` (YOLOv5/v8/v10) and its TensorBoard twin: summed loss
components, the weights' LR."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import numpy as np

from lrkit.doctor._columns import normalise
from lrkit.doctor._log import Series
from lrkit.doctor._table import _Table


def _looks_like_yolo(table: _Table) -> bool:
    return "epoch" in {normalise(n) for n in table.values} and _yolo_names(table.values)


# A loss component's column: ``train/box_loss`` (YOLOv5/v8), ``train/box_om`` / ``train/cls_oo``
# (YOLOv10: its one-to-many and one-to-one heads, whose losses the trainer adds up), ...
_COMPONENT = re.compile(r"^(train|val)_(\w+_loss|(box|cls|dfl|obj|seg|pose|kobj|rle)(_\w+)?)$")


def _component(key: str, side: str) -> bool:
    """Whether the normalised column name ``key`` is a loss component of ``side``."""
    m = _COMPONENT.match(key)
    return m is not None and m.group(1) == side


def _yolo_names(names: Iterable[str]) -> bool:
    """Ultralytics' layout: per-component training losses (``train/*_loss``, YOLOv10's
    ``train/box_om``...) and per-group ``lr/pg*``, whether in ``results.csv`` or in the
    TensorBoard file it writes beside it (same tags, no epoch)."""
    keys = {normalise(n) for n in names}
    return any(_component(k, "train") for k in keys) and any(
        k.startswith(("lr_pg", "x_lr")) for k in keys
    )


def _yolo_from_series(
    found: Mapping[str, Series], notes: list[str]
) -> tuple[Series, Series | None, str | None]:
    """:func:`_yolo` for tagged series (TensorBoard): align the tags on their steps first."""
    steps = np.unique(np.concatenate([s.steps for s in found.values()]))
    table = _Table(len(steps))
    for name, s in found.items():
        at = np.searchsorted(steps, s.steps)
        table.values[name] = np.full(len(steps), np.nan)
        table.present[name] = np.zeros(len(steps), dtype=bool)
        table.values[name][at], table.present[name][at] = s.values, True
    loss, val, lr = _yolo(table, notes)

    def series(name: str) -> Series:
        p = table.present[name]
        return Series(name, steps[p], table.values[name][p])

    return series(loss), (series(val) if val is not None else None), lr


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
            if _component(k, side):
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
