"""``run_study``: the phases in order, then the analysis, the wording and the result."""

from __future__ import annotations

import math
import platform
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lrkit._progress import ProgressBar
from lrkit._validate import check_int
from lrkit.errors import ConfigError
from lrkit.study._analysis import Analysis, analyse, mark_chance, summarise
from lrkit.study._budget import SCHEDULES, Budget, get_budget
from lrkit.study._phases import (
    diagnose_runs,
    final_runs,
    pbt_run,
    range_tests,
    sensitivity_curves,
)
from lrkit.study._result import ConfigSummary, StudyResult, SweepCurve
from lrkit.study._schedules import check_schedules
from lrkit.study._train import sweep_engine_for
from lrkit.study._wording import pbt_sentence, recommend

if TYPE_CHECKING:
    from lrkit.pbt import PBTResult
    from lrkit.tasks import Task

__all__ = ["MNIST1D_REFERENCE", "run_study"]

#: Test accuracies reported by the MNIST-1D paper (Greydanus & Kobak, ICML 2024).
MNIST1D_REFERENCE: dict[str, float] = {"logistic": 0.32, "mlp": 0.68, "cnn": 0.94, "gru": 0.91}


def run_study(
    task: str | Task = "mnist1d-cnn",
    *,
    budget: str | Budget = "standard",
    optimizers: Sequence[str] | None = None,
    schedules: Sequence[str] | None = None,
    seeds: int | None = None,
    epochs: int | None = None,
    out: str | Path | None = None,
    progress: bool = True,
    threads: int | None = 1,
) -> StudyResult:
    """How much do the learning rate and its schedule matter for ``task``? Measure it.

    For each optimizer: an LR range test (:func:`lrkit.finder.find_lr`) centres a log grid;
    for each schedule, one training per grid LR gives the final validation metric against
    the LR (the sensitivity curve; vectorised with :func:`lrkit.sweep.sweep` where its
    batched kernels fit the model); each schedule's best LR is then retrained with fresh
    seeds (not the seed that picked it), every run is diagnosed by :func:`lrkit.diagnose`,
    and the configurations are compared with Welch tests against the best.

    Args:
        task: a built-in task name, ``"path/to/file.py:factory"`` or a :class:`lrkit.tasks.Task`.
        budget: ``"quick"``, ``"standard"``, ``"thorough"`` or a :class:`Budget`.
        optimizers: optimizer names (default: the budget's, or the task's own optimizer).
        schedules: a subset of :data:`lrkit.study.SCHEDULES` (default: all).
        seeds: final trainings per configuration (default: the budget's).
        epochs: epochs per training run (default: the budget's).
        out: when given, ``report.html`` and ``results.json`` are written there.
        progress: show a progress bar with the time left on stderr.
        threads: torch intra-op threads during the study (restored afterwards; ``None``
            leaves torch's setting). The built-in models are tiny: on a 2-core CPU shared
            with other jobs one thread trained mnist1d-cnn 7-20x faster than two.
    """
    import torch

    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(check_int("run_study", "threads", threads))
    try:
        return _run(task, budget, optimizers, schedules, seeds, epochs, out, progress)
    finally:
        torch.set_num_threads(before)


def _optimizers(optimizers: Sequence[str] | None, b: Budget, task: Task) -> tuple[str, ...]:
    from lrkit.optim._registry import OPTIMIZERS

    opts = tuple(optimizers) if optimizers else (b.optimizers or (task.optimizer,))
    opts = tuple(dict.fromkeys(o.lower().replace("-", "_") for o in opts))
    bad = [o for o in opts if o not in OPTIMIZERS]
    if bad:
        raise ConfigError(
            f"optimizers must be among {', '.join(OPTIMIZERS)}, but got optimizers={','.join(bad)!r}"
        )
    return opts


