"""``run_study``: finder, sensitivity sweep, final seeds, doctor, statistics — orchestration only."""

from __future__ import annotations

import math
import platform
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lrkit.errors import ConfigError, LRKitError
from lrkit.study._budget import SCHEDULES, Budget, get_budget
from lrkit.study._progress import StudyProgress
from lrkit.study._result import ConfigSummary, Recommendation, StudyResult
from lrkit.study._schedules import check_schedules
from lrkit.study._stats import basin, binomial_se, compare, holm, time_to_target
from lrkit.study._train import Run, SweepCurve, run_one, sensitivity, sweep_engine_for

if TYPE_CHECKING:
    from lrkit.tasks import Task

__all__ = ["MNIST1D_REFERENCE", "run_study"]

#: Test accuracies reported by the MNIST-1D paper (Greydanus & Kobak, ICML 2024).
MNIST1D_REFERENCE: dict[str, float] = {"logistic": 0.32, "mlp": 0.68, "cnn": 0.94, "gru": 0.91}

# Fallback grid centres when the range test cannot suggest an LR (common defaults).
_DEFAULT_LR = {"sgd": 0.1, "sgd_momentum": 0.01, "adam": 1e-3, "adamw": 1e-3}


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
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ConfigError(f"threads must be an integer >= 1, but got threads={threads!r}")
        torch.set_num_threads(threads)
    try:
        return _run(task, budget, optimizers, schedules, seeds, epochs, out, progress)
    finally:
        torch.set_num_threads(before)


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
    from lrkit.tasks import OPTIMIZERS, get_task

    t_start = time.perf_counter()
    timings: dict[str, float] = {}
    b = get_budget(budget)
    the_task = get_task(task)
    opts = tuple(optimizers) if optimizers else (b.optimizers or (the_task.optimizer,))
    opts = tuple(dict.fromkeys(o.lower().replace("-", "_") for o in opts))
    bad = [o for o in opts if o not in OPTIMIZERS]
    if bad:
        raise ConfigError(
            f"optimizers must be among {', '.join(OPTIMIZERS)}, but got optimizers={','.join(bad)!r}"
        )
    scheds = check_schedules(tuple(schedules) if schedules else SCHEDULES)
    n_seeds = b.seeds if seeds is None else seeds
    if isinstance(n_seeds, bool) or not isinstance(n_seeds, int) or n_seeds < 1:
        raise ConfigError(f"seeds must be an integer >= 1, but got seeds={seeds!r}")
    n_epochs = b.epochs if epochs is None else epochs
    if isinstance(n_epochs, bool) or not isinstance(n_epochs, int) or n_epochs < 1:
        raise ConfigError(f"epochs must be an integer >= 1, but got epochs={epochs!r}")
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
            "lrkit.tasks.train has no per-epoch hook, so plateau runs use the study's own loop "
            "(same seeding, batching and evaluation as lrkit.tasks.train) with "
            "lrkit.control.ReduceOnPlateau fed the validation loss after each epoch; plateau "
            "sensitivity curves are always trained sequentially."
        )
    steps = n_epochs * the_task.steps_per_epoch
    per_cfg = steps * (b.grid + n_seeds)
    bar = StudyProgress(progress, len(opts) * (b.finder_steps + len(scheds) * per_cfg))
    try:
        t = time.perf_counter()
        finder: dict[str, dict[str, Any]] = {}
        grids: dict[str, np.ndarray] = {}
        for opt in opts:
            bar.phase(f"range test · {opt}")
            finder[opt], centre = _range_test(the_task, opt, b.finder_steps, notes)
            bar.advance(b.finder_steps)
            grids[opt] = _grid(centre, b.span, b.grid)
            finder[opt]["grid"] = grids[opt].tolist()
        timings["finder"] = time.perf_counter() - t

        t = time.perf_counter()
        curves: list[SweepCurve] = []
        for opt in opts:
            for sched in scheds:
                bar.phase(f"LR sweep · {opt} · {sched}")
                curve, _ = sensitivity(
                    the_task, opt, sched, grids[opt], n_epochs, engine, bar, notes
                )
                curves.append(curve)
        timings["sensitivity"] = time.perf_counter() - t

        t = time.perf_counter()
        runs: list[Run] = []
        seed_list = tuple(range(1, n_seeds + 1))  # fresh seeds: seed 0 picked the LR
        for curve in curves:
            if curve.best_lr is None:
                notes.append(
                    f"{curve.optimizer}/{curve.schedule}: every LR of the grid diverged; "
                    "no final trainings."
                )
                bar.advance(n_seeds * steps)
                continue
            for seed in seed_list:
                bar.phase(f"final · {curve.optimizer} · {curve.schedule} · seed {seed}")
                runs.append(
                    run_one(
                        the_task,
                        curve.optimizer,
                        curve.schedule,
                        curve.best_lr,
                        seed,
                        n_epochs,
                        bar,
                    )
                )
        timings["finals"] = time.perf_counter() - t
    finally:
        bar.close()

    plateau_runs = [r for r in runs if r.schedule == "plateau"]
    if plateau_runs and all(len(set(r.lr_at_epoch)) <= 1 for r in plateau_runs):
        notes.append(
            "The plateau rule never cut the LR in the final runs (the validation loss kept "
            f"improving over {n_epochs} epochs): plateau equals constant here."
        )
    t = time.perf_counter()
    runs = [_with_doctor(r) for r in runs]
    timings["doctor"] = time.perf_counter() - t

    result = _assemble(
        the_task, b, opts, scheds, seed_list, n_epochs, finder, curves, runs, notes, timings
    )
    timings["total"] = time.perf_counter() - t_start
    if out is not None:
        from lrkit.study._report import write_report

        t = time.perf_counter()
        write_report(result, out)
        timings["report"] = time.perf_counter() - t
    return result


