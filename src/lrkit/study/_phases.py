"""The study's phases: range test, sensitivity sweep, final trainings, PBT, doctor.

Each phase returns what it measured and its notes (what went wrong, what was done instead);
the runner collects the notes. Work is counted on one progress bar in optimizer updates.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import numpy as np

from lrkit._progress import ProgressBar
from lrkit.errors import LRKitError
from lrkit.study._result import Run, SweepCurve
from lrkit.study._train import run_one, sensitivity

if TYPE_CHECKING:
    from lrkit.pbt import PBTResult
    from lrkit.tasks import Task

__all__ = ["diagnose_runs", "final_runs", "pbt_run", "range_tests", "sensitivity_curves"]

#: Optimizers :func:`lrkit.pbt` trains (its vectorised population driver's).
PBT_OPTIMIZERS = ("sgd", "sgd_momentum", "adam", "adamw")

# Fallback grid centres when the range test cannot suggest an LR (common defaults).
_DEFAULT_LR = {"sgd": 0.1, "sgd_momentum": 0.01, "adam": 1e-3, "adamw": 1e-3}


def _grid(centre: float, span: float, n: int) -> np.ndarray:
    if n == 1:
        return np.array([float(f"{centre:.3g}")])
    c = math.log10(centre)
    return np.array([float(f"{v:.3g}") for v in np.logspace(c - span, c + span, n)])


def range_tests(
    task: Task, opts: tuple[str, ...], steps: int, span: float, n_grid: int, bar: ProgressBar
) -> tuple[dict[str, dict[str, Any]], dict[str, np.ndarray], list[str]]:
    """The range test per optimizer, and the LR grid centred on its interval."""
    finder: dict[str, dict[str, Any]] = {}
    grids: dict[str, np.ndarray] = {}
    notes: list[str] = []
    for opt in opts:
        bar.update(description=f"range test · {opt}")
        finder[opt], centre, more = _range_test(task, opt, steps)
        notes += more
        bar.advance(steps)
        grids[opt] = _grid(centre, span, n_grid)
        finder[opt]["grid"] = grids[opt].tolist()
    return finder, grids, notes


def _range_test(task: Task, optimizer: str, steps: int) -> tuple[dict[str, Any], float, list[str]]:
    """Run the finder; return its result dict, the grid centre and notes."""
    fallback = task.lr if optimizer == task.optimizer else _DEFAULT_LR.get(optimizer, 1e-3)
    try:
        from lrkit.finder import find_lr_on_task

        r = find_lr_on_task(
            task,
            optimizer,
            lr=fallback,
            seed=0,
            quiet=True,  # the notes are kept as study notes below
            steps=steps,
            start_lr=1e-6,
            end_lr=10.0,
        )
    except (LRKitError, ImportError, RuntimeError) as exc:
        note = (
            f"The range test for {optimizer} failed ({type(exc).__name__}: {exc}); its LR grid "
            f"is centred on {fallback:g} instead."
        )
        return {"error": f"{type(exc).__name__}: {exc}", "centre": fallback}, fallback, [note]
    lo, hi = r.interval
    centre = math.sqrt(lo * hi) if 0 < lo <= hi and math.isfinite(hi) else r.suggestion
    d = r.to_dict()
    d["centre"] = centre
    return d, centre, [f"Range test ({optimizer}): {note}" for note in r.notes]


def sensitivity_curves(
    task: Task,
    opts: tuple[str, ...],
    scheds: tuple[str, ...],
    grids: dict[str, np.ndarray],
    epochs: int,
    engine: str,
    bar: ProgressBar,
) -> tuple[list[SweepCurve], list[str]]:
    """One sensitivity curve per (optimizer, schedule)."""
    curves: list[SweepCurve] = []
    notes: list[str] = []
    for opt in opts:
        for sched in scheds:
            bar.update(description=f"LR sweep · {opt} · {sched}")
            curve, _, more = sensitivity(task, opt, sched, grids[opt], epochs, engine, bar)
            curves.append(curve)
            notes += more
    return curves, notes


def final_runs(
    task: Task, curves: list[SweepCurve], seeds: tuple[int, ...], epochs: int, bar: ProgressBar
) -> tuple[list[Run], list[str]]:
    """Each curve's best LR retrained with fresh seeds."""
    runs: list[Run] = []
    notes: list[str] = []
    for curve in curves:
        if curve.best_lr is None:
            notes.append(
                f"{curve.optimizer}/{curve.schedule}: every LR of the grid diverged; "
                "no final trainings."
            )
            bar.advance(len(seeds) * epochs * task.steps_per_epoch)
            continue
        for seed in seeds:
            bar.update(description=f"final · {curve.optimizer} · {curve.schedule} · seed {seed}")
            runs.append(
                run_one(task, curve.optimizer, curve.schedule, curve.best_lr, seed, epochs, bar)
            )
    plateau = [r for r in runs if r.schedule == "plateau"]
    if plateau and all(len(set(r.lr_at_epoch)) <= 1 for r in plateau):
        notes.append(
            "The plateau rule never cut the LR in the final runs (the validation loss kept "
            f"improving over {epochs} epochs): plateau equals constant here."
        )
    return runs, notes


def pbt_run(
    task: Task, optimizer: str, grid: np.ndarray, epochs: int, population: int, bar: ProgressBar
) -> tuple[PBTResult | None, list[str]]:
    """:func:`lrkit.pbt` over the span of the sensitivity grid (seed 0, the task's data and
    metric), with the equal-cost constant-LR grid (``compare=True``) in the same run."""
    if optimizer not in PBT_OPTIMIZERS:
        bar.advance(2 * population * epochs * task.steps_per_epoch)
        return None, [f"No PBT phase: lrkit.pbt does not train {optimizer}."]
    import torch

    from lrkit.pbt import pbt

    bar.update(description=f"PBT · {optimizer} · {population} members")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = task.make_model()
    last = [0]

    def tick(done: int, _total: int, _best: float) -> None:
        bar.advance(2 * population * (done - last[0]))  # PBT and its constant grid
        last[0] = done

    try:
        r = pbt(model, task.train, loss_fn=task.loss_fn, population=population,
                low=float(np.min(grid)), high=float(np.max(grid)), optimizer=optimizer,
                epochs=epochs, compare=True, val_data=task.val, metric=task.metric,
                maximize=task.higher_is_better, batch_size=task.batch_size, seed=0,
                progress=tick)  # fmt: skip
    except (LRKitError, ImportError, RuntimeError, ValueError) as exc:
        r = None
        notes = [f"The PBT phase failed ({type(exc).__name__}: {exc}); no PBT comparison."]
    else:
        notes = []
    bar.advance(2 * population * (epochs * task.steps_per_epoch - last[0]))
    return r, notes


def diagnose_runs(runs: list[Run]) -> list[Run]:
    """Every run with the doctor's verdict on its per-epoch log."""
    return [_with_doctor(r) for r in runs]


def _with_doctor(run: Run) -> Run:
    try:
        from lrkit.doctor import diagnose

        d = diagnose(
            {
                "epoch": list(run.epoch),
                "train_loss": list(run.train_loss),
                "val_loss": list(run.val_loss),
                "lr": list(run.lr_at_epoch),
            }
        )
        doc: dict[str, Any] = {
            "verdict": d.verdict,
            "prescription": d.prescription.text,
            "findings": [f.message for f in d.findings],
        }
    except Exception as exc:  # the doctor must not sink a finished study; report why
        doc = {"verdict": "unavailable", "error": f"{type(exc).__name__}: {exc}"}
    return replace(run, doctor=doc)
