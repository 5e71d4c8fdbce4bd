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


def _tr(cells: list[tuple[str, str]], cls: str = "") -> str:
    """A row of ``(html, css class)`` cells; the html is escaped by the caller."""
    tds = "".join(f"<td class='{c}'>{h}</td>" if c else f"<td>{h}</td>" for h, c in cells)
    return (f"<tr class='{cls}'>" if cls else "<tr>") + tds + "</tr>"


def _table(head: list[str], rows: list[str]) -> str:
    return (
        "<table><tr>"
        + "".join(f"<th>{h}</th>" for h in head)
        + "</tr>"
        + "".join(rows)
        + "</table>"
    )


def _verdict_class(s: ConfigSummary) -> str:
    if s.verdict == "best":
        return "v-best"
    return "v-worse" if s.verdict.startswith("worse") or s.verdict == "unreliable" else "v-noise"


def summary_table(result: StudyResult) -> str:
    head = "optimizer|schedule|best LR|final (mean ± SD)|seeds|Δ vs best [95% CI]|Holm p|verdict"
    head += "|failed seeds|epochs to target|s to target|doctor"
    rows = []
    sc = 100.0 if result.accuracy_like else 1.0
    for s in result.summaries:
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
        cells = [
            (e(s.optimizer), ""),
            (e(s.schedule), ""),
            (num(s.lr), "num"),
            (e(metric(result, s.mean, s.std)), "num"),
            (str(len(s.metrics)), "num"),
            (e(ci), "num"),
            (num(s.p_holm, ".2g"), "num"),
            (e(s.verdict), _verdict_class(s)),
            (f"{s.failed}/{len(s.metrics)}", "num"),
            (e(reach), "num"),
            (num(s.seconds_to_target, ".1f"), "num"),
            (e(", ".join(sorted(set(s.doctor_verdicts)))), ""),
        ]
        rows.append(_tr(cells, "best" if s.verdict == "best" else ""))
    return _table(head.split("|"), rows)


def basin_table(result: StudyResult) -> str:
    tol = (
        f"within 2 validation standard errors ({100 * 2 * result.val_se:.1f} points)"
        if result.val_se
        else "within 2% of the best"
    )
    note = (
        f"<p class='note'>Good-LR basin: the contiguous grid LRs scoring {e(tol)} of the "
        "schedule's best grid point. Width as a factor: the highest over the lowest good LR, "
        "each edge interpolated (log-LR) to where the curve crosses the tolerance, so a basin "
        "narrower than the grid's spacing still gets a width. One seed per grid point: the "
        "edges are noisy. Failed: diverged, or finished at chance-level accuracy.</p>"
    )
    head = "optimizer|schedule|best grid LR|basin|width (×)|failed grid points|trained by"
    rows = []
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
        cells = [(e(s.optimizer), ""), (e(s.schedule), ""), (num(c.best_lr), "num")]
        cells += [(e(rng), ""), (e(width), "num"), (f"{failed}/{len(c.lrs)}", "num")]
        rows.append(_tr([*cells, (e(c.engine), "")]))
    return note + _table(head.split("|"), rows)


def doctor_table(result: StudyResult) -> str:
    note = (
        "<p class='note'>lrkit.diagnose on each final run's per-epoch log (train loss, "
        "validation loss, LR). Prescriptions are listed once per configuration.</p>"
    )
    head = ["optimizer", "schedule", "verdicts over seeds"]
    head.append("prescriptions and evidence (runs that were not healthy)")
    rows = []
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
        cells = [(e(opt), ""), (e(sched), ""), (e(verdicts), "")]
        rows.append(_tr([*cells, ("<br>".join(seen) if seen else "–", "")]))
    return note + _table(head, rows)


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