def _grid(centre: float, span: float, n: int) -> np.ndarray:
    if n == 1:
        return np.array([float(f"{centre:.3g}")])
    c = math.log10(centre)
    return np.array([float(f"{v:.3g}") for v in np.logspace(c - span, c + span, n)])


def _range_test(
    task: Task, optimizer: str, steps: int, notes: list[str]
) -> tuple[dict[str, Any], float]:
    """Run the finder; return its result dict and the grid centre."""
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
        notes.append(
            f"The range test for {optimizer} failed ({type(exc).__name__}: {exc}); its LR grid "
            f"is centred on {fallback:g} instead."
        )
        return {"error": f"{type(exc).__name__}: {exc}", "centre": fallback}, fallback
    notes.extend(f"Range test ({optimizer}): {note}" for note in r.notes)
    lo, hi = r.interval
    centre = math.sqrt(lo * hi) if 0 < lo <= hi and math.isfinite(hi) else r.suggestion
    d = r.to_dict()
    d["centre"] = centre
    return d, centre


def _with_doctor(run: Run) -> Run:
    from dataclasses import replace

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


def _fmt_delta(v: float, scale: float, unit: str) -> str:
    return f"{v * scale:.1f}{unit}" if scale != 1.0 else f"{v:.3g}"


def _assemble(
    task: Task,
    b: Budget,
    opts: tuple[str, ...],
    scheds: tuple[str, ...],
    seeds: tuple[int, ...],
    epochs: int,
    finder: dict[str, dict[str, Any]],
    curves: list[SweepCurve],
    runs: list[Run],
    notes: list[str],
    timings: dict[str, float],
) -> StudyResult:
    hib = task.higher_is_better
    n_val = len(task.val[0])
    by_cfg: dict[tuple[str, str], list[Run]] = {}
    for r in runs:
        by_cfg.setdefault((r.optimizer, r.schedule), []).append(r)
    all_final = [r.final_metric for r in runs if math.isfinite(r.final_metric)]
    accuracy_like = task.metric_name == "accuracy" and all(0.0 <= v <= 1.0 for v in all_final)
    scale, unit = (100.0, " points") if accuracy_like else (1.0, "")

    stats_: dict[tuple[str, str], tuple[float, float, list[float]]] = {}
    for key, rs in by_cfg.items():
        vals = [r.final_metric for r in rs]
        arr = np.asarray(vals, dtype=float)
        fin = arr[np.isfinite(arr)]
        mean = float(fin.mean()) if len(fin) else math.nan
        std = float(fin.std(ddof=1)) if len(fin) > 1 else math.nan
        stats_[key] = (mean, std, vals)

    ranked = sorted(
        (k for k in stats_ if math.isfinite(stats_[k][0])),
        key=lambda k: -stats_[k][0] if hib else stats_[k][0],
    )
    best_key = ranked[0] if ranked else None
    val_se = binomial_se(stats_[best_key][0], n_val) if best_key and accuracy_like else None
    # Tolerance of the good-LR basin: two validation standard errors (or 2% for other metrics).
    tol = 2 * val_se if val_se else None

    target: float | None = None
    target_rule = "no configuration finished"
    if best_key is not None:
        bm = stats_[best_key][0]
        target = 0.95 * bm if hib else 1.05 * bm
        target_rule = (
            f"95% of the best mean final {task.metric_name}"
            if hib
            else f"within 5% of the best mean final {task.metric_name}"
        )

    comps: dict[tuple[str, str], Any] = {}
    if best_key is not None:
        for key in ranked[1:]:
            comps[key] = compare(stats_[best_key][2], stats_[key][2], hib)
    keys = list(comps)
    adjusted = dict(zip(keys, holm([comps[k].p_value for k in keys])))

    curve_by = {(c.optimizer, c.schedule): c for c in curves}
    summaries: list[ConfigSummary] = []
    statements: list[str] = []
    best_label = f"{best_key[0]}/{best_key[1]}" if best_key else ""
    for opt in opts:
        for sched in scheds:
            key = (opt, sched)
            curve = curve_by.get(key)
            bas = None
            if curve is not None:
                t_ = (
                    tol
                    if tol is not None
                    else 0.02
                    * max((abs(v) for v in curve.final_metric if math.isfinite(v)), default=0.0)
                )
                bas = basin(curve.lrs, curve.final_metric, t_, hib)
            if key not in stats_:
                summaries.append(
                    ConfigSummary(
                        opt,
                        sched,
                        math.nan,
                        (),
                        math.nan,
                        math.nan,
                        "no result",
                        f"{opt}/{sched}: no final run (every grid LR diverged).",
                        basin=bas,
                    )
                )
                continue
            mean, std, vals = stats_[key]
            rs = by_cfg[key]
            e2t, s2t, reached = _to_target(rs, target, hib)
            label = f"{opt}/{sched}"
            delta = ci = p = ph = None
            if key == best_key:
                verdict = "best"
                sentence = f"{label} has the best mean final {task.metric_name}."
            elif key in comps and best_key is not None:
                c = comps[key]
                delta, ci, p, ph = c.delta, (c.ci_low, c.ci_high), c.p_value, adjusted[key]
                spread = float(np.nanmax([std, stats_[best_key][1], 0.0]))
                verdict, sentence = _judge(
                    label, best_label, c, ph, val_se, scale, unit, spread,
                    sd_best=stats_[best_key][1], sd_other=std,
                )  # fmt: skip
                statements.append(sentence)
            else:
                verdict, sentence = "cannot tell", f"{label}: no finite final metric."
            summaries.append(
                ConfigSummary(
                    optimizer=opt,
                    schedule=sched,
                    lr=rs[0].lr,
                    metrics=tuple(vals),
                    mean=mean,
                    std=std,
                    verdict=verdict,
                    sentence=sentence,
                    delta=delta,
                    ci=ci,
                    p_value=p,
                    p_holm=ph,
                    basin=bas,
                    epochs_to_target=e2t,
                    seconds_to_target=s2t,
                    reached_target=reached,
                    doctor_verdicts=tuple(str(r.doctor.get("verdict", "?")) for r in rs),
                )
            )

    rec = _recommend(summaries, best_key, finder, task, scale, unit, len(seeds))
    reference = None
    if task.name.startswith("mnist1d-"):
        model = task.name.split("-", 1)[1]
        reference = {
            "source": "Greydanus & Kobak, Scaling down deep learning with MNIST-1D (ICML 2024)",
            "paper_test_accuracy": dict(MNIST1D_REFERENCE),
            "model": model,
            "paper_value": MNIST1D_REFERENCE.get(model),
            "lrkit_best_mean": stats_[best_key][0] if best_key else None,
            "lrkit_best_std": stats_[best_key][1] if best_key else None,
            "comparable": b.name == "thorough",
        }
    import torch

    env = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "machine": platform.machine(),
        "platform": platform.platform(terse=True),
        "sensitivity_engine": sorted({c.engine for c in curves}),
    }
    return StudyResult(
        task=task.describe(),
        budget=b.to_dict(),
        optimizers=opts,
        schedules=scheds,
        seeds=seeds,
        epochs=epochs,
        finder=finder,
        curves=tuple(curves),
        runs=tuple(runs),
        summaries=tuple(summaries),
        recommendation=rec,
        target=target,
        target_rule=target_rule,
        metric_name=task.metric_name,
        higher_is_better=hib,
        accuracy_like=accuracy_like,
        val_size=n_val,
        val_se=val_se,
        statements=tuple(statements),
        reference=reference,
        notes=tuple(dict.fromkeys(notes)),
        timings=timings,
        environment=env,
    )


