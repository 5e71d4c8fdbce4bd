"""Study budgets: wall time of ``lrkit study`` end to end, per phase, on this machine.

    python benchmarks/study_budget.py            # quick and standard budgets
    python benchmarks/study_budget.py --quick    # quick budget only (the CI's <= 90 s check)
    python benchmarks/study_budget.py --quick --compare OLD.json   # same seeds, same accuracies?

Each budget runs in a fresh process (``python -m lrkit study --budget B``) so imports and data
loading count. The 1-minute load average before and after is recorded: the machine may be
shared, and a loaded machine makes every figure slower. Prints a table and writes
benchmarks/results/study_budget.json. Each row keeps every final run's accuracy (by optimizer,
schedule and seed) and every sensitivity point, so ``--compare`` can check that a refactoring
left the numbers unchanged (same seeds -> same accuracies).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run(budget: str, task: str) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as out:
        load0 = os.getloadavg()[0]
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-m", "lrkit", "study", task, "--budget", budget, "--out", out,
             "--no-progress"],
            capture_output=True, text=True,
        )  # fmt: skip
        wall = time.perf_counter() - t0
        if proc.returncode != 0:
            raise SystemExit(proc.stderr[-2000:])
        d = json.loads((Path(out) / "results.json").read_text())
    best = max(d["summaries"], key=lambda s: s["mean"] or -1)
    return {
        "budget": budget,
        "task": task,
        "wall_s": round(wall, 1),
        "phases_s": d["timings_s"],
        "epochs_per_run": d["epochs"],
        "runs": len(d["runs"]) + sum(len(c["lrs"]) for c in d["sensitivity"]),
        "best": f"{best['optimizer']}/{best['schedule']}",
        "best_mean": best["mean"],
        "recommendation": d["recommendation"]["text"] if d["recommendation"] else None,
        "finals": {
            f"{r['optimizer']}/{r['schedule']}/seed{r['seed']}": r["final_metric"]
            for r in d["runs"]
        },
        "sensitivity": {
            f"{c['optimizer']}/{c['schedule']}": c["final_metric"] for c in d["sensitivity"]
        },
        "verdicts": {f"{s['optimizer']}/{s['schedule']}": s["verdict"] for s in d["summaries"]},
        "load_before": round(load0, 2),
        "load_after": round(os.getloadavg()[0], 2),
    }


def compare(rows: list[dict[str, object]], old_path: str) -> bool:
    """Print, per budget, whether every number matches the rows saved in ``old_path``."""
    old = {r["budget"]: r for r in json.loads(Path(old_path).read_text())["rows"]}
    same = True
    for r in rows:
        o = old.get(r["budget"])
        if o is None or "finals" not in o:
            print(f"{r['budget']}: no per-run figures in {old_path}")
            same = False
            continue
        for key in ("finals", "sensitivity", "verdicts"):
            a, b = o[key], r[key]
            diff = [k for k in set(a) | set(b) if a.get(k) != b.get(k)]
            same &= not diff
            print(f"{r['budget']} {key}: {len(a)} old, {len(b)} new, {len(diff)} differ {diff[:5]}")
    return same


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="quick budget only")
    ap.add_argument("--task", default="mnist1d-cnn")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "study_budget.json"))
    ap.add_argument("--compare", metavar="OLD.json", help="check the per-run figures against OLD")
    args = ap.parse_args()
    budgets = ["quick"] if args.quick else ["quick", "standard"]
    rows = [run(b, args.task) for b in budgets]
    print(f"{'budget':<10}{'wall s':>8}{'runs':>6}{'epochs':>8}  best (mean)   load")
    for r in rows:
        print(
            f"{r['budget']:<10}{r['wall_s']:>8}{r['runs']:>6}{r['epochs_per_run']:>8}  "
            f"{r['best']} ({100 * float(r['best_mean']):.1f}%)  {r['load_before']}->{r['load_after']}"
        )
    if args.compare and not compare(rows, args.compare):
        raise SystemExit("figures differ from " + args.compare)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(
        json.dumps(
            {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs", "rows": rows}, indent=1
        )
    )


if __name__ == "__main__":
    main()
