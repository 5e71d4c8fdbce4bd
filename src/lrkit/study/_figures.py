"""The report's figures (matplotlib, Agg backend, imported lazily)."""

from __future__ import annotations

import base64
import io
import math
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from lrkit.study._result import StudyResult

__all__ = [
    "curves_figure",
    "finals_figure",
    "finder_figure",
    "png_base64",
    "sensitivity_figure",
]

_COLORS = {
    "constant": "C0",
    "step": "C1",
    "exponential": "C2",
    "cosine": "C3",
    "one_cycle": "C4",
    "wsd": "C5",
    "plateau": "C6",
}


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def png_base64(fig: Any, dpi: int = 96) -> str:
    """The figure as a base64 PNG (and closed)."""
    plt = _plt()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _scale(result: StudyResult) -> tuple[float, str]:
    name = result.metric_name
    return (100.0, f"val {name} (%)") if result.accuracy_like else (1.0, f"val {name}")


def _per_optimizer(result: StudyResult) -> tuple[Any, float, str, int]:
    """pyplot, the metric's scale and axis label, and the number of optimizer columns."""
    sc, ylabel = _scale(result)
    return _plt(), sc, ylabel, len(result.optimizers)


def finder_figure(result: StudyResult) -> Any:
    plt = _plt()
    opts = [o for o in result.optimizers if "lrs" in result.finder.get(o, {})]
    n = max(1, len(opts))
    fig, axes = plt.subplots(1, n, figsize=(max(7.0, 5.4 * n), 3.6), squeeze=False)
    for ax, opt in zip(axes[0], opts):
        f = result.finder[opt]
        lrs = np.asarray(f["lrs"], dtype=float)
        loss = np.asarray([np.nan if v is None else v for v in f["losses"]], dtype=float)
        smooth = np.asarray([np.nan if v is None else v for v in f["smoothed"]], dtype=float)
        ax.plot(lrs, loss, color="0.7", lw=0.8, label="loss")
        ax.plot(lrs, smooth, color="C0", lw=1.6, label="smoothed")
        lo, hi = f["interval"]
        ax.axvspan(lo, hi, color="C2", alpha=0.18, label="interval")
        ax.axvline(f["suggestion"], color="C2", lw=2, label=f"suggestion {f['suggestion']:.2g}")
        grid = f.get("grid") or []
        if grid:
            ax.plot(grid, [0.04] * len(grid), "^", color="k", ms=6, label="sweep grid",
                    transform=ax.get_xaxis_transform())  # fmt: skip
        fin = loss[np.isfinite(loss)]
        if len(fin):
            top = min(float(np.nanmax(fin)), 3.0 * float(fin[: max(1, len(fin) // 5)].mean()))
            ax.set_ylim(float(fin.min()) * 0.9, top)
        ax.set(
            xscale="log",
            xlabel="learning rate",
            ylabel="training loss",
            title=f"range test · {opt}",
        )
        ax.legend(fontsize=7, loc="upper left")
    if not opts:
        axes[0][0].text(0.5, 0.5, "range test unavailable", ha="center", va="center")
    fig.tight_layout()
    return fig


def sensitivity_figure(result: StudyResult) -> Any:
    plt, sc, ylabel, n = _per_optimizer(result)
    fig, axes = plt.subplots(1, n, figsize=(max(8.5, 5.8 * n), 4.0), squeeze=False, sharey=True)
    for ax, opt in zip(axes[0], result.optimizers):
        low = math.inf
        for c in result.curves:
            if c.optimizer != opt:
                continue
            x = np.asarray(c.lrs)
            y = np.asarray(c.final_metric) * sc
            color = _COLORS.get(c.schedule, "k")
            ax.plot(x, y, "o-", ms=4, lw=1.4, color=color, label=c.schedule)
            if np.isfinite(y).any():
                low = min(low, float(np.nanmin(y)))
            if c.best_lr is not None:
                i = c.lrs.index(c.best_lr)
                ax.plot([c.best_lr], [y[i]], "*", ms=12, color=color, mec="k", mew=0.5)
        for c in result.curves:
            if c.optimizer == opt and any(c.diverged):
                xs = [lr for lr, d in zip(c.lrs, c.diverged) if d]
                base = low if math.isfinite(low) else 0.0
                ax.plot(xs, [base] * len(xs), "x", color=_COLORS.get(c.schedule, "k"), ms=8)
        ax.set(xscale="log", xlabel="peak learning rate", title=f"final metric vs LR · {opt}")
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel(ylabel)
    axes[0][-1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    return fig


def curves_figure(result: StudyResult) -> Any:
    plt, sc, ylabel, n = _per_optimizer(result)
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(
        2,
        n,
        figsize=(max(8.5, 5.8 * n), 6.2),
        squeeze=False,
        gridspec_kw={"height_ratios": [2.2, 1]},
    )
    for j, opt in enumerate(result.optimizers):
        ax, ax_lr = axes[0][j], axes[1][j]
        for sched in result.schedules:
            rs = [r for r in result.runs if r.optimizer == opt and r.schedule == sched]
            if not rs:
                continue
            m = min(len(r.val_metric) for r in rs)
            if m == 0:
                continue
            y = np.array([r.val_metric[:m] for r in rs], dtype=float) * sc
            ep = np.arange(1, m + 1)
            color = _COLORS.get(sched, "k")
            ax.plot(ep, y.mean(axis=0), lw=1.6, color=color, label=sched)
            if len(rs) > 1:
                ax.fill_between(ep, y.min(axis=0), y.max(axis=0), color=color, alpha=0.15)
            ax_lr.plot(ep, rs[0].lr_at_epoch[:m], lw=1.2, color=color)
        if result.target is not None:
            ax.axhline(result.target * sc, color="k", ls=":", lw=1, label="target")
        ax.set(xlabel="epoch", ylabel=ylabel, title=f"learning curves at the best LR · {opt}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
        ax_lr.set(xlabel="epoch", ylabel="LR (end of epoch)", yscale="log")
        for a in (ax, ax_lr):
            a.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax_lr.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def finals_figure(result: StudyResult) -> Any:
    plt = _plt()
    sc, ylabel = _scale(result)
    rows = [s for s in result.summaries if s.metrics]
    fig, ax = plt.subplots(figsize=(7.5, 0.38 * len(rows) + 1.2))
    for i, s in enumerate(rows):
        vals = np.asarray(s.metrics, dtype=float) * sc
        color = _COLORS.get(s.schedule, "k")
        ax.plot(vals, [i] * len(vals), "o", color=color, alpha=0.6, ms=5)
        if len(vals) > 1 and math.isfinite(s.std):
            ax.errorbar([s.mean * sc], [i], xerr=[s.std * sc], fmt="|", color="k", ms=14, capsize=3)
        else:
            ax.plot([s.mean * sc], [i], "|", color="k", ms=14)
    ax.set_yticks(range(len(rows)), [s.label for s in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set(xlabel=f"final {ylabel}  (dots: seeds; bar: mean ± SD)")
    ax.grid(alpha=0.3, axis="x")
    fig.tight_layout()
    return fig