def _to_target(
    rs: list[Run], target: float | None, hib: bool
) -> tuple[float | None, float | None, int]:
    if target is None:
        return None, None, 0
    hits = [time_to_target(r.val_metric, r.wall_time, target, hib) for r in rs]
    ok = [(e, s) for e, s in hits if e is not None and s is not None]
    if not ok:
        return None, None, 0
    return (
        float(np.median([e for e, _ in ok])),
        float(np.median([s for _, s in ok])),
        len(ok),
    )


def _judge(
    label: str,
    best: str,
    c: Any,
    p_holm: float,
    val_se: float | None,
    scale: float,
    unit: str,
    spread: float,
    sd_best: float = math.nan,
    sd_other: float = math.nan,
) -> tuple[str, str]:
    """Verdict and sentence for one comparison with the best (see the module docstring)."""
    d = _fmt_delta(c.delta, scale, unit)
    if not math.isfinite(c.p_value):
        return "cannot tell", (
            f"{label} scored {d} below {best}, but with one seed there is no spread to "
            "judge it against."
        )
    half = (c.ci_high - c.ci_low) / 2
    ci = (
        f"Δ = {c.delta * scale:.1f} ± {half * scale:.1f}{unit}"
        if scale != 1.0
        else (f"Δ = {c.delta:.3g} ± {half:.3g}")
    )
    stats_txt = f"{ci}, 95% CI; Welch p = {c.p_value:.2g}, Holm-adjusted p = {p_holm:.2g}"
    if p_holm < 0.05 and c.ci_low > 0:
        if val_se is not None and c.delta < val_se:
            return "worse (below val SE)", (
                f"{label} is consistently below {best} across seeds ({stats_txt}), but by less "
                f"than the validation set's standard error ({val_se * scale:.1f}{unit}): it "
                "may not hold on new data."
            )
        return "worse", (
            f"{label} is worse than {best} by more than the seed spread ({stats_txt})."
        )
    floor = max(v for v in (sd_best, val_se or 0.0, 0.0) if math.isfinite(v))
    if math.isfinite(sd_other) and floor > 0 and sd_other > 3 * floor:
        return "unreliable", (
            f"{label}'s seeds disagree widely (SD {_fmt_delta(sd_other, scale, unit)}, against "
            f"{_fmt_delta(floor, scale, unit)} for {best}): some seeds fail at this LR. Its gap "
            f"to {best} is not established ({stats_txt}), but it is not a dependable choice."
        )
    if abs(c.delta) > spread:
        n = min(c.n_best, c.n_other)
        return "inconclusive", (
            f"{label} scored {d} below {best}, more than the seed spread "
            f"(SD {_fmt_delta(spread, scale, unit)}), but {n} seeds are too few to establish "
            f"the difference ({stats_txt})."
        )
    return "within noise", f"{label} and {best} are within seed noise of each other ({stats_txt})."


