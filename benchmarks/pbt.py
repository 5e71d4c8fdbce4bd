"""PBT vs a constant-LR sweep and a cosine sweep of the same cost, and the schedule replayed.

For each built-in task and seed, K = ``--population`` copies train for the task's recipe
(``--epochs`` to shorten) with Adam on LRs in [``--low``, ``--high``]:

* ``pbt``: ``lrkit.pbt`` (interval = a tenth of the run, quantile 0.25, perturb 0.8/1.25);
* ``constant``: ``lrkit.sweep`` over K log-spaced constant LRs (same K x steps cost);
* ``cosine``: the same sweep with a cosine decay to 0 (same cost);
* ``replay``: one ordinary training with ``result.schedule`` from a *different* seed (new
  initial weights and batch order), i.e. does the discovered schedule transfer.

The task's validation set is split in two halves: PBT's selection and the sweeps' choice of
the best LR use the first half; every reported accuracy is on the second half, which no method
saw. Wall time: PBT vs K times the median of ``--seq-runs`` ordinary ``torch.optim`` trainings,
timed in the same process after a warm-up.

    python benchmarks/pbt.py            # writes benchmarks/results/pbt.json
    python benchmarks/pbt.py --quick    # fewer epochs, 3 seeds, small tasks only
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lrkit.pbt import pbt
from lrkit.schedules import cosine
from lrkit.sweep import sweep
from lrkit.sweep._data import BatchSource
from lrkit.tasks import get_task, make_optimizer


def _model(task: Any, seed: int) -> torch.nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return task.make_model()


def _acc(model: torch.nn.Module, task: Any, data: tuple[torch.Tensor, torch.Tensor]) -> float:
    model.eval()
    with torch.no_grad():
        return float(task.metric(model(data[0]), data[1]))


def _sweep_best(task: Any, seed: int, lrs: np.ndarray, epochs: int, sel: Any, rep: Any,
                schedule: Any = None) -> tuple[float, float]:  # fmt: skip
    """(best LR by the selection half, its accuracy on the report half)."""
    out = []
    for val in (sel, rep):  # the same deterministic training, scored on each half
        r = sweep(_model(task, seed), task.train, loss_fn=task.loss_fn, lrs=lrs,
                  optimizer="adam", epochs=epochs, schedule=schedule, val_data=val,
                  metric=task.metric, seed=seed, batch_size=task.batch_size)  # fmt: skip
        out.append(r.val_metric[:, -1] if r.val_metric is not None else np.full(len(lrs), np.nan))
    best = int(np.nanargmax(out[0]))
    return float(lrs[best]), float(out[1][best])


def _sequential(task: Any, seed: int, lr: float, steps: int) -> float:
    """Wall time of one ordinary torch.optim training of ``steps`` updates."""
    model = _model(task, seed)
    opt = make_optimizer("adam", model.parameters(), lr)
    batches = BatchSource(task.train, batch_size=task.batch_size, seed=seed, shuffle=True)
    t0 = time.perf_counter()
    done = 0
    for epoch in batches.epochs():
        for x, y in epoch:
            opt.zero_grad()
            task.loss_fn(model(x), y).backward()
            opt.step()
            done += 1
            if done == steps:
                return time.perf_counter() - t0
    raise AssertionError


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--tasks", default=None)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--population", type=int, default=8)
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--low", type=float, default=1e-4)
    ap.add_argument("--high", type=float, default=1e-1)
    ap.add_argument("--seq-runs", type=int, default=2)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "pbt.json"))
    args = ap.parse_args()
    names = (args.tasks or ("digits-mlp,mnist1d-mlp" if args.quick else
                            "digits-mlp,mnist1d-mlp,mnist1d-cnn")).split(",")  # fmt: skip
    k = args.population
    lrs = np.geomspace(args.low, args.high, k)
    torch.set_num_threads(1)
    rows = []
    for name in names:
        task = get_task(name)
        epochs = args.epochs or (max(2, task.epochs // 4) if args.quick else task.epochs)
        n_val = len(task.val[0]) // 2
        sel = (task.val[0][:n_val], task.val[1][:n_val])
        rep = (task.val[0][n_val:], task.val[1][n_val:])
        steps = epochs * -(-len(task.train[0]) // task.batch_size)
        _sequential(task, 0, 1e-3, 5)  # warm-up
        per_seed: dict[str, list[float]] = {m: [] for m in
                                            ("pbt", "constant", "cosine", "replay")}  # fmt: skip
        times: dict[str, list[float]] = {"pbt": [], "sequential": []}
        schedules = []
        for seed in range(args.seeds):
            t0 = time.perf_counter()
            r = pbt(_model(task, seed), task.train, loss_fn=task.loss_fn, population=k,
                    low=args.low, high=args.high, optimizer="adam", epochs=epochs,
                    val_data=sel, metric=task.metric, seed=seed, batch_size=task.batch_size)  # fmt: skip
            times["pbt"].append(time.perf_counter() - t0)
            winner = _model(task, seed)
            winner.load_state_dict(r.best_weights, strict=False)
            per_seed["pbt"].append(_acc(winner, task, rep))
            schedules.append(repr(r.schedule))
            per_seed["constant"].append(_sweep_best(task, seed, lrs, epochs, sel, rep)[1])
            shape = cosine(lr=1.0, steps=steps)
            per_seed["cosine"].append(_sweep_best(task, seed, lrs, epochs, sel, rep, shape)[1])
            s0 = float(r.schedule(0))
            rp = sweep(_model(task, seed + 100), task.train, loss_fn=task.loss_fn, lrs=[s0],
                       optimizer="adam", epochs=epochs, schedule=r.schedule, val_data=rep,
                       metric=task.metric, seed=seed + 100, batch_size=task.batch_size)  # fmt: skip
            assert rp.val_metric is not None
            per_seed["replay"].append(float(rp.val_metric[0, -1]))
            seq = [_sequential(task, seed, 1e-3, steps) for _ in range(args.seq_runs)]
            times["sequential"].append(k * statistics.median(seq))
        row: dict[str, Any] = {"task": name, "epochs": epochs, "steps": steps,
                               "population": k, "seeds": args.seeds}  # fmt: skip
        for m, v in per_seed.items():
            row[m] = {"mean": float(np.mean(v)), "std": float(np.std(v, ddof=1)), "values": v}
        row["wall_pbt_s"] = statistics.median(times["pbt"])
        row["wall_sequential_s"] = statistics.median(times["sequential"])
        row["speedup"] = row["wall_sequential_s"] / row["wall_pbt_s"]
        row["schedules"] = schedules
        rows.append(row)
        print(f"{name} ({epochs} epochs, K={k}, {args.seeds} seeds), report-half accuracy:")
        for m in per_seed:
            print(f"  {m:9s} {row[m]['mean']:.4f} ± {row[m]['std']:.4f}")
        print(f"  wall: pbt {row['wall_pbt_s']:.2f} s vs {k} sequential "
              f"{row['wall_sequential_s']:.2f} s (x{row['speedup']:.2f})")  # fmt: skip
    payload = {
        "command": "python benchmarks/pbt.py" + (" --quick" if args.quick else ""),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip()
        + f", torch {torch.__version__}, 1 thread",
        "rows": rows,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(payload, indent=1))
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
