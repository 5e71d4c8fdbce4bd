"""The one way lrkit reaches matplotlib: imported lazily, with an install hint when missing."""

from __future__ import annotations

from typing import Any

from lrkit.errors import require

__all__ = ["figure_axes", "pyplot"]


def pyplot(path: Any = None, ax: Any = None) -> Any:
    """Return ``matplotlib.pyplot`` (``pip install 'lrkit[plot]'`` when missing).

    When the figure only goes to a file (``path`` given, no caller-owned ``ax``), the headless
    Agg backend is selected first, unless pyplot already chose a backend: plotting from a
    script or CI never needs a display.
    """
    require("matplotlib", "plot")
    import matplotlib

    if path is not None and ax is None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def figure_axes(path: Any = None, ax: Any = None, figsize: tuple[float, float] = (7, 4.2)) -> Any:
    """``(fig, ax)`` for a result's ``plot``: the caller's ``ax`` and its figure, or a new one."""
    plt = pyplot(path, ax)
    if ax is None:
        return plt.subplots(figsize=figsize)
    return ax.figure, ax
