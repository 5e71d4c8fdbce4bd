"""Does the finder's interval hold the grid's best LR? Recomputed from saved range tests.

Reads the range-test curves and grids saved by ``benchmarks/finder_regret.py`` and applies the
current interval rules (``lrkit_interval``; plain SGD: ``plain_sgd_interval``, the fitted
minimum / 3.5 to x3.5, chosen on the built-in tasks) to every finder run, without training
anything. Prints coverage per task family and optimizer; writes
``benchmarks/results/plain_sgd_interval.json``.

    python benchmarks/plain_sgd_interval.py
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from lrkit.finder import fit_curve, lrkit_interval
from lrkit.finder._suggest import plain_sgd_interval

RESULTS = Path(__file__).parent / "results"
SOURCES = ("finder_regret.json", "finder_regret_heldout_s3.json")


def _family(task: str) -> str:
    return "builtin (chosen here)" if ":" not in task else "held out"


def main() -> None:
    rows: list[dict[str, Any]] = []
    for name in SOURCES:
        result = json.loads((RESULTS / name).read_text())
        best = {(c["task"], c["optimizer"]): c["grid_best_lr"] for c in result["cells"]}
        for key, curve in result["curves"].items():
            task, opt, seed = key.split("|")
            task = task.rsplit("/", 1)[-1].replace("heldout_tasks.py:", "heldout:")
            if not curve["lrs"]:
                continue
            lrs, losses = np.asarray(curve["lrs"]), np.asarray(curve["losses"])
            lr_min = float(lrs[int(np.argmin(fit_curve(lrs, losses)))])
            old = lrkit_interval(lrs, losses)
            new = plain_sgd_interval(lr_min) if opt == "sgd" else old
            b = best[(task, opt)] * (1 - 1e-4)  # grid keys are rounded to 4 digits
            hi = best[(task, opt)] * (1 + 1e-4)
            rows.append(
                {
                    "source": name,
                    "task": task,
                    "optimizer": opt,
                    "seed": int(seed),
                    "lr_min": lr_min,
                    "grid_best_lr": best[(task, opt)],
                    "best_over_lr_min": best[(task, opt)] / lr_min,
                    "old_interval": list(old),
                    "interval": list(new),
                    "old_holds": bool(old[0] <= hi and b <= old[1]),
                    "holds": bool(new[0] <= hi and b <= new[1]),
                }
            )
    summary: dict[str, Any] = {}
    print(f"{'family':<22} {'optimizer':<13} {'runs':>5} {'before':>8} {'now':>8}")
    for fam in ("builtin (chosen here)", "held out"):
        for opt in ("adam", "sgd_momentum", "sgd", "all"):
            sel = [
                r
                for r in rows
                if _family(r["task"]) == fam and (opt == "all" or r["optimizer"] == opt)
            ]
            if not sel:
                continue
            old = sum(r["old_holds"] for r in sel) / len(sel)
            new = sum(r["holds"] for r in sel) / len(sel)
            summary[f"{fam}|{opt}"] = {"runs": len(sel), "before": old, "now": new}
            print(f"{fam:<22} {opt:<13} {len(sel):>5} {100 * old:7.0f}% {100 * new:7.0f}%")
    out = RESULTS / "plain_sgd_interval.json"
    out.write_text(json.dumps({"summary": summary, "runs": rows}, indent=1))
    print(f"saved {out}")


if __name__ == "__main__":
    main()
