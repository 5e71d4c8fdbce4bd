"""``write_report``: one self-contained HTML file (inline CSS, PNGs as data URIs, no script)."""

from __future__ import annotations

import datetime as _dt
import html
import json
import math
from pathlib import Path
from typing import Any

from lrkit.study._result import ConfigSummary, StudyResult
from lrkit.study._schedules import DESCRIPTIONS

__all__ = ["render_html", "write_report"]

_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:0;color:#1d2430;
background:#f6f7f9;line-height:1.45}
main{max-width:1180px;margin:0 auto;padding:24px 32px 48px;background:#fff}
h1{font-size:26px;margin:0 0 4px}h2{font-size:19px;margin:30px 0 8px;border-bottom:1px solid #dde;
padding-bottom:4px}.sub{color:#5b6472;margin:0 0 16px}
.rec{background:#eef6ee;border-left:5px solid #2e7d32;padding:12px 16px;margin:14px 0}
.rec b.big{font-size:18px}.warn{background:#fff7e6;border-left:5px solid #e0a100;padding:10px 14px;
margin:12px 0}.note{color:#5b6472;font-size:13px}
table{border-collapse:collapse;font-size:13px;margin:8px 0;width:100%}
th,td{border-bottom:1px solid #e3e6ea;padding:5px 7px;text-align:left;vertical-align:top}
th{background:#f0f2f5;font-weight:600}td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.best td{background:#eef6ee;font-weight:600}
.v-worse{color:#b3261e}.v-noise{color:#42526e}.v-best{color:#2e7d32}
img{max-width:100%;height:auto;display:block;margin:8px 0}
ul{margin:6px 0 6px 18px;padding:0}li{margin:2px 0}code{background:#f0f2f5;padding:0 3px}
"""


def _e(v: Any) -> str:
    return html.escape(str(v), quote=True)


def _num(v: float | None, fmt: str = ".3g") -> str:
    if v is None or not math.isfinite(v):
        return "–"
    return format(v, fmt)


def _img(b64: str, alt: str) -> str:
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{b64}">'


def _metric(result: StudyResult, v: float | None, sd: float | None = None) -> str:
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


_VERDICTS_HELP = (
    "Verdicts: <b>worse</b> = below the best by more than the seed spread, confirmed by the "
    "test; <b>inconclusive</b> = the gap exceeds the seed spread but the seeds are too few to "
    "establish it; <b>unreliable</b> = its seeds disagree widely (some fail at that LR); "
    "<b>within noise</b> = the gap is inside the seed spread."
)


def render_html(result: StudyResult) -> str:
    """The report as one HTML string."""
    from lrkit.study._figures import (
        curves_figure,
        finals_figure,
        finder_figure,
        png_base64,
        sensitivity_figure,
    )

    t = result.task
    b = result.budget
    p: list[str] = []
    add = p.append
    add("<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>")
    add("<meta name='viewport' content='width=device-width, initial-scale=1'>")
    add(f"<title>lrkit study · {_e(t['name'])}</title><style>{_CSS}</style></head><body><main>")
    add(f"<h1>How much does the learning rate matter for <code>{_e(t['name'])}</code>?</h1>")
    now = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    add(
        f"<p class='sub'>lrkit study · budget <b>{_e(b['name'])}</b> · {result.epochs} epochs "
        f"per run · optimizers {_e(', '.join(result.optimizers))} · {len(result.seeds)} fresh "
        f"seed(s) per configuration · {t['n_train']} training / {t['n_val']} validation "
        f"samples · {_num(result.timings.get('total'), '.0f')} s · {_e(now)}</p>"
    )

    # Recommendation first: what a newcomer came for.
    rec = result.recommendation
    if rec is not None:
        add(
            "<div class='rec'><b class='big'>Recommendation: "
            f"{_e(rec.optimizer)} · {_e(rec.schedule)} · LR {_e(format(rec.lr, '.3g'))}</b>"
        )
        add(f"<p>{_e(rec.text)}</p><ul>")
        for ev in rec.evidence:
            add(f"<li>{_e(ev)}</li>")
        add("</ul></div>")
    else:
        add("<div class='warn'><b>No recommendation</b>: every configuration diverged.</div>")

    add("<div class='warn'><b>Read the differences with care.</b> ")
    add(_e(_noise_text(result)))
    add("</div>")
    if result.statements:
        add("<h2>Which differences are real?</h2><ul>")
        for s in result.statements:
            add(f"<li>{_e(s)}</li>")
        add("</ul>")

    add("<h2>Final results at each schedule's best LR</h2>")
    add(_table(result))
    add(
        f"<p class='note'>{_VERDICTS_HELP} Δ is in the metric's units (points for accuracy); "
        "time to target is the median over the seeds that reached it.</p>"
    )
    add(_img(png_base64(finals_figure(result)), "final metric per configuration and seed"))

    add("<h2>Sensitivity: final metric against the learning rate</h2>")
    add(
        "<p class='note'>One training per grid LR (seed 0, the same number of epochs as the final "
        "runs). A wide plateau near the top means the schedule forgives a mis-set LR; ★ marks "
        "each schedule's best grid LR, × a diverged run. The LR axis is the peak LR of the "
        "schedule.</p>"
    )
    add(_img(png_base64(sensitivity_figure(result)), "final metric against the learning rate"))
    add(_basin_table(result))

    add("<h2>Range test (LR finder)</h2>")
    add(
        "<p class='note'>Training loss while the LR grows exponentially from 1e-6 to 10 "
        "(lrkit.find_lr); the shaded interval is the finder's plausible range, the ticks the "
        "grid of the sensitivity sweep, centred on that interval.</p>"
    )
    add(_img(png_base64(finder_figure(result)), "LR range test"))
    for opt in result.optimizers:
        f = result.finder.get(opt, {})
        if "error" in f:
            add(f"<p class='warn'>{_e(opt)}: range test failed: {_e(f['error'])}</p>")

    add("<h2>Learning curves</h2>")
    add(
        "<p class='note'>Validation metric per epoch at each schedule's best LR: the mean over "
        "seeds, the band spans the lowest and highest seed. Below: the LR each schedule "
        "used.</p>"
    )
    add(_img(png_base64(curves_figure(result)), "learning curves"))

    add("<h2>The doctor's verdicts</h2>")
    add(_doctor_table(result))

    if result.reference is not None:
        add(_reference(result))

    add("<h2>Schedules</h2><ul>")
    for s in result.schedules:
        add(f"<li><b>{_e(s)}</b>: {_e(DESCRIPTIONS.get(s, ''))}</li>")
    add("</ul>")
    add("<h2>How this study was run</h2><ul>")
    add(f"<li>Budget: {_e(json.dumps(b))}</li>")
    add(
        "<li>Optimizers: sgd = plain SGD (no momentum), sgd_momentum = SGD with momentum 0.9, "
        "adam and adamw = torch defaults (AdamW weight decay 0.01); batch size "
        f"{_e(result.task.get('batch_size'))}.</li>"
    )
    add(
        "<li>LR grid per optimizer: "
        + "; ".join(
            f"{_e(o)}: {_e(', '.join(format(v, '.3g') for v in result.finder[o].get('grid', [])))}"
            for o in result.optimizers
        )
        + "</li>"
    )
    add(
        "<li>The best LR of each schedule was chosen on the validation set with seed 0; the "
        "final runs use fresh seeds (1, 2, …), so the winner's curse of that choice does not "
        "inflate the table. The validation set served for both, so the numbers are still "
        "slightly optimistic: confirm on a held-out test set.</li>"
    )
    add(
        f"<li>Target for 'time to target': {_e(result.target_rule)} "
        f"= {_e(_metric(result, result.target))}. Seconds are wall-clock on a shared machine; "
        "epochs are exact.</li>"
    )
    timing = ", ".join(f"{k} {v:.1f} s" for k, v in result.timings.items())
    add(f"<li>Time spent: {_e(timing)}.</li>")
    add(f"<li>Environment: {_e(json.dumps(result.environment))}</li>")
    for n in result.notes:
        add(f"<li>{_e(n)}</li>")
    add("</ul><p class='note'>Every number in this report is in results.json next to it.</p>")
    add("</main></body></html>")
    return "".join(p)


def _noise_text(result: StudyResult) -> str:
    n = len(result.seeds)
    parts = [
        f"Each configuration was trained with {n} seed(s); differences between schedules at "
        "their tuned LR are often smaller than the spread between seeds."
    ]
    if result.val_se is not None:
        parts.append(
            f"With {result.val_size} validation samples, the standard error of an accuracy near "
            f"the best one is about {100 * result.val_se:.1f} points, so a gap of a point or "
            "two can come from which samples happened to be in the validation set."
        )
    if result.budget.get("name") == "quick":
        parts.append(
            f"The quick budget trains only {result.epochs} epochs per run: it shows which "
            "schedules learn fastest in a short run, not where they end after full training."
        )
    parts.append(
        "A difference is called real only when a Welch t-test against the best configuration, "
        "corrected for the number of comparisons (Holm), rejects equality at 5% and the 95% "
        "interval of the difference excludes zero."
    )
    return " ".join(parts)


def _table(result: StudyResult) -> str:
    rows = [
        "<table><tr><th>optimizer</th><th>schedule</th><th>best LR</th>"
        "<th>final (mean ± SD)</th><th>seeds</th><th>Δ vs best [95% CI]</th>"
        "<th>Holm p</th><th>verdict</th><th>epochs to target</th><th>s to target</th>"
        "<th>doctor</th></tr>"
    ]
    sc = 100.0 if result.accuracy_like else 1.0
    for s in result.summaries:
        cls = " class='best'" if s.verdict == "best" else ""
        if s.delta is not None and s.ci is not None:
            lo, hi = s.ci
            ci = (
                f"{s.delta * sc:.1f} [{_num(lo * sc, '.1f')}, {_num(hi * sc, '.1f')}]"
                if sc != 1.0
                else f"{s.delta:.3g} [{_num(lo)}, {_num(hi)}]"
            )
        else:
            ci = "–"
        reach = (
            f"{_num(s.epochs_to_target, '.0f')} ({s.reached_target}/{len(s.metrics)})"
            if s.epochs_to_target is not None
            else f"not reached (0/{len(s.metrics)})"
        )
        rows.append(
            f"<tr{cls}><td>{_e(s.optimizer)}</td><td>{_e(s.schedule)}</td>"
            f"<td class='num'>{_num(s.lr)}</td><td class='num'>{_e(_metric(result, s.mean, s.std))}</td>"
            f"<td class='num'>{len(s.metrics)}</td><td class='num'>{_e(ci)}</td>"
            f"<td class='num'>{_num(s.p_holm, '.2g')}</td>"
            f"<td class='{_verdict_class(s)}'>{_e(s.verdict)}</td>"
            f"<td class='num'>{_e(reach)}</td><td class='num'>{_num(s.seconds_to_target, '.1f')}</td>"
            f"<td>{_e(', '.join(sorted(set(s.doctor_verdicts))))}</td></tr>"
        )
    rows.append("</table>")
    return "".join(rows)


def _basin_table(result: StudyResult) -> str:
    tol = (
        f"within 2 validation standard errors ({100 * 2 * result.val_se:.1f} points)"
        if result.val_se
        else "within 2% of the best"
    )
    rows = [
        f"<p class='note'>Good-LR basin: the contiguous grid LRs scoring {_e(tol)} of the "
        "schedule's best grid point. Width in decades; 0 means only one grid point qualified "
        "(the grid's spacing limits the resolution). One seed per grid point: the edges are noisy.</p><table><tr><th>optimizer</th>"
        "<th>schedule</th><th>best grid LR</th><th>basin</th><th>width (decades)</th>"
        "<th>diverged grid points</th><th>trained by</th></tr>"
    ]
    for s in result.summaries:
        c = next(
            (c for c in result.curves if c.optimizer == s.optimizer and c.schedule == s.schedule),
            None,
        )
        if c is None:
            continue
        if s.basin is not None:
            lo, hi, dec, edge = s.basin
            rng = f"{lo:.3g} – {hi:.3g}" + (" (best at grid edge)" if edge else "")
            width = f"{dec:.1f}"
        else:
            rng, width = "–", "–"
        rows.append(
            f"<tr><td>{_e(s.optimizer)}</td><td>{_e(s.schedule)}</td>"
            f"<td class='num'>{_num(c.best_lr)}</td><td>{_e(rng)}</td>"
            f"<td class='num'>{_e(width)}</td><td class='num'>{sum(c.diverged)}/{len(c.lrs)}</td>"
            f"<td>{_e(c.engine)}</td></tr>"
        )
    rows.append("</table>")
    return "".join(rows)


def _doctor_table(result: StudyResult) -> str:
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
                + _e(text)
                + "".join(f"<br><span class='note'>{_e(f)}</span>" for f in finds)
            )
            if text not in " ".join(seen):
                seen.append(item)
        rows.append(
            f"<tr><td>{_e(opt)}</td><td>{_e(sched)}</td><td>{_e(verdicts)}</td>"
            f"<td>{'<br>'.join(seen) if seen else '–'}</td></tr>"
        )
    rows.append("</table>")
    return "".join(rows)


def _reference(result: StudyResult) -> str:
    ref = result.reference or {}
    paper = ref.get("paper_test_accuracy", {})
    cells = "".join(f"<th>{_e(k)}</th>" for k in paper)
    vals = "".join(f"<td class='num'>{100 * v:.0f}%</td>" for v in paper.values())
    model = ref.get("model")
    lr_row = "".join(
        f"<td class='num'>{_e(_metric(result, ref.get('lrkit_best_mean'), ref.get('lrkit_best_std')))}</td>"
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
        "<tr><td>paper (" + _e(ref.get("source", "")) + ")</td>" + vals + "</tr>"
        "<tr><td>lrkit study, best configuration</td>" + lr_row + "</tr></table>"
        f"<p class='note'>{_e(caveat)}</p>"
    )


def write_report(result: StudyResult, out_dir: str | Path) -> Path:
    """Write ``report.html`` and ``results.json`` into ``out_dir``; return the report's path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(
        json.dumps(result.to_dict(), indent=1, allow_nan=False), encoding="utf-8"
    )
    path = out / "report.html"
    path.write_text(render_html(result), encoding="utf-8")
    return path
