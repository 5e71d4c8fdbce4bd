"""The study's words: a verdict and a sentence per comparison, the recommendation, the next step.

Numbers come from :mod:`lrkit.study._analysis`; this module only decides how to say them. The
recommendation stays honest: it names the best configuration, says which others the data do
not separate from it, and what would settle each open comparison (how many seeds) — never
more confidence than the tests give.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Protocol

from lrkit.study._result import ConfigSummary, Recommendation
from lrkit.study._snippets import schedule_text, snippets

if TYPE_CHECKING:
    from lrkit.study._stats import Comparison

__all__ = ["PBTLike", "fmt_delta", "judge", "pbt_sentence", "recommend"]

#: Verdicts that leave a configuration not shown to be worse than the best.
OPEN = ("within noise", "inconclusive", "cannot tell")


def fmt_delta(v: float, scale: float, unit: str) -> str:
    return f"{v * scale:.1f}{unit}" if scale != 1.0 else f"{v:.3g}"


def _next_step(seeds: int | None, c: Comparison, scale: float, unit: str, cap: int) -> str:
    """How to settle an open comparison: seeds per arm, or what the data already bound."""
    if seeds is None:
        return ""
    bound = f"the gap is below {fmt_delta(c.ci_high, scale, unit)} (95% CI upper end)"
    if seeds > cap:
        return f" More than {cap} seeds per arm would be needed to resolve it; {bound}."
    return (
        f" ≈{seeds} seeds per arm would settle a gap of this size (80% power at the study's "
        f"test, if the seed SD is as observed); until then, {bound}."
    )


def judge(
    label: str,
    best: str,
    c: Comparison,
    p_holm: float,
    val_se: float | None,
    scale: float,
    unit: str,
    spread: float,
    sd_best: float = math.nan,
    sd_other: float = math.nan,
    seeds: int | None = None,
    cap: int = 1000,
) -> tuple[str, str]:
    """Verdict and sentence for one comparison with the best.

    ``seeds``: seeds per arm that would settle the observed gap (see
    :func:`lrkit.study._stats.seeds_needed`), told as the next step of an open comparison.
    """
    d = fmt_delta(c.delta, scale, unit)
    if not math.isfinite(c.p_value):
        return "cannot tell", (
            f"{label} scored {d} below {best}, but with one seed there is no spread to "
            "judge it against. Train at least 2 seeds (3 or more to have any power)."
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
            f"{label}'s seeds disagree widely (SD {fmt_delta(sd_other, scale, unit)}, against "
            f"{fmt_delta(floor, scale, unit)} for {best}): some seeds fail at this LR. Its gap "
            f"to {best} is not established ({stats_txt}), but it is not a dependable choice."
        )
    step = _next_step(seeds, c, scale, unit, cap)
    if abs(c.delta) > spread:
        n = min(c.n_best, c.n_other)
        return "inconclusive", (
            f"{label} scored {d} below {best}, more than the seed spread "
            f"(SD {fmt_delta(spread, scale, unit)}), but {n} seeds are too few to establish "
            f"the difference ({stats_txt})." + step
        )
    return "within noise", (
        f"{label} and {best} are within seed noise of each other ({stats_txt})." + step
    )


def _basin_text(best: ConfigSummary) -> str | None:
    if best.basin is None:
        return None
    lo, hi, dec, edge = best.basin
    width = f"about ×{best.basin_factor:.2g}" if best.basin_factor is not None else ""
    if dec > 0:
        txt = f"Its good-LR basin spans {lo:.3g}–{hi:.3g} ({dec:.1f} decades of the grid"
        txt += f"; {width} between the interpolated edges)" if width else ")"
    else:
        txt = (
            f"Only its best grid LR ({lo:.3g}) scored near its best: the basin is narrower "
            "than the grid's spacing"
            + (f" ({width} between the interpolated edges)" if width else "")
        )
    edge_txt = " — the best LR is at the grid's edge, so the optimum may lie beyond it."
    return txt + (edge_txt if edge else ".")


def _open_lists(summaries: list[ConfigSummary]) -> tuple[list[str], list[str]]:
    """Next steps for gaps beyond the seed spread, and the list of ties."""
    steps, ties = [], []
    for s in summaries:
        if s.verdict == "inconclusive":
            need = (
                f"≈{s.seeds_needed} seeds per arm" if s.seeds_needed is not None else "more seeds"
            )
            steps.append(f"{s.label}: {need}")
        elif s.verdict in ("within noise", "cannot tell"):
            ties.append(s.label)
    return steps, ties


def recommend(
    summaries: list[ConfigSummary],
    best_key: tuple[str, str] | None,
    finder: dict[str, dict[str, Any]],
    metric_name: str,
    scale: float,
    n_seeds: int,
    total_updates: int,
    epochs: int,
) -> Recommendation | None:
    """The recommendation: the best configuration, its evidence, and the next steps (seeds
    that would settle each open gap, the ties, the winner as schedule text and code)."""
    if best_key is None:
        return None
    best = next(s for s in summaries if (s.optimizer, s.schedule) == best_key)
    ties = tuple(s.label for s in summaries if s.verdict in OPEN)
    m = f"{best.mean * scale:.1f}{'%' if scale != 1.0 else ''}"
    sd = f"{best.std * scale:.1f}" if math.isfinite(best.std) else "n/a"
    evidence = [
        f"{best.label} at LR {best.lr:.3g} had the highest mean final {metric_name}: "
        f"{m} ± {sd} (SD over {len(best.metrics)} fresh seed(s)).",
    ]
    basin = _basin_text(best)
    if basin:
        evidence.append(basin)
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
    if best.failed:
        evidence.append(
            f"{best.failed} of its {len(best.metrics)} seeds failed (diverged or ended at chance "
            "level): it is not a dependable choice either."
        )
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
    steps, tied = _open_lists(summaries)
    next_steps = []
    if steps:
        next_steps.append(
            "Gaps larger than the seed spread but not established; to settle them, train "
            "more seeds of these configurations and of the best one (per arm, 80% power at "
            "the study's test): " + "; ".join(steps) + "."
        )
    if tied:
        next_steps.append(
            "Within seed noise of the best (ties: choose among them on other grounds, such as "
            "speed or simplicity): " + ", ".join(tied) + "."
        )
    sched = schedule_text(best.schedule, best.lr, total_updates)
    next_steps.append(
        f"To use the winner: schedule {sched} (text that lrkit.schedules.parse reads; "
        f"'steps' counts optimizer updates, {total_updates} here — rescale it to your run), "
        f"optimizer {best.optimizer}; see the snippets."
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
        schedule_text=sched,
        snippets=snippets(best.optimizer, best.schedule, best.lr, total_updates, epochs),
        next_steps=tuple(next_steps),
    )


class PBTLike(Protocol):
    """What :func:`pbt_sentence` reads of a :class:`lrkit.pbt.PBTResult`."""

    @property
    def population(self) -> int: ...
    @property
    def best_metric(self) -> float: ...
    @property
    def baseline_best_metric(self) -> float | None: ...
    @property
    def baseline_best_lr(self) -> float | None: ...
    @property
    def beat_baseline(self) -> bool | None: ...


def pbt_sentence(r: PBTLike, *, accuracy_like: bool, seed_sd: float | None, sd_label: str) -> str:
    """Whether PBT beat the equal-cost constant-LR grid, plainly, with the study's seed SD.

    ``seed_sd``: the SD across the study's final-run seeds of ``sd_label`` (None or NaN when
    the study measured none). One PBT run (seed 0) is never called significant.
    """
    scale, unit = (100.0, " points") if accuracy_like else (1.0, "")

    def val(v: float) -> str:
        if not math.isfinite(v):
            return "a diverged run"
        return f"{100 * v:.1f}%" if accuracy_like else f"{v:.4g}"

    k = r.population
    head = f"PBT ({k} members, the same compute as {k} constant-LR trainings)"
    base, base_lr = r.baseline_best_metric, r.baseline_best_lr
    if r.beat_baseline is None or base is None or base_lr is None:
        return (
            f"{head} could not be compared with its constant-LR grid: no finite score on one "
            f"side (PBT's winner: {val(r.best_metric)})."
        )
    verb = "beat" if r.beat_baseline else "did not beat"
    text = (
        f"{head} {verb} the equal-cost grid: it reached {val(r.best_metric)} vs {val(base)} for "
        f"the best constant LR of that grid (lr={base_lr:.3g})"
    )
    gap = abs(r.best_metric - base) if math.isfinite(r.best_metric) else math.nan
    if not math.isfinite(gap):
        return text + "; prefer that constant LR."
    text += f", a gap of {fmt_delta(gap, scale, unit)}"
    if seed_sd is not None and math.isfinite(seed_sd):
        where = "within" if gap <= seed_sd else "beyond"
        text += (
            f", {where} the seed spread the study measured (SD {fmt_delta(seed_sd, scale, unit)}"
            f" across the final runs of {sd_label})"
        )
    else:
        text += " (the study measured no seed spread to compare it with)"
    text += ". One PBT run with one seed cannot show that the difference is significant" + (
        "; prefer that constant LR." if not r.beat_baseline else "."
    )
    return text