def _recommend(
    summaries: list[ConfigSummary],
    best_key: tuple[str, str] | None,
    finder: dict[str, dict[str, Any]],
    task: Task,
    scale: float,
    unit: str,
    n_seeds: int,
) -> Recommendation | None:
    if best_key is None:
        return None
    best = next(s for s in summaries if (s.optimizer, s.schedule) == best_key)
    ties = tuple(
        s.label for s in summaries if s.verdict in ("within noise", "inconclusive", "cannot tell")
    )
    m = f"{best.mean * scale:.1f}{'%' if scale != 1.0 else ''}"
    sd = f"{best.std * scale:.1f}" if math.isfinite(best.std) else "n/a"
    evidence = [
        f"{best.label} at LR {best.lr:.3g} had the highest mean final {task.metric_name}: "
        f"{m} ± {sd} (SD over {len(best.metrics)} fresh seed(s)).",
    ]
    if best.basin is not None:
        lo, hi, dec, edge = best.basin
        if dec > 0:
            txt = f"Its good-LR basin spans {lo:.3g}–{hi:.3g} ({dec:.1f} decades of the grid)"
        else:
            txt = (
                f"Only its best grid LR ({lo:.3g}) scored near its best: the basin is narrower "
                "than the grid's spacing"
            )
        edge_txt = " — the best LR is at the grid's edge, so the optimum may lie beyond it."
        evidence.append(txt + (edge_txt if edge else "."))
    f = finder.get(best.optimizer, {})
    if "suggestion" in f and f.get("suggestion"):
        lo_hi = f.get("interval") or [None, None]
        evidence.append(
            f"The range test suggested {f['suggestion']:.3g} (interval "
            f"{lo_hi[0]:.3g}–{lo_hi[1]:.3g}) for {best.optimizer}; the sweep picked {best.lr:.3g}."
        )
    docs = sorted(set(best.doctor_verdicts))
    if docs:
        evidence.append(f"The doctor's verdict on its final runs: {', '.join(docs)}.")
    worse = [s.label for s in summaries if s.verdict in ("worse", "worse (below val SE)")]
    shaky = [s.label for s in summaries if s.verdict == "unreliable"]
    if shaky:
        evidence.append(
            f"Unreliable across seeds (some seeds fail at their best LR): {', '.join(shaky)}."
        )
    if ties:
        text = (
            f"Use {best.optimizer} with {best.schedule} at LR {best.lr:.3g} — but "
            f"{len(ties)} other configuration(s) ({', '.join(ties)}) are not shown to be worse "
            "(within seed noise, or too few seeds to tell): the data do not establish that it "
            "beats them."
        )
    else:
        text = (
            f"Use {best.optimizer} with {best.schedule} at LR {best.lr:.3g}: it beat every other "
            "configuration by more than the seed spread."
        )
    if worse:
        evidence.append(f"Clearly worse than the best (beyond seed noise): {', '.join(worse)}.")
    if n_seeds < 3:
        evidence.append(
            f"Only {n_seeds} seed(s) per configuration: the tests have little power; use a "
            "larger budget before trusting small differences."
        )
    return Recommendation(
        optimizer=best.optimizer,
        schedule=best.schedule,
        lr=best.lr,
        mean=best.mean,
        std=best.std,
        ties=ties,
        text=text,
        evidence=tuple(evidence),
    )
