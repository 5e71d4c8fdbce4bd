"""Evidence for lrkit.scaling and lrkit.optim.

1. Width transfer (μP): Adam on an MLP family (64 → 1024 hidden units) on scikit-learn digits;
   the best LR per width with and without ``lrkit.scaling.width_groups``.
2. Batch-size rules: mnist1d-mlp at batch 32 → 512 with the LR from the linear rule (with
   Goyal et al.'s warmup), the square-root rule, the unscaled LR, and the LR re-tuned on a grid,
   for Adam and SGD with momentum.
3. Hypergradient descent: HDSGD / HDAdam (additive and multiplicative rule, default hyper-LRs)
   started 100× below and 100× above the grid-tuned LR on digits-mlp and mnist1d-mlp, vs their
   plain counterparts at the tuned and at the wrong LR.

    python benchmarks/scaling.py            # full (a few minutes on 2 CPU cores)
    python benchmarks/scaling.py --quick    # one seed, fewer points
    python benchmarks/scaling.py --only hypergradient   # one part; the others kept in the JSON

Prints the figures and writes benchmarks/results/scaling.json.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from lrkit.optim import make
from lrkit.scaling import batch_size, width_groups
from lrkit.tasks import get_task, train


# -- 1. width transfer -----------------------------------------------------------------------
def _mlp(w: int, seed: int) -> nn.Sequential:
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(64, w), nn.ReLU(), nn.Linear(w, w), nn.ReLU(), nn.Linear(w, 10))
    nn.init.zeros_(model[4].weight)  # μP's readout init, in both arms
    return model


def _width_loss(w: int, lr: float, groups: bool, seed: int, x: Any, y: Any, steps: int) -> float:
    model = _mlp(w, seed)
    params = width_groups(model, _mlp(64, seed), lr, "adam") if groups else model.parameters()
    opt = torch.optim.Adam(params, lr=lr)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.randint(0, len(x), (64,), generator=gen)
        loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        value = float(nn.functional.cross_entropy(model(x), y))
    return value if math.isfinite(value) else math.inf


def width_transfer(quick: bool) -> dict[str, Any]:
    from lrkit.tasks._data import digits_arrays

    x_np, y_np, _, _ = digits_arrays()
    x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)
    widths = [64, 1024] if quick else [64, 256, 1024]
    seeds = [0] if quick else [0, 1, 2]
    grid = [2.0**k for k in range(-11, -2)]
    steps = 30
    rows = []
    for w in widths:
        for groups in [False, True] if w != widths[0] else [False]:
            # median training loss over seeds at each LR, then the best LR
            losses = [
                statistics.median(_width_loss(w, lr, groups, s, x, y, steps) for s in seeds)
                for lr in grid
            ]
            best = int(np.argmin(losses))
            rows.append(
                {
                    "width": w,
                    "width_groups": groups,
                    "best_lr": grid[best],
                    "best_index": best,
                    "losses": [v if math.isfinite(v) else None for v in losses],
                }
            )
    base = rows[0]["best_index"]
    for r in rows:
        r["drift_octaves"] = r["best_index"] - base
        finite = [v if v is not None else math.inf for v in r["losses"]]
        r["loss_at_base_best_lr"] = r["losses"][base]
        r["loss_ratio_at_base_best_lr"] = finite[base] / min(finite)
    return {"grid": grid, "seeds": seeds, "steps": steps, "rows": rows}


# -- 2. batch-size rules ---------------------------------------------------------------------
def batch_rules(quick: bool) -> dict[str, Any]:
    task = get_task("mnist1d-mlp")
    epochs = 20
    base_batch = 32
    batches = [32, 128, 512] if quick else [32, 64, 128, 256, 512]
    seeds = [0] if quick else [0, 1]
    grids = {
        "adam": [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2],
        "sgd_momentum": [1e-3, 3e-3, 1e-2, 3e-2, 0.1, 0.3],
    }
    n = len(task.train[0])

    def acc(lr: float, opt: str, bs: int, schedule: Any = None) -> float:
        return statistics.median(
            train(
                task, lr, schedule, seed=s, optimizer=opt, epochs=epochs, batch_size=bs
            ).final_metric
            for s in seeds
        )

    out: dict[str, Any] = {
        "task": task.name,
        "epochs": epochs,
        "base_batch": base_batch,
        "seeds": seeds,
    }
    for opt, grid in grids.items():
        tuned = {bs: [acc(lr, opt, bs) for lr in grid] for bs in batches}
        base_i = int(np.argmax(tuned[base_batch]))
        base_lr = grid[base_i]
        rows = []
        for bs in batches:
            lin = batch_size(base_lr, base_batch, bs, "linear", dataset_size=n)
            sq = batch_size(base_lr, base_batch, bs, "sqrt")
            best = int(np.argmax(tuned[bs]))
            rows.append(
                {
                    "batch": bs,
                    "unscaled": {"lr": base_lr, "acc": tuned[bs][base_i]},
                    "linear": {"lr": lin.lr, "acc": acc(lin.lr, opt, bs, lin.schedule())},
                    "sqrt": {"lr": sq.lr, "acc": acc(sq.lr, opt, bs)},
                    "retuned": {"lr": grid[best], "acc": tuned[bs][best]},
                }
            )
        out[opt] = {"grid": grid, "base_lr": base_lr, "rows": rows}
    return out


# -- 3. hypergradient recovery ---------------------------------------------------------------
def _run_task(
    task: Any, name: str, lr: float, seed: int, epochs: int, **kw: Any
) -> tuple[float, list[float]]:
    (x, y), (xv, yv) = task.train, task.val
    torch.manual_seed(seed)
    model = task.make_model()
    opt = make(name, model.parameters(), lr, **kw)
    gen = torch.Generator().manual_seed(seed)
    lrs = []
    for _ in range(epochs):
        perm = torch.randperm(len(x), generator=gen)
        for i in range(0, len(x), task.batch_size):
            idx = perm[i : i + task.batch_size]
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        lrs.append(float(opt.param_groups[0]["lr"]))
    with torch.no_grad():
        accuracy = float((model(xv).argmax(1) == yv).float().mean())
    return accuracy, lrs


HD_TASKS = ("digits-mlp", "mnist1d-mlp")
HD_GRID = [10.0**e for e in np.arange(-5.0, 1.01, 0.5)]  # half-decade, 1e-5 .. 10


def hypergradient(quick: bool) -> dict[str, Any]:
    """Each (task, optimizer): tune the plain optimizer on a half-decade grid, then start its
    hypergradient version 100x below and 100x above the tuned LR, with the library's default
    hyper-LRs for both rules (additive: the paper's 1e-3 / 1e-7; multiplicative: 0.05)."""
    seeds = [0] if quick else [0, 1, 2]
    tasks = HD_TASKS[:1] if quick else HD_TASKS
    out: list[dict[str, Any]] = []
    for task_name in tasks:
        task = get_task(task_name)
        epochs = 5 if quick else task.epochs
        for opt in ("sgd", "adam"):
            grid = HD_GRID[::2] if quick else HD_GRID
            scores = {}
            for lr in grid:
                accs = [_run_task(task, opt, lr, s, epochs)[0] for s in seeds]
                scores[lr] = statistics.median(accs)
            tuned = max(scores, key=lambda k: scores[k])
            for factor in (0.01, 100.0):
                lr0 = tuned * factor
                row: dict[str, Any] = {
                    "task": task_name,
                    "optimizer": opt,
                    "epochs": epochs,
                    "tuned_lr": tuned,
                    "tuned_acc": scores[tuned],
                    "factor": factor,
                    "initial_lr": lr0,
                    "grid": {f"{k:.3g}": v for k, v in scores.items()},
                }
                runs = [_run_task(task, opt, lr0, s, epochs) for s in seeds]
                row["plain_acc"] = statistics.median(r[0] for r in runs)
                for rule in ("additive", "multiplicative"):
                    runs = [_run_task(task, "hd" + opt, lr0, s, epochs, rule=rule) for s in seeds]
                    row[rule] = {
                        "acc": statistics.median(r[0] for r in runs),
                        "lr_per_epoch": runs[0][1],
                    }
                # share of the gap between the plain run at the wrong LR and the tuned one
                # that the hypergradient version closes
                gap = row["tuned_acc"] - row["plain_acc"]
                for rule in ("additive", "multiplicative"):
                    got = row[rule]["acc"] - row["plain_acc"]
                    row[rule]["gap_closed"] = got / gap if gap > 0.01 else None
                out.append(row)
                print(
                    f"   {task_name:11s} {opt:4s} tuned {tuned:.2g} ({scores[tuned]:.3f}); "
                    f"x{factor:g}: plain {row['plain_acc']:.3f}, HD additive "
                    f"{row['additive']['acc']:.3f}, multiplicative "
                    f"{row['multiplicative']['acc']:.3f} (lr -> "
                    f"{row['multiplicative']['lr_per_epoch'][-1]:.2g})",
                    flush=True,
                )
    return {"seeds": seeds, "rows": out}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one seed, fewer points")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "scaling.json"))
    parser.add_argument(
        "--only",
        choices=("width", "batch", "hypergradient"),
        help="run one part; the other parts' results already in --out are kept",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)  # small models: threads only add contention on a shared machine
    t0 = time.perf_counter()
    result: dict[str, Any] = {
        "command": "python " + " ".join(sys.argv),
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}, torch {torch.__version__}, 1 thread",
    }

    if args.only and Path(args.out).exists():
        old = json.loads(Path(args.out).read_text())
        result.update(
            {k: old[k] for k in ("width_transfer", "batch_rules", "hypergradient") if k in old}
        )
    if args.only in (None, "width"):
        w = width_transfer(args.quick)
        result["width_transfer"] = w
        print(
            f"1. width transfer (digits, Adam, {w['steps']} updates, median of {len(w['seeds'])} seeds)"
        )
        for r in w["rows"]:
            print(
                f"   width {r['width']:5d} groups={r['width_groups']!s:5s} best lr {r['best_lr']:.2e}"
                f"  drift {r['drift_octaves']:+d} octaves  loss at base-best lr / best"
                f" = {r['loss_ratio_at_base_best_lr']:.2f}"
            )

    if args.only in (None, "batch"):
        b = batch_rules(args.quick)
        result["batch_rules"] = b
        print(
            f"2. batch-size rules ({b['task']}, {b['epochs']} epochs, base batch {b['base_batch']})"
        )
        for opt in ("adam", "sgd_momentum"):
            print(
                f"   {opt} (base lr {b[opt]['base_lr']:g})   batch: unscaled / linear / sqrt / re-tuned"
            )
            for r in b[opt]["rows"]:
                cells = "  ".join(
                    f"{r[k]['acc']:.3f}@{r[k]['lr']:.2g}"
                    for k in ("unscaled", "linear", "sqrt", "retuned")
                )
                print(f"     {r['batch']:4d}: {cells}")

    if args.only in (None, "hypergradient"):
        print("3. hypergradient recovery (median of seeds; accuracy on the validation set)")
        result["hypergradient"] = hypergradient(args.quick)
    result["wall_time_s"] = round(time.perf_counter() - t0, 1)
    print(f"total {result['wall_time_s']} s")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1, default=float) + "\n")
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
