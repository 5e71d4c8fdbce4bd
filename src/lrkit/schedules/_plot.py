"""Drawing schedules: a matplotlib figure, or a text chart for terminals without it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from lrkit.schedules._base import Schedule

__all__ = ["change_points", "plot_schedule", "text_chart"]


def plot_schedule(
    schedule: Schedule,
    steps: int,
    *,
    path: str | Path | None = None,
    log: bool = False,
    ax: Any = None,
) -> Any:
    """Draw ``schedule`` over ``steps`` updates with matplotlib; save to ``path`` if given."""
    from lrkit._plotting import pyplot

    plt = pyplot(path, ax)

    ks = np.arange(int(steps))
    fig = None
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 3.5), dpi=120)
    ax.plot(ks, schedule(ks), lw=1.8, color="#1f77b4")
    ax.set_xlabel("optimizer update k")
    ax.set_ylabel("learning rate")
    if log:
        ax.set_yscale("log")
    ax.set_title(repr(schedule), fontsize=8)
    ax.grid(alpha=0.3)
    if fig is not None:
        fig.tight_layout()
        if path is not None:
            fig.savefig(path)
            plt.close(fig)
        return fig
    return ax.figure


def change_points(values: np.ndarray, *, limit: int = 12) -> list[int]:
    """Steps where the schedule jumps or changes slope abruptly (kinks and steps)."""
    if values.size < 3:
        return []
    d = np.diff(values)
    dd = np.abs(np.diff(d))
    scale = float(np.max(np.abs(values))) or 1.0
    # a kink: the slope changes by more than a smooth curve of this length could
    tol = max(
        1e-9 * scale, 50.0 * float(np.median(dd)) if dd.size else 0.0, 1e-3 * scale / values.size
    )
    idx = np.nonzero(dd > tol)[0] + 1
    points: list[int] = []
    for i in idx.tolist():
        # a jump between k-1 and k shows as two spikes (at k-1 and k): keep the step where it lands
        k = i + 1 if abs(d[i]) > abs(d[i - 1]) else i
        if not points or k - points[-1] > 1:
            points.append(k)
        if len(points) >= limit:
            break
    return points


def text_chart(values: np.ndarray, *, width: int = 64, height: int = 12, log: bool = False) -> str:
    """A plain-text chart of ``values`` (one column per bucket of steps)."""
    n = values.size
    cols = min(width, n)
    edges = np.linspace(0, n, cols + 1).astype(int)
    ys = np.array(
        [
            values[a:b].mean() if b > a else values[min(a, n - 1)]
            for a, b in zip(edges[:-1], edges[1:], strict=True)
        ]
    )
    if log:
        ys = np.log10(np.maximum(ys, np.finfo(float).tiny))
    lo, hi = float(ys.min()), float(ys.max())
    span = hi - lo or 1.0
    rows = np.clip(np.round((ys - lo) / span * (height - 1)).astype(int), 0, height - 1)
    grid = [[" "] * cols for _ in range(height)]
    for c, r in enumerate(rows):
        grid[height - 1 - r][c] = "•"
    top = 10**hi if log else hi
    bottom = 10**lo if log else lo
    labels = [f"{top:10.3g} ┤"] + [" " * 10 + " │"] * (height - 2) + [f"{bottom:10.3g} ┤"]
    lines = [lab + "".join(row) for lab, row in zip(labels, grid, strict=True)]
    lines.append(" " * 11 + "└" + "─" * cols)
    lines.append(" " * 12 + "0".ljust(cols - len(str(n - 1))) + str(n - 1))
    return "\n".join(lines)
