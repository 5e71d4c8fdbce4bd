"""The frozen result of a range test."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lrkit.errors import FinderError
from lrkit.finder._finetune import Detection, TrialOutcome
from lrkit.finder._suggest import METHODS, ema, fit_curve, lrkit_interval, suggest

__all__ = ["FinderResult", "make_result"]


@dataclass(frozen=True)
class FinderResult:
    """Outcome of an LR range test.

    Attributes:
        suggestion: the LR suggested by :attr:`method`.
        interval: ``(low, high)``, a plausible LR range around the suggestion.
        method: the rule behind :attr:`suggestion` (``"lrkit"`` for ``"auto"``).
        lrs, losses: the LR of each step and its loss (the median over repeats).
        smoothed: bias-corrected EMA of :attr:`losses` (used by the EMA-based rules).
        fitted: the lag-free fit the ``lrkit`` rule reads (see :func:`lrkit.finder.fit_curve`).
        suggestions: the LR suggested by every method.
        diverged_at: LR at which the loss diverged and the sweep stopped, else ``None``.
        repeat_suggestions: the default rule applied to each repeat on its own.
        notes: caveats about this result that the caller should read (also issued as
            warnings by :func:`lrkit.find_lr`), e.g. for plain SGD.
        search_range: the LR range a follow-up search should cover (``lrkit.tune``'s
            ``auto`` strategy reads it): ``None`` means the interval; for plain SGD the fitted
            minimum / 3.5 to 3.5× it (also its interval), where its best LR was found in the
            finder benchmark.
        mode, steps, start_lr, end_lr, repeats: the sweep's settings.
        regime: ``"finetune"`` when the fine-tuning rule made the suggestion (a pretrained
            model, or ``regime="finetune"``), else ``"scratch"`` (the range-test rule).
        detection: how ``regime="auto"`` read the curve (pretrained start or not), else ``None``.
        trials: the fine-tuning trials (their LRs and validation losses), when they ran
            (``trial_steps > 0``).
    """

    suggestion: float
    interval: tuple[float, float]
    method: str
    lrs: tuple[float, ...]
    losses: tuple[float, ...]
    smoothed: tuple[float, ...]
    fitted: tuple[float, ...]
    suggestions: dict[str, float]
    diverged_at: float | None
    mode: str
    steps: int
    start_lr: float
    end_lr: float
    repeats: int = 1
    repeat_suggestions: tuple[float, ...] = field(default_factory=tuple)
    notes: tuple[str, ...] = field(default_factory=tuple)
    search_range: tuple[float, float] | None = None
    regime: str = "scratch"
    detection: Detection | None = None
    trials: TrialOutcome | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of every field."""

        def clean(v: Any) -> Any:
            if isinstance(v, float):
                return v if math.isfinite(v) else None
            if isinstance(v, list | tuple):
                return [clean(x) for x in v]
            if isinstance(v, dict):
                return {k: clean(x) for k, x in v.items()}
            return v

        return {
            "suggestion": clean(self.suggestion),
            "interval": clean(list(self.interval)),
            "method": self.method,
            "suggestions": clean(dict(self.suggestions)),
            "diverged_at": clean(self.diverged_at),
            "mode": self.mode,
            "steps": self.steps,
            "start_lr": self.start_lr,
            "end_lr": self.end_lr,
            "repeats": self.repeats,
            "repeat_suggestions": clean(list(self.repeat_suggestions)),
            "notes": list(self.notes),
            "search_range": None if self.search_range is None else clean(list(self.search_range)),
            "regime": self.regime,
            "detection": None if self.detection is None else self.detection.to_dict(),
            "trials": None if self.trials is None else self.trials.to_dict(),
            "lrs": clean(list(self.lrs)),
            "losses": clean(list(self.losses)),
            "smoothed": clean(list(self.smoothed)),
            "fitted": clean(list(self.fitted)),
        }

    def plot(self, path: str | None = None, *, ax: Any = None) -> Any:
        """Loss against LR (log scale) with the suggestion, its interval and the other methods.

        Returns the matplotlib Figure; saves it to ``path`` when given.
        """
        from lrkit._plotting import pyplot

        plt = pyplot(path, ax)

        if ax is None:
            fig, ax = plt.subplots(figsize=(7, 4.2))
        else:
            fig = ax.figure
        lrs = np.asarray(self.lrs)
        ax.plot(lrs, self.losses, color="0.75", lw=0.8, label="loss")
        ax.plot(lrs, self.smoothed, color="C0", lw=1.2, label="EMA")
        ax.plot(lrs, self.fitted, color="C1", lw=1.8, label="fit (lrkit)")
        ax.axvspan(*self.interval, color="C2", alpha=0.15, label="interval")
        ax.axvline(self.suggestion, color="C2", lw=2, label=f"{self.method}: {self.suggestion:.2g}")
        for i, (name, lr) in enumerate(sorted(self.suggestions.items())):
            if name != self.method and math.isfinite(lr):
                ax.axvline(lr, color=f"C{i + 3}", ls="--", lw=1, label=f"{name}: {lr:.2g}")
        ax.set_xscale("log" if self.mode == "exp" else "linear")
        finite = np.asarray(self.fitted)
        lo, hi = float(np.min(finite)), float(np.max(finite[: max(1, len(finite) // 2)]))
        pad = 0.15 * max(hi - lo, 1e-12)
        ax.set_ylim(lo - pad, max(hi, float(self.losses[0])) + 3 * pad)
        ax.set(xlabel="learning rate", ylabel="loss", title="LR range test")
        ax.legend(fontsize=8)
        fig.tight_layout()
        if path is not None:
            fig.savefig(path)
        return fig


#: Below this relative fall of the fitted loss, the range test carries little signal.
FLAT_DROP = 0.05


def _curve_notes(lr: np.ndarray, lo: np.ndarray) -> tuple[str, ...]:
    """Caveats read off the curve itself: a test that barely lowered the loss."""
    finite = np.isfinite(lo)
    n = len(lo) if finite.all() else int(np.argmin(finite))
    if n < 8:
        return ()
    start = float(np.median(lo[: max(3, n // 10)]))
    fitted_min = float(np.min(fit_curve(lr[:n], lo[:n])))
    if start <= 0 or not math.isfinite(start):
        return ()  # a relative fall means nothing for a loss that is not positive
    drop = (start - fitted_min) / start
    if drop >= FLAT_DROP:
        return ()
    return (
        f"the loss fell by only {100 * max(drop, 0.0):.0f}% over the range test, so its curve "
        "(and the suggestion) carries little signal; run more steps (steps=), larger "
        "batches, or check that the model can learn this data at all",
    )


def make_result(
    lrs: Any,
    losses: Any,
    *,
    method: str = "auto",
    smoothing: float = 0.98,
    diverged_at: float | None = None,
    mode: str = "exp",
    steps: int | None = None,
    start_lr: float | None = None,
    end_lr: float | None = None,
    repeats: int = 1,
    repeat_suggestions: tuple[float, ...] = (),
    notes: tuple[str, ...] = (),
) -> FinderResult:
    """Apply every suggestion rule to a finished curve and pack a :class:`FinderResult`."""
    lr = np.asarray(lrs, dtype=float)
    lo = np.asarray(losses, dtype=float)
    key = "lrkit" if method.lower() == "auto" else method.lower()
    suggestions = {m: suggest(lr, lo, m, smoothing=smoothing) for m in METHODS}
    if key not in suggestions:  # suggest() above would have raised for a bad name already
        raise FinderError(f"unknown method {method!r}")
    low, high = lrkit_interval(lr, lo)
    best = suggestions[key]
    notes = (*_curve_notes(lr, lo), *notes)
    # The interval belongs to the lrkit rule; widen it so it always holds the chosen suggestion.
    interval = (min(low, best), max(high, best))
    return FinderResult(
        suggestion=best,
        interval=interval,
        method=key,
        lrs=tuple(float(v) for v in lr),
        losses=tuple(float(v) for v in lo),
        smoothed=tuple(float(v) for v in ema(lo, smoothing)),
        fitted=tuple(float(v) for v in fit_curve(lr, lo)),
        suggestions=suggestions,
        diverged_at=None if diverged_at is None else float(diverged_at),
        mode=mode,
        steps=int(steps if steps is not None else len(lr)),
        start_lr=float(start_lr if start_lr is not None else lr[0]),
        end_lr=float(end_lr if end_lr is not None else lr[-1]),
        repeats=repeats,
        repeat_suggestions=tuple(repeat_suggestions),
        notes=tuple(notes),
    )