def _run(
    task: str | Task,
    budget: str | Budget,
    optimizers: Sequence[str] | None,
    schedules: Sequence[str] | None,
    seeds: int | None,
    epochs: int | None,
    out: str | Path | None,
    progress: bool,
) -> StudyResult:
    from lrkit.tasks import get_task

    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    b = get_budget(budget)
    the_task = get_task(task)
    opts = _optimizers(optimizers, b, the_task)
    scheds = check_schedules(tuple(schedules) if schedules else SCHEDULES)
    n_seeds = check_int("run_study", "seeds", b.seeds if seeds is None else seeds)
    n_epochs = check_int("run_study", "epochs", b.epochs if epochs is None else epochs)
    timings["setup"] = time.perf_counter() - t_start

    notes: list[str] = []
    engine = sweep_engine_for(the_task)
    if engine == "sequential":
        notes.append(
            "Sensitivity curves were trained one LR after the other with lrkit.tasks.train: "
            "lrkit.sweep's batched kernels do not fit this model, and torch.func.vmap over "
            "convolutions was measured slower than sequential training on a CPU."
        )
    if "plateau" in scheds:
        notes.append(
            "Plateau runs train with lrkit.tasks.iter_train (the same loop as every other run) "
            "and an lrkit.control.ReduceOnPlateau controller fed the validation loss after each "
            "epoch; plateau sensitivity curves are always trained sequentially."
        )
    steps = n_epochs * the_task.steps_per_epoch
    seed_list = tuple(range(1, n_seeds + 1))  # fresh seeds: seed 0 picked the LR
    total = len(opts) * (b.finder_steps + len(scheds) * steps * (b.grid + n_seeds))
    total += 2 * b.pbt * steps  # PBT and its equal-cost constant grid, one vectorised run
    with ProgressBar("study", total, enabled=progress, transient=False) as bar:
        t = time.perf_counter()
        finder, grids, more = range_tests(the_task, opts, b.finder_steps, b.span, b.grid, bar)
        notes += more
        timings["finder"] = time.perf_counter() - t

        t = time.perf_counter()
        curves, more = sensitivity_curves(the_task, opts, scheds, grids, n_epochs, engine, bar)
        notes += more
        timings["sensitivity"] = time.perf_counter() - t

        t = time.perf_counter()
        runs, more = final_runs(the_task, curves, seed_list, n_epochs, bar)
        notes += more
        timings["finals"] = time.perf_counter() - t

        pbt: PBTResult | None = None
        if b.pbt:
            t = time.perf_counter()
            pbt, more = pbt_run(the_task, opts[0], grids[opts[0]], n_epochs, b.pbt, bar)
            notes += more
            timings["pbt"] = time.perf_counter() - t

    t = time.perf_counter()
    runs = diagnose_runs(runs)
    timings["doctor"] = time.perf_counter() - t
    runs, curves = mark_chance(the_task, runs, curves)

    analysis = analyse(the_task, runs)
    summaries, statements = summarise(analysis, the_task, opts, scheds, curves)
    rec = recommend(
        summaries,
        analysis.best_key,
        finder,
        the_task.metric_name,
        analysis.scale,
        n_seeds,
        steps,
        n_epochs,
    )
    result = StudyResult(
        task=the_task.describe(),
        budget=b.to_dict(),
        optimizers=opts,
        schedules=scheds,
        seeds=seed_list,
        epochs=n_epochs,
        finder=finder,
        curves=tuple(curves),
        runs=tuple(runs),
        summaries=tuple(summaries),
        recommendation=rec,
        target=analysis.target,
        target_rule=analysis.target_rule,
        metric_name=the_task.metric_name,
        higher_is_better=the_task.higher_is_better,
        accuracy_like=analysis.accuracy_like,
        val_size=len(the_task.val[0]),
        val_se=analysis.val_se,
        statements=tuple(statements),
        reference=_reference(the_task, b, analysis),
        notes=tuple(dict.fromkeys(notes)),
        timings=timings,
        environment=_environment(curves),
        pbt=_pbt_section(pbt, summaries, opts[0], analysis.accuracy_like, n_epochs),
    )
    timings["total"] = time.perf_counter() - t_start
    if out is not None:
        from lrkit.study._report import write_report

        t = time.perf_counter()
        write_report(result, out)
        timings["report"] = time.perf_counter() - t
    return result


def _pbt_section(
    r: PBTResult | None,
    summaries: list[ConfigSummary],
    optimizer: str,
    accuracy_like: bool,
    epochs: int,
) -> dict[str, Any] | None:
    """results.json's ``pbt``: the comparison with the equal-cost grid and its sentence.

    The gap is set against the seed SD of the final runs of ``optimizer``/constant (the
    configuration the constant grid tunes), else of the best configuration.
    """
    if r is None:
        return None
    ok = [s for s in summaries if len(s.metrics) > 1 and math.isfinite(s.std)]
    same = [s for s in ok if s.optimizer == optimizer and s.schedule == "constant"]
    best = [s for s in ok if s.verdict == "best"]
    ref = next(iter(same or best), None)
    sd = ref.std if ref is not None else None
    label = ref.label if ref is not None else ""
    lr0 = r.baseline_lrs if r.baseline_lrs is not None else r.lrs[:, 0]
    base = r.baseline_best_metric
    return {
        "sentence": pbt_sentence(r, accuracy_like=accuracy_like, seed_sd=sd, sd_label=label),
        "optimizer": optimizer,
        "population": r.population,
        "epochs": epochs,
        "seed": r.seed,
        "low": float(np.min(lr0)),
        "high": float(np.max(lr0)),
        "best_metric": r.best_metric,
        "baseline_best_metric": base,
        "baseline_best_lr": r.baseline_best_lr,
        "beat_baseline": r.beat_baseline,
        "gap": abs(r.best_metric - base) if base is not None else None,
        "seed_sd": sd,
        "seed_sd_of": label or None,
        "schedule_text": r.schedule_text,
        "baseline_lrs": [float(v) for v in lr0],
        "baseline_metrics": (
            [float(v) for v in r.baseline_metrics] if r.baseline_metrics is not None else None
        ),
        "engine": r.engine,
        "wall_time_s": r.wall_time_s,
        "notes": list(r.notes),
    }


def _reference(task: Task, b: Budget, a: Analysis) -> dict[str, Any] | None:
    if not task.name.startswith("mnist1d-"):
        return None
    model = task.name.split("-", 1)[1]
    best = a.best()
    return {
        "source": "Greydanus & Kobak, Scaling down deep learning with MNIST-1D (ICML 2024)",
        "paper_test_accuracy": dict(MNIST1D_REFERENCE),
        "model": model,
        "paper_value": MNIST1D_REFERENCE.get(model),
        "lrkit_best_mean": best.mean if best else None,
        "lrkit_best_std": best.std if best else None,
        "comparable": b.name == "thorough",
    }


def _environment(curves: list[SweepCurve]) -> dict[str, Any]:
    import torch

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "machine": platform.machine(),
        "platform": platform.platform(terse=True),
        "sensitivity_engine": sorted({c.engine for c in curves}),
    }
