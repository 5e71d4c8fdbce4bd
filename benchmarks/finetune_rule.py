"""Rule design for the fine-tuning finder: validation-scored trials on the choose tasks only.

For each choose task of ``benchmarks/finetune_tasks.py`` and finder seed, runs
``lrkit.find_lr`` with the task's validation split as ``val_data`` and trials of several
lengths, and saves the trials' validation losses next to the range test's fitted minimum.
``--analyse`` then scores candidate rules (horizon divisor, interval width) against the 3-seed
grids saved by ``benchmarks/finder_regret.py --finetune`` (regret read off the grid, linear in
log-LR between its half-decade points: a proxy used to choose, not the reported figure).

    python benchmarks/finetune_rule.py --collect   # ~6 min on one core (lm_licence: 5 of them)
    python benchmarks/finetune_rule.py --analyse

Never run on the held-out tasks.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

from finetune_tasks import CHOOSE, HELDOUT  # noqa: E402

OUT = HERE / "results" / "finetune_rule_trials.json"
GRIDS = [
    HERE / "results" / "finder_regret_finetune_choose.json",
    HERE / "results" / "finder_regret_finetune_heldout.json",  # session 4's held-out pair
    HERE / "results" / "finder_regret_finetune_fresh.json",  # session 5's fresh pair, now seen
]
#: Tasks a rule may be chosen on: the four choose tasks and session 5's fresh pair (scored once
#: with the session-5 rule, then used to choose the validation cap and the no-val_data default).
SEEN = (*CHOOSE, *HELDOUT)
SEEDS = (0, 1, 2, 3, 4)
LENGTHS = (20, 40, 80)


def _mode_val(task: Any, mode: str, seed: int) -> Any:
    """The ``val_data`` a collect mode passes: the task's split, none, or a seeded subset."""
    import torch

    if mode == "val":
        return task.val
    if mode == "noval":
        return None
    cap = int(mode.removeprefix("cap"))
    x, y = task.val
    if len(x) <= cap:
        return task.val
    idx = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:cap]
    return x[idx], y[idx]


#: Candidate design: ``(first k, count)``, trials at lr_min * 10**(-k/2) (library: (1, 6)).
CANDS = (1, 6)


def set_cands(value: list[int]) -> None:
    global CANDS
    CANDS = (value[0], value[1])


def _cands(lr_min: float) -> Any:
    first, count = CANDS
    return lr_min * 10.0 ** (-np.arange(first, first + count) / 2.0)


def collect(
    tasks: list[str], path: Path = OUT, mode: str = "val", lengths: tuple[int, ...] = LENGTHS
) -> None:
    import finetune_tasks
    import torch

    import lrkit.finder._finetune as rule_mod
    from lrkit.finder import find_lr
    from lrkit.tasks import make_optimizer

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    # exactly COUNT trials at the fitted minimum * 10**(-k/2), k = FIRST_K ..: run_trials reads
    # candidates() and its trial counts from the module at call time
    first, count = CANDS
    rule_mod.candidates = lambda lr_min, n=count: (  # type: ignore[assignment]
        lr_min * 10.0 ** (-np.arange(first, first + n) / 2.0)
    )
    rule_mod.FIRST_CANDIDATES = rule_mod.MAX_CANDIDATES = count  # type: ignore[misc]
    out = json.loads(path.read_text()) if path.exists() else {}
    for name in tasks:
        task = getattr(finetune_tasks, name)()
        for seed in SEEDS:
            key = f"{name}|{seed}"
            if key in out:
                continue
            rec: dict[str, Any] = {}
            for n in lengths:
                t0 = time.perf_counter()
                torch.manual_seed(seed)
                model = task.make_model()
                opt = make_optimizer("adamw", model.parameters(), 1e-3)
                r = find_lr(
                    model,
                    task.train,
                    loss_fn=task.loss_fn,
                    optimizer=opt,
                    batch_size=task.batch_size,
                    seed=seed,
                    val_data=_mode_val(task, mode, seed),
                    trial_steps=n,
                )
                assert r.trials is not None
                lr_min = float(r.lrs[int(np.argmin(r.fitted))])
                assert np.allclose(np.sort(_cands(lr_min)), r.trials.lrs)
                rec["lr_min"] = lr_min
                rec["lrs"] = list(r.trials.lrs)
                rec["start"] = r.trials.start_val_loss
                rec[f"val_{n}"] = list(r.trials.val_losses)
                rec[f"wall_{n}"] = time.perf_counter() - t0
            out[key] = rec
            path.write_text(json.dumps(out, indent=1))
            print(key, f"lr_min {rec['lr_min']:.3g}", {n: rec[f"wall_{n}"] for n in lengths})


