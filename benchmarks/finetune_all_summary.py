"""One table over every fine-tuning task of ``benchmarks/finder_regret.py``: lrkit's default against the
fixed defaults (AdamW 1e-3, SGD 1e-2), read off saved result files (no training).

    python benchmarks/finetune_all_summary.py RESULT_JSON [RESULT_JSON ...] [--out OUT_JSON]

Per file (a set of fine-tuning tasks) and over all of them: median and worst cell regret (points of the
metric below the grid's best LR, the median over finder seeds per cell), the share of runs whose
interval held the grid's best LR, the cost in optimizer steps, and the fixed defaults' regret read off
the same grid. In the pooled row a cell that a later file measured again replaces the earlier one.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

FIXED = {"adam": 1e-3, "adamw": 1e-3, "sgd": 1e-2, "sgd_momentum": 1e-2}


def _grid_value(grid: dict, lr: float) -> float | None:
    for key, v in grid.items():
        if abs(float(key) / lr - 1) < 1e-3:
            return float(v["mean"] if isinstance(v, dict) else v)
    return None


def cells(path: Path) -> list[dict]:
    data = json.loads(path.read_text())
    out = []
    for c in data["cells"]:
        m = c["methods"].get("lrkit:default")
        if m is None or m.get("regret_points") is None:
            continue
        fixed = _grid_value(c["grid"], FIXED[c["optimizer"]])
        out.append(
            {
                "task": c["task"],
                "optimizer": c["optimizer"],
                "regret": m["regret_points"],
                "interval": c.get("interval_holds_grid_best"),
                "cost": m.get("cost_fraction_steps"),
                "fixed": None if fixed is None else 100 * (c["grid_best"] - fixed),
            }
        )
    return out


def summary(rows: list[dict]) -> dict:
    reg = [r["regret"] for r in rows]
    fix = [r["fixed"] for r in rows if r["fixed"] is not None]
    ints = [r["interval"] for r in rows if r["interval"] is not None]
    cost = [r["cost"] for r in rows if r["cost"] is not None]
    return {
        "cells": len(rows),
        "median": statistics.median(reg),
        "worst": max(reg),
        "cells_over_2": sum(r > 2 for r in reg),
        "interval": statistics.fmean(ints) if ints else None,
        "cost_steps_median": statistics.median(cost) if cost else None,
        "fixed_median": statistics.median(fix) if fix else None,
        "fixed_worst": max(fix) if fix else None,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", nargs="+", type=Path)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    table, latest = {}, {}
    for path in args.results:
        rows = cells(path)
        # A cell measured again in a later file (a re-measurement of some optimizers with new
        # rules, the grid reused) replaces the earlier one in the pooled row.
        latest |= {(r["task"], r["optimizer"]): r for r in rows}
        table[path.name] = summary(rows)
    every = list(latest.values())
    table["all"] = summary(every)
    print(f"{'set':<52} cells  median  worst  >2  interval   cost  fixed med  fixed worst")
    for name, s in table.items():
        print(
            f"{name:<52} {s['cells']:>5} {s['median']:7.2f} {s['worst']:6.2f} {s['cells_over_2']:3d} "
            f"{100 * (s['interval'] or 0):8.0f}% {100 * (s['cost_steps_median'] or 0):5.1f}% "
            f"{s['fixed_median']:9.2f} {s['fixed_worst']:11.2f}"
        )
    if args.out:
        args.out.write_text(json.dumps({"command": "python benchmarks/finetune_all_summary.py "
                                        + " ".join(str(p) for p in args.results), "sets": table,
                                        "cells": every}, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
