"""The report's HTML tables and the small formatting helpers they share with the page."""

from __future__ import annotations

import html
import math
from typing import Any

from lrkit.study._result import ConfigSummary, StudyResult

__all__ = [
    "basin_table",
    "doctor_table",
    "e",
    "img",
    "metric",
    "num",
    "reference_table",
    "summary_table",
]


def e(v: Any) -> str:
    return html.escape(str(v), quote=True)


def num(v: float | None, fmt: str = ".3g") -> str:
    if v is None or not math.isfinite(v):
        return "–"
    return format(v, fmt)


def img(b64: str, alt: str) -> str:
    return f'<img alt="{e(alt)}" src="data:image/png;base64,{b64}">'


def metric(result: StudyResult, v: float | None, sd: float | None = None) -> str:
    if v is None or not math.isfinite(v):
        return "–"
    if result.accuracy_like:
        s = f"{100 * v:.1f}%"
        return s + (f" ± {100 * sd:.1f}" if sd is not None and math.isfinite(sd) else "")
    s = f"{v:.4g}"
    return s + (f" ± {sd:.2g}" if sd is not None and math.isfinite(sd) else "")


def _verdict_class(s: ConfigSummary) -> str:
    if s.verdict == "best":
        return "v-best"
    return "v-worse" if s.verdict.startswith("worse") or s.verdict == "unreliable" else "v-noise"


def summary_table(result: StudyResult) -> str:
    rows = [
        "<table><tr><th>optimizer</th><th>schedule</th><th>best LR</th>"
        "<th>final (mean ± SD)</th><th>seeds</th><th>Δ vs best [95% CI]</th>"
        "<th>Holm p</th><th>verdict</th><th>failed seeds</th><th>epochs to target</th>"
        "<th>s to target</th><th>doctor</th></tr>"
    ]
    sc = 100.0 if result.accuracy_like else 1.0
    for s in result.summaries:
        cls = " class='best'" if s.verdict == "best" else ""
        if s.delta is not None and s.ci is not None:
            lo, hi = s.ci
            ci = (
                f"{s.delta * sc:.1f} [{num(lo * sc, '.1f')}, {num(hi * sc, '.1f')}]"
                if sc != 1.0
                else f"{s.delta:.3g} [{num(lo)}, {num(hi)}]"
            )
        else:
            ci = "–"
        reach = (
            f"{num(s.epochs_to_target, '.0f')} ({s.reached_target}/{len(s.metrics)})"
            if s.epochs_to_target is not None
            else f"not reached (0/{len(s.metrics)})"
        )
        rows.append(
            f"<tr{cls}><td>{e(s.optimizer)}</td><td>{e(s.schedule)}</td>"
            f"<td class='num'>{num(s.lr)}</td><td class='num'>{e(metric(result, s.mean, s.std))}</td>"
            f"<td class='num'>{len(s.metrics)}</td><td class='num'>{e(ci)}</td>"
            f"<td class='num'>{num(s.p_holm, '.2g')}</td>"
            f"<td class='{_verdict_class(s)}'>{e(s.verdict)}</td>"
            f"<td class='num'>{s.failed}/{len(s.metrics)}</td>"
            f"<td class='num'>{e(reach)}</td><td class='num'>{num(s.seconds_to_target, '.1f')}</td>"
            f"<td>{e(', '.join(sorted(set(s.doctor_verdicts))))}</td></tr>"
        )
    rows.append("</table>")
    return "".join(rows)


