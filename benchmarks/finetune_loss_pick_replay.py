"""Replay pick rules on the fine-tuning trials scored on the validation loss (issue #18).

Two kinds of saved trial sets score their trials on the validation loss: the ``lrkit-loss``
finder's (``curves_loss``: classification tasks forced to ``val_metric=None``; fresh6 .. fresh18)
and the default finder's on tasks without a class-score output (a regression, a multi-label,
a CTC, a mixture-density, a flow or a denoising loss: ``curves`` of fresh19 .. fresh23). For
each cell the latest file holding it counts. Each rule's suggestion is scored against the
cell's 3-seed grid, linear in log-LR between grid points (a proxy: no training runs, used to
choose, not a reported regret); the interval's share of runs holding the grid's best LR too.
Every task read here is seen.

    python benchmarks/finetune_loss_pick_replay.py [--optimizer adamw sgd] \
        [--out benchmarks/results/finetune_loss_pick_replay.json]
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from finetune_pick_replay import RESULTS, _interp

from lrkit.finder._finetune import metric_pick, outcome_of, pick, vertex_lr

#: (result file suffix, key of its trial sets, the method whose trials they are), oldest first:
#: a later file's cell replaces an earlier one's.
SOURCES = (
    *((f"fresh{n}", "curves_loss", "lrkit-loss:default") for n in range(6, 19)),
    ("fresh19", "curves", "lrkit:default"),
    ("fresh20", "curves", "lrkit:default"),
    ("fresh21", "curves", "lrkit:default"),
    ("sgd_loss_s18", "curves", "lrkit:default"),
    ("fresh22", "curves", "lrkit:default"),
    ("detect_s19_fresh22", "curves", "lrkit:default"),
    ("fresh23", "curves", "lrkit:default"),
)

Trials = dict[str, Any]


def _lrkit(t: Trials, plain_sgd: bool) -> tuple[float, tuple[float, float]]:
    """lrkit's rule as shipped (:func:`outcome_of` with no metric)."""
    o = outcome_of(np.asarray(t["lrs"]), t["val_losses"], t["start_val_loss"], 40,
                   plain_sgd=plain_sgd)  # fmt: skip
    return o.suggestion, o.interval


def _peak(t: Trials, shade: float) -> tuple[float, tuple[float, float]]:
    lr = vertex_lr(np.asarray(t["lrs"], dtype=float), np.asarray(t["val_losses"], dtype=float))
    return lr / shade, pick(t["lrs"], t["val_losses"])[1]


RULES: dict[str, Callable[[Trials, bool], tuple[float, tuple[float, float]]]] = {
    "lrkit as shipped (outcome_of)": _lrkit,
    "best trial / 10**0.5 (sessions 5-19, not plain SGD)": lambda t, _: pick(
        t["lrs"], t["val_losses"]
    ),
    "loss's peak / 10**0.25, metric_pick's interval": lambda t, _: metric_pick(
        t["lrs"], t["val_losses"], t["val_losses"]
    ),
    "loss's peak, unshaded": lambda t, _: _peak(t, 1.0),
    "loss's peak / 10**0.5": lambda t, _: _peak(t, 10**0.5),
    "best trial / 10**0.25": lambda t, _: pick(t["lrs"], t["val_losses"], divisor=10**0.25),
}


def cells(optimizer: str) -> dict[str, tuple[dict[str, Any], list[Trials]]]:
    """Each loss-scored cell of ``optimizer``: its result cell and its trial sets."""
    out: dict[str, tuple[dict[str, Any], list[Trials]]] = {}
    for suffix, key, method in SOURCES:
        data = json.loads((RESULTS / f"finder_regret_finetune_{suffix}.json").read_text())
        for c in data["cells"]:
            if c["optimizer"] != optimizer or method not in c["methods"]:
                continue
            prefix = f"{c['task']}|{optimizer}|"
            trials = [
                {**run["trials"], "val_losses": [math.nan if v is None else v  # JSON's NaN
                                                 for v in run["trials"]["val_losses"]]}
                for name, run in data.get(key, {}).items()
                if name.startswith(prefix) and run.get("trials")
            ]  # fmt: skip
            if trials and all(t["val_metrics"] is None for t in trials):
                out[c["task"]] = (c, trials)
    return out


def replay(optimizer: str) -> dict[str, Any]:
    """Each rule's proxy regret and interval coverage over ``optimizer``'s cells, printed."""
    found = cells(optimizer)
    print(f"{optimizer}: {len(found)} loss-scored cells")
    summary: dict[str, Any] = {}
    if not found:
        return summary
    for rule, fn in RULES.items():
        per_cell: dict[str, float] = {}
        holds, widths = [], []
        for task, (c, trials) in found.items():
            grid = {k: float(v) for k, v in c["grid"].items()}
            best_lr = float(c["grid_best_lr"])
            scores = []
            for t in trials:
                lr, (low, high) = fn(t, optimizer == "sgd")
                scores.append(_interp(grid, lr))
                holds.append(low <= best_lr <= high)
                widths.append(math.log10(high / low))
            per_cell[task] = 100 * (max(grid.values()) - float(np.mean(scores)))
        worst = max(per_cell, key=per_cell.__getitem__)
        summary[rule] = s = {
            "median_regret_points": float(np.median(list(per_cell.values()))),
            "worst_cell_points": per_cell[worst],
            "worst_cell": worst,
            "cells_above_2": sum(v > 2 for v in per_cell.values()),
            "cells": len(per_cell),
            "interval_holds_grid_best": float(np.mean(holds)),
            "interval_median_decades": float(np.median(widths)),
            "per_cell": per_cell,
        }
        print(
            f"  {rule:<72} median {s['median_regret_points']:5.2f}  worst "
            f"{s['worst_cell_points']:5.2f} ({worst.split(':')[-1]})  > 2: "
            f"{s['cells_above_2']}/{s['cells']}  interval {s['interval_holds_grid_best']:.0%}, "
            f"{s['interval_median_decades']:.2f} decades"
        )
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--optimizer", nargs="+", default=["adamw", "sgd"])
    ap.add_argument("--out", type=Path, default=RESULTS / "finetune_loss_pick_replay.json")
    args = ap.parse_args()
    out = {"sources": SOURCES, **{opt: replay(opt) for opt in args.optimizer}}
    args.out.write_text(json.dumps(out, indent=1))
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
