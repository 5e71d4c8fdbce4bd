"""Where plain SGD's fine-tuning trials start: the range test's fitted minimum, or a floor below
the highest LR the range test reached, read off saved results (no training).

    python benchmarks/plain_sgd_anchor.py RESULT_JSON [RESULT_JSON ...] [--out OUT_JSON]

For every plain-SGD run of ``benchmarks/finder_regret.py --finetune`` whose fine-tuning trials ran,
the saved range test (its LRs and losses) gives the fitted minimum (``lrkit_interval``'s upper
end, the anchor the trials hang from) and the highest LR it reached before a non-finite loss. The
script prints, per anchor rule, how far the anchor sat from the grid's best LR (decades: the
median, the mean absolute distance, the worst, and how many runs sat more than 1.25 decades low
or high) and how noisy the range test was where the fitted minimum missed (its fitted drop over
the loss's own noise). A proxy: the trials climb or descend from the anchor, so what counts is
how far they must go; ``finder_regret.py`` measures the suggestions themselves.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import numpy as np

from lrkit.finder._suggest import _check, fit_curve

FLOORS = (1.5, 2.0, 2.5, 3.0)  # decades below the reached top


def runs(paths: list[Path]) -> list[dict]:
    out: dict[tuple[str, int], dict] = {}  # a later file's run replaces an earlier one
    for path in paths:
        data = json.loads(path.read_text())
        for cell in data["cells"]:
            if cell["optimizer"] != "sgd":
                continue
            for seed in range(10):
                curve = data.get("curves", {}).get(f"{cell['task']}|sgd|{seed}")
                if curve is None or not curve.get("trials"):
                    continue  # the trials did not run (not detected as pretrained)
                lr, lo = _check(curve["lrs"], curve["losses"])
                fit = fit_curve(lr, lo)
                i = int(np.argmin(fit))
                res = lo - fit
                noise = 1.4826 * float(np.median(np.abs(res - np.median(res))))
                head = float(fit[: max(1, len(fit) // 10)].mean())
                best = float(cell["grid_best_lr"])
                out[(cell["task"], seed)] = {
                    "task": cell["task"],
                    "seed": seed,
                    "fitted_min": float(np.log10(lr[i] / best)),  # decades from the grid's best
                    "reached": float(np.log10(lr[-1] / best)),
                    "drop_over_noise": (head - float(fit[i])) / noise if noise > 0 else None,
                }
    return list(out.values())


def summary(errors: list[float]) -> dict:
    e = np.asarray(errors)
    return {
        "median_decades": float(np.median(e)),
        "mean_abs_decades": float(np.mean(np.abs(e))),
        "worst_abs_decades": float(np.max(np.abs(e))),
        "low_by_over_1.25": int(np.sum(e < -1.25)),
        "high_by_over_1.25": int(np.sum(e > 1.25)),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("results", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    rs = runs(args.results)
    rules: dict[str, dict] = {"fitted minimum": summary([r["fitted_min"] for r in rs])}
    for k in FLOORS:
        anchors = [max(r["fitted_min"], r["reached"] - k) for r in rs]
        changed = sum(a != r["fitted_min"] for a, r in zip(anchors, rs, strict=True))
        rules[f"max(fitted minimum, reached / 10^{k:g})"] = {
            **summary(anchors),
            "runs_changed": changed,
        }
    print(f"{len(rs)} plain-SGD runs of {len({r['task'] for r in rs})} cells")
    print(
        f"{'anchor rule':42s} {'median':>7s} {'mean|d|':>7s} {'worst':>6s} {'low':>4s} {'high':>4s}"
    )
    for name, s in rules.items():
        print(
            f"{name:42s} {s['median_decades']:+7.2f} {s['mean_abs_decades']:7.2f} "
            f"{s['worst_abs_decades']:6.2f} {s['low_by_over_1.25']:4d} {s['high_by_over_1.25']:4d}"
            + (f"  ({s['runs_changed']} runs changed)" if "runs_changed" in s else "")
        )
    missed = [r for r in rs if r["fitted_min"] < -1.25]
    noise = [r["drop_over_noise"] for r in missed if r["drop_over_noise"] is not None]
    others = [r["drop_over_noise"] for r in rs if r["fitted_min"] >= -1.25]
    if noise:
        print(
            f"fitted drop / noise where the fitted minimum sat > 1.25 decades low: median "
            f"{statistics.median(noise):.2f} ({len(noise)} runs); elsewhere "
            f"{statistics.median(x for x in others if x is not None):.2f}"
        )
    if args.out:
        args.out.write_text(
            json.dumps(
                {
                    "command": "python benchmarks/plain_sgd_anchor.py "
                    + " ".join(str(p) for p in args.results),
                    "rules": rules,
                    "runs": rs,
                },
                indent=1,
            )
        )
        print(f"saved {args.out}")


if __name__ == "__main__":
    main()
