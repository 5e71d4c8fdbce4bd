"""``write_report``: one self-contained HTML file (inline CSS, PNGs as data URIs, no script)."""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path

from lrkit.study._result import Recommendation, StudyResult
from lrkit.study._schedules import DESCRIPTIONS
from lrkit.study._tables import (
    basin_table,
    doctor_table,
    e,
    img,
    metric,
    num,
    reference_table,
    summary_table,
)

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
pre{background:#f0f2f5;padding:8px 10px;font-size:12px;overflow-x:auto}
"""


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
    add(f"<title>lrkit study · {e(t['name'])}</title><style>{_CSS}</style></head><body><main>")
    add(f"<h1>How much does the learning rate matter for <code>{e(t['name'])}</code>?</h1>")
    now = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    add(
        f"<p class='sub'>lrkit study · budget <b>{e(b['name'])}</b> · {result.epochs} epochs "
        f"per run · optimizers {e(', '.join(result.optimizers))} · {len(result.seeds)} fresh "
        f"seed(s) per configuration · {t['n_train']} training / {t['n_val']} validation "
        f"samples · {num(result.timings.get('total'), '.0f')} s · {e(now)}</p>"
    )

    # Recommendation first: what a newcomer came for.
    rec = result.recommendation
    if rec is not None:
        add(
            "<div class='rec'><b class='big'>Recommendation: "
            f"{e(rec.optimizer)} · {e(rec.schedule)} · LR {e(format(rec.lr, '.3g'))}</b>"
        )
        add(f"<p>{e(rec.text)}</p><ul>")
        for ev in rec.evidence:
            add(f"<li>{e(ev)}</li>")
        add("</ul></div>")
        add(_next_steps(rec))
    else:
        add("<div class='warn'><b>No recommendation</b>: every configuration diverged.</div>")

    add("<div class='warn'><b>Read the differences with care.</b> ")
    add(e(_noise_text(result)))
    add("</div>")
    if result.statements:
        add("<h2>Which differences are real?</h2><ul>")
        for s in result.statements:
            add(f"<li>{e(s)}</li>")
        add("</ul>")

    add("<h2>Final results at each schedule's best LR</h2>")
    add(summary_table(result))
    add(
        f"<p class='note'>{_VERDICTS_HELP} Δ is in the metric's units (points for accuracy); "
        "time to target is the median over the seeds that reached it.</p>"
    )
    add(img(png_base64(finals_figure(result)), "final metric per configuration and seed"))

    add("<h2>Sensitivity: final metric against the learning rate</h2>")
    add(
        "<p class='note'>One training per grid LR (seed 0, the same number of epochs as the final "
        "runs). A wide plateau near the top means the schedule forgives a mis-set LR; ★ marks "
        "each schedule's best grid LR, × a diverged run. The LR axis is the peak LR of the "
        "schedule.</p>"
    )
    add(img(png_base64(sensitivity_figure(result)), "final metric against the learning rate"))
    add(basin_table(result))
    if result.pbt is not None:
        add(_pbt_section(result))

    add("<h2>Range test (LR finder)</h2>")
    add(
        "<p class='note'>Training loss while the LR grows exponentially from 1e-6 to 10 "
        "(lrkit.find_lr); the shaded interval is the finder's plausible range, the ticks the "
        "grid of the sensitivity sweep, centred on that interval.</p>"
    )
    add(img(png_base64(finder_figure(result)), "LR range test"))
    for opt in result.optimizers:
        f = result.finder.get(opt, {})
        if "error" in f:
            add(f"<p class='warn'>{e(opt)}: range test failed: {e(f['error'])}</p>")

    add("<h2>Learning curves</h2>")
    add(
        "<p class='note'>Validation metric per epoch at each schedule's best LR: the mean over "
        "seeds, the band spans the lowest and highest seed. Below: the LR each schedule "
        "used.</p>"
    )
    add(img(png_base64(curves_figure(result)), "learning curves"))

    add("<h2>The doctor's verdicts</h2>")
    add(doctor_table(result))

    if result.reference is not None:
        add(reference_table(result))

    add("<h2>Schedules</h2><ul>")
    for s in result.schedules:
        add(f"<li><b>{e(s)}</b>: {e(DESCRIPTIONS.get(s, ''))}</li>")
    add("</ul>")
    add("<h2>How this study was run</h2><ul>")
    add(f"<li>Budget: {e(json.dumps(b))}</li>")
    add(
        "<li>Optimizers: sgd = plain SGD (no momentum), sgd_momentum = SGD with momentum 0.9, "
        "adam and adamw = torch defaults (AdamW weight decay 0.01); batch size "
        f"{e(result.task.get('batch_size'))}.</li>"
    )
    add(
        "<li>LR grid per optimizer: "
        + "; ".join(
            f"{e(o)}: {e(', '.join(format(v, '.3g') for v in result.finder[o].get('grid', [])))}"
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
        f"<li>Target for 'time to target': {e(result.target_rule)} "
        f"= {e(metric(result, result.target))}. Seconds are wall-clock on a shared machine; "
        "epochs are exact.</li>"
    )
    timing = ", ".join(f"{k} {v:.1f} s" for k, v in result.timings.items())
    add(f"<li>Time spent: {e(timing)}.</li>")
    add(f"<li>Environment: {e(json.dumps(result.environment))}</li>")
    for n in result.notes:
        add(f"<li>{e(n)}</li>")
    add("</ul><p class='note'>Every number in this report is in results.json next to it.</p>")
    add("</main></body></html>")
    return "".join(p)


def _pbt_section(result: StudyResult) -> str:
    """PBT against its equal-cost constant-LR grid: the sentence and the schedule found."""
    d = result.pbt or {}
    out = ["<h2>Population-based training against the equal-cost grid</h2>"]
    out.append(f"<p>{e(d.get('sentence', ''))}</p>")
    lo, hi = d.get("low"), d.get("high")
    out.append(
        f"<p class='note'>lrkit.pbt: {e(d.get('population'))} members ({e(d.get('optimizer'))}, "
        f"{e(d.get('epochs'))} epochs, seed {e(d.get('seed'))}, initial LRs log-spaced over "
        f"{num(lo, '.3g')}–{num(hi, '.3g')}, the span of the sensitivity grid) and the same "
        "initial LRs trained at a constant rate in the same vectorised run, all from the same "
        "weights on the same batches; both sides are chosen and scored on the validation set. "
        "The best constant LR here is the best of that equal-cost grid, not of the study's "
        "sweep.</p>"
    )
    if d.get("schedule_text"):
        out.append(
            "<p>The schedule PBT discovered (<code>lrkit.schedules.parse</code> reads it): "
            f"<code>{e(d['schedule_text'])}</code></p>"
        )
    return "".join(out)


def _next_steps(rec: Recommendation) -> str:
    """What would settle the open comparisons, and the winner in code."""
    out = ["<h2>Next steps</h2><ul>"]
    out += [f"<li>{e(step)}</li>" for step in rec.next_steps]
    out.append("</ul>")
    if rec.schedule_text:
        out.append(
            f"<p>The winner's schedule as lrkit text (<code>lrkit.schedules.parse</code> reads "
            f"it; <code>lrkit plot</code> draws it): <code>{e(rec.schedule_text)}</code></p>"
        )
    names = {"pytorch": "PyTorch", "lightning": "Lightning", "keras": "Keras"}
    for framework, code in rec.snippets.items():  # collapsed: <details> needs no script
        title = e(names.get(framework, framework))
        out.append(f"<details><summary>{title}</summary><pre>{e(code)}</pre></details>")
    return "".join(out)


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