def grids() -> dict[str, dict[float, float]]:
    """Per choose task: the grid's mean final metric per LR."""
    out: dict[str, dict[float, float]] = {}
    for path in GRIDS:
        for c in json.loads(path.read_text())["cells"]:
            out[c["task"].rsplit(":", 1)[-1]] = {float(k): v for k, v in c["grid"].items()}
    return out


def metric_at(grid: dict[float, float], lr: float) -> float:
    """The grid's metric at ``lr``, linear in log10(LR) between grid points (clamped)."""
    xs = np.log10(sorted(grid))
    ys = [grid[k] for k in sorted(grid)]
    return float(np.interp(np.log10(lr), xs, ys))


def rule(
    lrs: list[float], losses: list[float], divisor: float, tol: float
) -> tuple[float, tuple[float, float]]:
    """The best trial / divisor; interval: every trial within ``tol`` (relative) of the best
    validation loss, divided by ``divisor``, widened by one trial step on each side."""
    lr = np.asarray(lrs)
    v = np.where(np.isfinite(losses), losses, np.inf)
    b = int(np.argmin(v))
    step = float(lr[1] / lr[0])
    near = lr[v <= v[b] + tol * abs(v[b])]
    low, high = float(near.min()) / step, float(near.max()) * step
    return float(lr[b]) / divisor, (low / divisor, high / divisor)


def analyse(paths: list[Path]) -> None:
    data: dict[str, Any] = {}
    for p in paths:
        data.update(json.loads(p.read_text()))
    g = grids()
    tasks = [t for t in SEEN if any(k.startswith(f"{t}|") for k in data)]
    print("grid best per task:", {t: max(g[t], key=g[t].get) for t in tasks})
    for n in [n for n in LENGTHS if any(f"val_{n}" in r for r in data.values())]:
        for divisor in (1.0, 10**0.25, 10**0.5, 10**0.75, 10.0):
            for tol in (0.0, 0.01, 0.02, 0.05):
                cells, runs, holds, widths = [], [], [], []
                for t in tasks:
                    best_lr = max(g[t], key=g[t].get)
                    best = g[t][best_lr]
                    regs = []
                    for s in SEEDS:
                        rec = data.get(f"{t}|{s}")
                        if rec is None or f"val_{n}" not in rec:
                            continue
                        sug, (lo, hi) = rule(rec["lrs"], rec[f"val_{n}"], divisor, tol)
                        regs.append(100 * (best - metric_at(g[t], sug)))
                        holds.append(lo <= best_lr * 1.0001 and best_lr <= hi * 1.0001)
                        widths.append(np.log10(hi / lo))
                    if regs:
                        cells.append(statistics.fmean(regs))
                        runs.append(max(regs))
                if not cells:
                    continue
                print(
                    f"T={n:<3} div={divisor:5.2f} tol={tol:.2f}  median {statistics.median(cells):5.2f}"
                    f"  worst cell {max(cells):5.2f}  worst run {max(runs):5.2f}"
                    f"  cells {' '.join(f'{c:5.2f}' for c in cells)}"
                    f"  holds {100 * statistics.fmean(holds):3.0f}%  width {statistics.median(widths):.2f} dec"
                )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--collect", nargs="*", default=None, help="choose tasks (default: all)")
    ap.add_argument("--analyse", action="store_true")
    ap.add_argument(
        "--out", nargs="+", type=Path, default=[OUT], help="trial files (collect: first)"
    )
    ap.add_argument(
        "--mode",
        default="val",
        help="val_data of the trials: val (the task's split), noval (none: the library holds out "
        "training samples), capN (a seeded subset of N validation samples)",
    )
    ap.add_argument("--lengths", nargs="+", type=int, default=list(LENGTHS))
    ap.add_argument(
        "--cands", nargs=2, type=int, default=[1, 6], metavar=("FIRST_K", "COUNT"),
        help="trial LRs: the fitted minimum * 10**(-k/2), k = FIRST_K .. FIRST_K+COUNT-1",
    )  # fmt: skip
    args = ap.parse_args()
    set_cands(args.cands)
    if args.collect is not None:
        bad = [t for t in args.collect if t not in SEEN]
        if bad:
            raise SystemExit(f"not a seen task: {bad} (seen: {SEEN})")
        collect(args.collect or list(CHOOSE), args.out[0], args.mode, tuple(args.lengths))
    if args.analyse:
        analyse(args.out)


if __name__ == "__main__":
    main()
