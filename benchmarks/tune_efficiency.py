"""Compute each LR-search strategy needs to get within reach of the grid-best LR.

For every task and seed: a reference log grid (3 points per decade over [1e-6, 1]) gives the
grid-best validation accuracy; each strategy (lrkit's six, and plain Optuna TPE with default
settings over the same log range) then runs until one complete trial scores within 0.5 accuracy
points of it. Its compute is counted in full-training equivalents: epochs trained / recipe
epochs summed over trials (pruned trials count partially), plus the range test for ``auto``
(its updates / updates of one training run). Reported: the median over seeds (a strategy that
never gets there within the budget counts as the budget, shown as ``>``).

    python benchmarks/tune_efficiency.py --quick     # digits-mlp, 3-epoch recipe, 5 seeds
    python benchmarks/tune_efficiency.py             # digits-mlp and mnist1d-mlp, full recipe
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
import optuna

from lrkit.tasks import get_task
from lrkit.tune import task_finder, task_objective, tune

LOW, HIGH = 1e-6, 1.0
STRATS = ("auto", "bayes", "coarse-to-fine", "hyperband", "random", "grid", "optuna-tpe")


def run(
    task_name: str,
    seeds: list[int],
    epochs: int,
    budget: int,
    tol: float,
    grid_per_decade: int,
    strats: tuple[str, ...] = STRATS,
) -> dict[str, Any]:
    base = get_task(task_name)
    from dataclasses import replace

    task = replace(base, epochs=epochs)  # the recipe: cost 1 = `epochs` epochs
    cache: dict[tuple[float, int], float] = {}
    out: dict[str, Any] = {"task": task_name, "recipe_epochs": epochs, "seeds": {}}
    for seed in seeds:
        obj = task_objective(task, seed=seed)

        def full(lr: float, s: int = seed, o: Any = obj) -> float:
            key = (round(math.log10(lr), 9), s)
            if key not in cache:
                fake = optuna.trial.FixedTrial({"lr": lr})
                cache[key] = o(lr, fake)
            return cache[key]

        n_grid = round(math.log10(HIGH / LOW)) * grid_per_decade + 1
        grid = [full(float(v)) for v in np.geomspace(LOW, HIGH, n_grid)]
        target = max(grid) - tol
        row: dict[str, Any] = {"grid_best": max(grid), "target": target}
        for strat in strats:
            t0 = time.perf_counter()
            row[strat] = _cost_to_target(strat, task, obj, seed, target, budget)
            row[strat]["wall_s"] = round(time.perf_counter() - t0, 1)
            print(
                f"{task_name} seed={seed} {strat:15s} cost={row[strat]['cost']:.2f} "
                f"reached={row[strat]['reached']} best={row[strat]['best']:.4f} "
                f"target={target:.4f}",
                flush=True,
            )
        out["seeds"][seed] = row
    out["median_cost"] = {
        s: statistics.median(out["seeds"][k][s]["cost"] for k in seeds) for s in strats
    }
    out["reached"] = {s: sum(out["seeds"][k][s]["reached"] for k in seeds) for s in strats}
    return out


def _cost_to_target(
    strat: str, task: Any, obj: Any, seed: int, target: float, budget: int
) -> dict[str, Any]:
    """Run a strategy; count compute until the first complete trial at or above ``target``."""
    state = {"spent": 0.0, "hit": None, "best": -math.inf}

    def tracked(lr: float, trial: Any) -> float:
        if state["hit"] is not None:  # target reached: stop spending (cost 0 from here on)
            raise optuna.TrialPruned("target reached")
        try:
            value = obj(lr, trial)
        finally:
            state["spent"] += (
                float(trial.user_attrs.get("lrkit:cost", 0.0))
                if hasattr(trial, "user_attrs")
                else 1.0
            )
        state["best"] = max(state["best"], value)
        if value >= target:
            state["hit"] = state["spent"]
        return value

    finder_cost = 0.0
    if strat == "optuna-tpe":
        optuna.logging.set_verbosity(optuna.logging.ERROR)
        study = optuna.create_study(
            direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed)
        )

        def plain(trial: optuna.Trial) -> float:
            return tracked(trial.suggest_float("lr", LOW, HIGH, log=True), trial)

        study.optimize(plain, n_trials=budget)
    else:
        kw: dict[str, Any] = {}
        if strat == "auto":
            f = task_finder(task, seed=seed)
            finder_cost = float(f["cost"])
            state["spent"] += finder_cost
            kw["finder"] = f
        tune(
            tracked,
            strategy=strat,
            trials=budget,
            seed=seed,
            low=LOW,
            high=HIGH,
            direction="maximize",
            max_resource=task.epochs,
            **kw,
        )
    hit = state["hit"]
    return {
        "cost": float(hit) if hit is not None else float(state["spent"]),
        "reached": hit is not None,
        "best": state["best"],
        "finder_cost": finder_cost,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument(
        "--out", default=str(Path(__file__).parent / "results" / "tune_efficiency.json")
    )
    ap.add_argument(
        "--strategies",
        default=",".join(STRATS),
        help="comma-separated subset of " + ", ".join(STRATS),
    )
    ap.add_argument("--tasks", default=None, help="comma-separated task names")
    args = ap.parse_args()
    strats = tuple(args.strategies.split(","))
    unknown = [s for s in strats if s not in STRATS]
    if unknown:
        ap.error(f"unknown strategies {unknown}; choose from {', '.join(STRATS)}")
    if args.quick:
        tasks, epochs, budget, per_decade = ["digits-mlp"], 3, 10, 2
    else:
        tasks, epochs, budget, per_decade = ["digits-mlp", "mnist1d-mlp"], 20, 20, 3
    if args.tasks:
        tasks = args.tasks.split(",")
    results = {
        "command": "python " + " ".join(sys.argv),
        "machine": f"{platform.machine()} {platform.processor() or ''} {platform.system()}",
        "low": LOW,
        "high": HIGH,
        "budget_trials": budget,
        "tolerance_points": 0.5,
        "tasks": [
            run(t, list(range(args.seeds)), epochs, budget, 0.005, per_decade, strats)
            for t in tasks
        ],
    }
    print()
    print(f"{'task':12s} " + " ".join(f"{s:>14s}" for s in strats))
    for r in results["tasks"]:
        n = len(r["seeds"])
        print(
            f"{r['task']:12s} "
            + " ".join(f"{r['median_cost'][s]:>9.2f} ({r['reached'][s]}/{n})" for s in strats)
        )
        if {"auto", "optuna-tpe"} <= set(strats):
            ratio = r["median_cost"]["auto"] / max(r["median_cost"]["optuna-tpe"], 1e-12)
            r["auto_over_tpe"] = ratio
            print(f"  auto / default TPE compute = {ratio:.2f} (goal <= 0.33)")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(results, indent=2, default=float))
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
