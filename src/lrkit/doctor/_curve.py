"""Features of the training loss and the LR that several rules share: the curve's start,
tail, progress and range (:class:`Curve`), the LR schedule's shape (:class:`LRShape`), early
blow-ups, spike events and the minibatch noise."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lrkit.doctor._diagnosis import Finding
from lrkit.doctor._log import Series
from lrkit.doctor._stats import block_medians, robust_sd, rolling_median
from lrkit.doctor._thresholds import Thresholds


@dataclass
class Curve:
    """Features of the training loss shared by the rules."""

    x: np.ndarray
    y: np.ndarray
    smooth: np.ndarray
    xb: np.ndarray
    yb: np.ndarray
    l0: float
    tail: float
    tail_mean: float
    ymin: float
    progress: float
    range: float
    features: dict[str, float] = field(default_factory=dict)
    lr: LRShape | None = None
    #: the first value was logged at step 0 of a per-step log: the loss at the initial
    #: weights, before any update (no LR has acted on it yet)
    first_is_initial: bool = False

    @classmethod
    def of(cls, s: Series) -> Curve:
        x, y = s.steps, s.values
        ok = np.isfinite(y)  # statistics on the finite values; check_diverged sees the rest
        x, y = x[ok], y[ok]
        n = len(y)
        # The first logged loss is (per step) the loss before any update; the median of the
        # first three guards against one odd minibatch without letting a blow-up in.
        # Sparse logs (per epoch, every few hundred steps) fall a lot between points: their
        # first value is the start.
        l0 = min(float(y[0]), float(np.median(y[:3]))) if n >= 100 else float(y[0]) if n else np.nan
        window = max(3, (n // 50) | 1)
        smooth = rolling_median(y, window) if n else y
        tail = float(np.median(y[-max(1, n // 10) :])) if n else float("nan")
        # Progress uses the mean: a run whose typical minibatch is fine but which spikes all
        # the time has not made progress (the epoch-average loss is what training sees).
        tail_mean = float(np.mean(y[-max(1, n // 10) :])) if n else float("nan")
        ymin = float(smooth.min()) if n else float("nan")
        scale = abs(l0) if l0 != 0 else 1.0
        xb, yb = block_medians(x, y) if n else (x, y)
        progress = (l0 - tail_mean) / scale
        return cls(x, y, smooth, xb, yb, l0, tail, tail_mean, ymin, progress, max(l0 - ymin, 0.0))


@dataclass(frozen=True)
class LRShape:
    """What the LR column says: its peak, the warm-up before it, and cuts after it."""

    peak: float
    peak_step: float
    start: float
    end: float
    warmup: bool
    cuts: int

    @property
    def constant(self) -> bool:
        return self.end >= 0.9 * self.peak and not self.warmup

    @classmethod
    def of(cls, s: Series | None) -> LRShape | None:
        if s is None:
            return None
        f = s.finite()
        v = f.values
        if len(v) == 0 or not (v > 0).any():
            return None
        i = int(np.argmax(v))
        peak = float(v[i])
        # A cut: the LR drops by at least 2x between consecutive logged values.
        after = v[i:]
        cuts = int(np.sum((after[1:] > 0) & (after[1:] < 0.5 * after[:-1])))
        warmup = i > 0 and float(v[0]) <= 0.5 * peak
        return cls(peak, float(f.steps[i]), float(v[0]), float(v[-1]), warmup, cuts)


def _block_start(c: Curve, j: int) -> float:
    """The first step of block ``j`` (block medians' x are mid-block)."""
    return float(np.array_split(c.x, len(c.xb))[j][0])


def _span(x: np.ndarray, i: int, j: int) -> tuple[float, float]:
    return float(x[i]), float(x[j])


def _whole_run(
    c: Curve, kind: str, statistic: str, value: float, message: str, evidence: str = "strong"
) -> Finding:
    """An ``error`` finding whose evidence is the whole (finite) curve."""
    span = (float(c.x[0]), float(c.x[-1]))
    return Finding(kind, "error", span, statistic, value, message, evidence)


def _blowup(c: Curve, t: Thresholds) -> tuple[int, int, float] | None:
    """(start, end, peak ratio) of an early rise above ``blowup × L0``, if any."""
    n = len(c.y)
    if n < 10 or c.l0 <= 0:
        return None
    m = max(3, int(0.3 * n))
    head = c.smooth[:m]
    # Where the first logged value lies above L0 (L0 is then the median of the first three)
    # and the first four values fall one after the other, the curve fell fast between its first
    # logged points: it has to come down to the threshold before anything above it is a rise
    # (session 14: Hugging Face logs averaged over 10-100 steps, 1.36 -> 0.47 -> 0.27, read as
    # "spikes to 2x its initial value"). An erratic start (33889 -> 4091 -> 1849 -> 2077) is
    # not that.
    skip = 0
    if c.y[0] > t.blowup * c.l0 and bool(np.all(np.diff(c.y[:4]) < 0)):
        down = np.flatnonzero(head <= t.blowup * c.l0)
        skip = int(down[0]) if down.size else m
    above = np.flatnonzero(head > t.blowup * c.l0)
    above = above[above >= skip]
    # A blow-up lasting a few steps hides under the running median: count raw values too.
    raw = np.flatnonzero(c.y[:m] > t.blowup_raw * c.l0)
    raw = raw[raw >= skip]
    if above.size == 0 and raw.size < 2:
        return None
    start = int(above[0]) if above.size else int(raw[0])
    peak = max(float(head.max()), float(c.y[raw].max()) if raw.size >= 2 else 0.0)
    # The rise must clear the loss's minibatch noise (the spread of consecutive changes / √2):
    # a start read off one noisy value (a sparse log of per-step losses) sits anywhere in it.
    if t.blowup_noise > 0 and peak - c.l0 < t.blowup_noise * robust_sd(np.diff(c.y)) / np.sqrt(2):
        return None
    below = np.flatnonzero(c.smooth[start:] <= c.l0)
    end = start + int(below[0]) if below.size else n - 1
    return start, end, peak / c.l0


def _early_rise(c: Curve, kind: str, blow: tuple[int, int, float], message: str) -> Finding:
    """The finding for an early blow-up (``blow`` from :func:`_blowup`) under the verdict ``kind``
    (``unstable`` when the run then trains, else ``lr_too_high``)."""
    s, e, peak = blow
    return Finding(kind, "error", _span(c.x, s, e), "early_rise_over_initial", peak, message)


@dataclass(frozen=True)
class _Spikes:
    events: list[np.ndarray]
    first: int
    last: int
    biggest: float

    @property
    def count(self) -> int:
        return len(self.events)


def _spikes(c: Curve, t: Thresholds) -> _Spikes | None:
    """Spike events: runs of values far above the running median (after the first 5%).

    Minibatch losses are skewed (multiplicative noise), so "far" is judged on the log scale
    when the loss is positive: a loss that often doubles between minibatches is noisy, not
    spiking; a loss that jumps far beyond its usual spread is."""
    n = len(c.y)
    if n < 10 or c.range <= 0:
        return None
    r = c.y - c.smooth
    if (c.y > 0).all() and (c.smooth > 0).all():
        lr_ = np.log(c.y) - np.log(c.smooth)
        mad = robust_sd(lr_)
        far = lr_ > max(t.spike_z * mad, np.log1p(t.spike_rel))
    else:
        mad = robust_sd(r)
        far = r > np.maximum(t.spike_z * mad, t.spike_rel * np.abs(c.smooth))
    # ... and a sizeable part of the loss range (so the noise of a curve that barely moves
    # is not a "spike"), and spike_tail times beyond the noise's own upper tail (the 95th
    # percentile above the median): a heavy-tailed per-batch loss — a margin or hinge loss
    # that is 0 for most batches — puts 5% of its values far above its median all run long
    # (session 14: ranking and classifier runs read as "unstable").
    tail95 = float(np.quantile(r, 0.95) - np.median(r))
    spikes = far & (r > t.spike_range * c.range) & (r > t.spike_tail * tail95)
    spikes[: max(1, n // 20)] = False  # the first steps are a transient, judged by _blowup
    idx = np.flatnonzero(spikes)
    if idx.size == 0:
        return None
    gap = max(3, (n // 50) | 1)
    events = np.split(idx, np.flatnonzero(np.diff(idx) > gap) + 1)
    biggest = max(float(r[e].max()) for e in events)
    if len(events) < t.spike_events and biggest < c.range:
        return None
    return _Spikes(events, int(idx[0]), int(idx[-1]), biggest)


def _stuck(c: Curve, t: Thresholds) -> bool:
    return abs(c.progress) < t.stuck_progress and c.range < t.stuck_progress * abs(c.l0)


def _tail_noise(c: Curve, i: int) -> tuple[float, float]:
    """(robust SD of the minibatch noise, median level) of the curve from index ``i`` on."""
    r = (c.y - c.smooth)[i:]
    noise = robust_sd(r)
    return noise, float(np.median(c.y[i:]))