def basin_table(result: StudyResult) -> str:
    tol = (
        f"within 2 validation standard errors ({100 * 2 * result.val_se:.1f} points)"
        if result.val_se
        else "within 2% of the best"
    )
    rows = [
        f"<p class='note'>Good-LR basin: the contiguous grid LRs scoring {e(tol)} of the "
        "schedule's best grid point. Width as a factor: the highest over the lowest good LR, "
        "each edge interpolated (log-LR) to where the curve crosses the tolerance, so a basin "
        "narrower than the grid's spacing still gets a width. One seed per grid point: the "
        "edges are noisy. Failed: diverged, or finished at chance-level accuracy.</p>"
        "<table><tr><th>optimizer</th><th>schedule</th><th>best grid LR</th><th>basin</th>"
        "<th>width (×)</th><th>failed grid points</th><th>trained by</th></tr>"
    ]
    for s in result.summaries:
        c = next(
            (c for c in result.curves if c.optimizer == s.optimizer and c.schedule == s.schedule),
            None,
        )
        if c is None:
            continue
        if s.basin is not None:
            lo, hi, _, edge = s.basin
            rng = f"{lo:.3g} – {hi:.3g}" + (" (best at grid edge)" if edge else "")
            width = f"×{s.basin_factor:.2g}" if s.basin_factor is not None else "–"
        else:
            rng, width = "–", "–"
        failed = sum(d or a for d, a in zip(c.diverged, c.at_chance or c.diverged))
        rows.append(
            f"<tr><td>{e(s.optimizer)}</td><td>{e(s.schedule)}</td>"
            f"<td class='num'>{num(c.best_lr)}</td><td>{e(rng)}</td>"
            f"<td class='num'>{e(width)}</td><td class='num'>{failed}/{len(c.lrs)}</td>"
            f"<td>{e(c.engine)}</td></tr>"
        )
    rows.append("</table>")
    return "".join(rows)


def doctor_table(result: StudyResult) -> str:
    rows = [
        "<p class='note'>lrkit.diagnose on each final run's per-epoch log (train loss, "
        "validation loss, LR). Prescriptions are listed once per configuration.</p>"
        "<table><tr><th>optimizer</th><th>schedule</th><th>verdicts over seeds</th>"
        "<th>prescriptions and evidence (runs that were not healthy)</th></tr>"
    ]
    groups: dict[tuple[str, str], list[Any]] = {}
    for r in result.runs:
        groups.setdefault((r.optimizer, r.schedule), []).append(r)
    for (opt, sched), runs in groups.items():
        counts: dict[str, int] = {}
        for r in runs:
            v = str(r.doctor.get("verdict", "?"))
            counts[v] = counts.get(v, 0) + 1
        verdicts = ", ".join(f"{v} ×{n}" for v, n in sorted(counts.items()))
        seen: list[str] = []
        for r in runs:
            if r.doctor.get("verdict") == "healthy":
                continue
            text = str(r.doctor.get("prescription") or r.doctor.get("error") or "")
            finds = [str(f) for f in (r.doctor.get("findings") or [])[:2]]
            item = (
                f"seed {r.seed}: "
                + e(text)
                + "".join(f"<br><span class='note'>{e(f)}</span>" for f in finds)
            )
            if text not in " ".join(seen):
                seen.append(item)
        rows.append(
            f"<tr><td>{e(opt)}</td><td>{e(sched)}</td><td>{e(verdicts)}</td>"
            f"<td>{'<br>'.join(seen) if seen else '–'}</td></tr>"
        )
    rows.append("</table>")
    return "".join(rows)


def reference_table(result: StudyResult) -> str:
    ref = result.reference or {}
    paper = ref.get("paper_test_accuracy", {})
    cells = "".join(f"<th>{e(k)}</th>" for k in paper)
    vals = "".join(f"<td class='num'>{100 * v:.0f}%</td>" for v in paper.values())
    model = ref.get("model")
    lr_row = "".join(
        f"<td class='num'>{e(metric(result, ref.get('lrkit_best_mean'), ref.get('lrkit_best_std')))}</td>"
        if k == model
        else "<td class='num'>–</td>"
        for k in paper
    )
    caveat = (
        "The thorough budget trains long enough to be compared with the paper."
        if ref.get("comparable")
        else f"This {result.budget['name']} budget trains only {result.epochs} epochs per run: "
        "expect lower accuracies than the paper; use --budget thorough to compare."
    )
    return (
        "<h2>MNIST-1D reference</h2><table><tr><th></th>" + cells + "</tr>"
        "<tr><td>paper (" + e(ref.get("source", "")) + ")</td>" + vals + "</tr>"
        "<tr><td>lrkit study, best configuration</td>" + lr_row + "</tr></table>"
        f"<p class='note'>{e(caveat)}</p>"
    )
