"""Replay pick rules on the fine-tuning trials that finder_regret.py saved (issue #18).

Every saved metric-scored trial set (``curves`` / ``curves_metric`` of the fine-tuning result
files below) is read again with other rules for turning the trials into a suggestion; each
suggestion is scored against its cell's 3-seed grid, linear in log-LR between grid points (a
proxy: no training runs, used to choose, not a reported regret). Every task read here is seen.
With ``--by-optimizer`` each optimizer's sets are replayed alone too: since session 10 lrkit's
pick for plain SGD is the row "parabola through the best 3" (``outcome_of(plain_sgd=True)``).

    python benchmarks/finetune_pick_replay.py --by-optimizer \
        [--out benchmarks/results/finetune_pick_replay.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from lrkit.finder._finetune import metric_pick, pick, vertex_lr

HERE = Path(__file__).parent
RESULTS = HERE / "results"
#: (result file suffix, key of its trial sets): every saved metric-scored trial set.
#: Since session 12 the trial sets that session 11's final rules ran (29 tasks; earlier
#: sessions' figures came from the older sets listed in git history).
SOURCES = (
    ("seen10_s11", "curves"),
    ("fresh4_s11", "curves"),
    ("fresh5_s11", "curves"),
    ("fresh6_s11", "curves"),
    ("fresh7_s11", "curves"),
    ("fresh8_s11", "curves"),
    ("fresh9_s11", "curves"),
    ("fresh10_s11", "curves"),
    ("fresh11_s11", "curves"),
    ("fresh12", "curves"),
    ("fresh13", "curves"),
)
#: The same, trials scored on a fifth of the training samples held out (no ``val_data``).
SOURCES_NOVAL = (
    ("fresh5_sgd_climb", "curves_noval"),
    ("fresh6", "curves_noval"),
    ("fresh7", "curves_noval"),
    ("fresh8", "curves_noval"),
    ("fresh9", "curves_noval"),
    ("fresh12", "curves_noval"),
    ("fresh13", "curves_noval"),
)


def _interp(grid: dict[str, float], lr: float) -> float:
    keys = sorted(grid, key=float)
    x = np.log10([float(k) for k in keys])
    return float(np.interp(np.log10(lr), x, [grid[k] for k in keys]))


def rules(lrs: Any, metrics: Any, start: float, losses: Any) -> dict[str, float]:
    """Each candidate rule's suggestion from trials at ``lrs`` (ascending) scoring
    ``metrics`` (higher is better; ``start``: the metric before any trial) and ``losses``
    (their validation losses)."""
    lr, m = np.asarray(lrs, dtype=float), np.asarray(metrics, dtype=float)
    b = int(np.argmax(m))

    def near(f: float) -> np.ndarray:
        return lr[m >= m[b] - f * abs(m[b])]

    scores = np.where(np.isfinite(m), -m, np.inf)
    m = np.where(np.isfinite(m), m, -1.0)  # a blown-up trial: below every accuracy
    out = {
        "geo. mean of the metric's and the loss's peak / 10**0.5 (lrkit's pick since session 12, not plain SGD)": (
            metric_pick(lr, scores, losses, start=-start)[0]
        ),
        "session 10-11 pick (the session-9 pick, band also <= half the gain)": pick(
            lr, scores, divisor=1.0, lowest_near=True, vertex=True, start=-start
        )[0],
        "session 9 pick (geo. mean of vertex and lowest 5%)": pick(
            lr, scores, divisor=1.0, lowest_near=True, vertex=True
        )[0],
        "lowest within 5% (the rule to session 8)": float(near(0.05).min()),
        "best trial": float(lr[b]),
        "lowest within 3%": float(near(0.03).min()),
        "geometric mean within 5%": float(np.exp(np.log(near(0.05)).mean())),
    }
    smooth = np.convolve(np.pad(m, 1, mode="edge"), [0.25, 0.5, 0.25], mode="valid")
    out["best of 1-2-1 smoothed"] = float(lr[int(np.argmax(smooth))])
    out["parabola through the best 3"] = vertex_lr(lr, scores)
    vx = vertex_lr(lr, scores)
    gain = m[b] - start
    for f in (0.1, 0.2, 0.3, 0.5):
        low = float(lr[m >= m[b] - f * gain].min()) if gain > 0 else float(lr[b])
        out[f"geo. mean of vertex and lowest within {f:g} of the gain"] = float(np.sqrt(low * vx))
        band = min(0.05 * abs(m[b]), f * gain) if gain > 0 else 0.0
        low = float(lr[m >= m[b] - band].min())
        out[f"geo. mean of vertex and lowest within 5% and {f:g} of the gain"] = float(
            np.sqrt(low * vx)
        )
    return out


def replay(sources: tuple[tuple[str, str], ...], optimizer: str | None = None) -> dict[str, Any]:
    """Each rule's proxy regret over the trial sets of ``sources`` (those of ``optimizer``
    only, if given), printed and returned."""
    regrets: dict[str, dict[str, list[float]]] = {}
    for suffix, key in sources:
        data = json.loads((RESULTS / f"finder_regret_finetune_{suffix}.json").read_text())
        cells = {(c["task"], c["optimizer"]): c for c in data["cells"]}
        for name, run in data[key].items():
            trials = run.get("trials") if isinstance(run, dict) else None
            if not trials or not trials.get("val_metrics"):
                continue
            task, opt, _ = name.rsplit("|", 2)
            if optimizer is not None and opt != optimizer:
                continue
            grid = {k: float(v) for k, v in cells[(task, opt)]["grid"].items()}
            best = max(grid.values())
            for rule, lr in rules(
                trials["lrs"], trials["val_metrics"], trials["start_val_metric"],
                trials["val_losses"],
            ).items():  # fmt: skip
                cell = f"{suffix}:{task}|{opt}"
                regrets.setdefault(rule, {}).setdefault(cell, []).append(
                    100 * (best - _interp(grid, lr))
                )
    summary: dict[str, Any] = {}
    for rule, cells in regrets.items():
        runs = [r for v in cells.values() for r in v]
        per_cell = {k: float(np.median(v)) for k, v in cells.items()}
        worst = max(per_cell, key=per_cell.__getitem__)
        summary[rule] = {
            "median_regret_points": float(np.median(runs)),
            "worst_cell_points": per_cell[worst],
            "worst_cell": worst,
            "cells_above_2": sum(v > 2 for v in per_cell.values()),
            "cells": len(per_cell),
            "runs": len(runs),
            "per_cell": per_cell,
        }
        s = summary[rule]
        print(
            f"{rule:<60} median {s['median_regret_points']:5.2f}  worst cell "
            f"{s['worst_cell_points']:5.2f} ({worst})  cells > 2: {s['cells_above_2']}/{s['cells']}"
        )
    return summary


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=RESULTS / "finetune_pick_replay.json")
    ap.add_argument(
        "--by-optimizer", action="store_true", help="also replay each optimizer's sets alone"
    )
    args = ap.parse_args()
    print("trials scored on val_data:")
    summary = replay(SOURCES)
    print("without val_data (a fifth of the training samples held out):")
    noval = replay(SOURCES_NOVAL)
    out = {"sources": SOURCES, "summary": summary}
    out |= {"sources_noval": SOURCES_NOVAL, "summary_noval": noval}
    if args.by_optimizer:
        for opt in ("adamw", "sgd", "sgd_momentum"):
            print(f"trials scored on val_data, {opt} only:")
            out[f"summary_{opt}"] = replay(SOURCES, opt)
    args.out.write_text(json.dumps(out, indent=1))
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
