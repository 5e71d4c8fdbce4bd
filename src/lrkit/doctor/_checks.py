"""The rules. Each looks at the curve and returns findings for one verdict.

Ideas from AUTOTRAINER (Zhang et al., ICSE'21: NaN / exploding loss, oscillation, slow
convergence, repairs by LR × 0.1^j or × 10^j), DeepDiagnosis (Wardat et al., ICSE'22), UMLAUT
(Schoop et al., CHI'21: validation worsens while training does not = overfitting) and Google's
deep learning tuning playbook (instability → warmup, clipping; plateau → decay). The statistics
are our own: rolling medians, block medians, Theil–Sen slopes and Mann–Kendall tests (SciPy).

Notation: ``L0`` is the loss at the start (median of the first 3 values, or the first value of
a curve shorter than 30 points), ``tail`` the median of the last 10% of the values, ``progress``
``= (L0 − tail) / |L0|``, ``smooth`` a running median over ``max(3, n/50)`` points and
``range = L0 − min(smooth)``. Every threshold is a field of :class:`Thresholds`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lrkit.doctor._diagnosis import Finding
from lrkit.doctor._log import Log, Series
from lrkit.doctor._stats import Trend, block_medians, rolling_median, trend

__all__ = ["Curve", "Thresholds", "run_checks"]


@dataclass(frozen=True)
class Thresholds:
    """Every number the rules use (defaults chosen on the benchmark's tuning split)."""

    #: diverged: the tail is this many times the initial loss.
    explode: float = 2.0
    #: lr_too_high: the smoothed loss rises this many times above L0 in the first 30% ...
    blowup: float = 1.5
    #: ... or at least two raw values rise above blowup_raw × L0 there ...
    blowup_raw: float = 3.0
    #: ... and progress stays below this (with more progress, the spike is "unstable").
    blowup_progress: float = 0.5
    #: lr_too_high: the second half trends up (Mann–Kendall p below this) and the tail is
    #: this many times the best smoothed loss.
    rise_p: float = 0.01
    rise_factor: float = 1.25
    #: spikes: a value above the running median by > spike_z robust SDs, by > spike_range ×
    #: range and by > spike_rel × the median itself; spike_events events (or one as large as
    #: the range) count. With progress ≥ blowup_progress they make the run "unstable", with
    #: less (or with ≥ spike_events_high events) "lr_too_high".
    spike_z: float = 6.0
    spike_range: float = 0.25
    spike_rel: float = 0.5
    spike_events: int = 3
    spike_events_high: int = 8
    #: unstable (short, per-epoch curves): direction changes in the second half and their
    #: median size relative to range.
    osc_changes: float = 0.5
    osc_size: float = 0.1
    #: overfitting: validation loss rises this fraction above its minimum, at least
    #: overfit_persist of the later epochs stay > half that rise above it, while the training
    #: loss stays within overfit_train of its value at the minimum.
    overfit_rise: float = 0.1
    overfit_persist: float = 0.75
    overfit_train: float = 1.1
    #: lr_too_low (only for quiet curves: minibatch noise over the last 40% below
    #: quiet_noise × its level): progress below low_progress while the last third still
    #: falls at ≥ low_ratio × the slope of the first third (Theil–Sen, Mann–Kendall p < low_p) ...
    low_progress: float = 0.8
    low_ratio: float = 0.3
    low_p: float = 0.05
    #: ... or the loss hardly moved (|progress| and range below stuck_progress × L0) and never
    #: rose above stuck_excursion × L0 (if it did, a too-high LR killed the network).
    stuck_progress: float = 0.05
    stuck_excursion: float = 1.5
    #: ... or progress below quiet_progress while the last third still falls (p < low_p).
    quiet_progress: float = 0.5
    quiet_noise: float = 0.05
    #: plateau: progress at least plateau_progress; over the last ≥ 30% either the minibatch
    #: noise (robust SD around the running median) is ≥ plateau_noise × the level (a noise
    #: floor) and the Theil–Sen drop is < plateau_change × level or < plateau_drop_noise ×
    #: noise (or its slope interval holds 0), or the curve is quiet and flat (slope interval
    #: holds 0 and the drop is < plateau_change × level: a stall); the level is >
    #: plateau_level × L0 and the LR was not decayed during the stall (end LR >
    #: plateau_lr_decay × LR at its start).
    plateau_progress: float = 0.2
    plateau_change: float = 0.05
    plateau_noise: float = 0.05
    plateau_drop_noise: float = 4.0
    plateau_level: float = 0.1
    plateau_lr_decay: float = 0.3


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

    @classmethod
    def of(cls, s: Series) -> Curve:
        x, y = s.steps, s.values
        ok = np.isfinite(y)  # statistics on the finite values; check_diverged sees the rest
        x, y = x[ok], y[ok]
        n = len(y)
        # The first logged loss is (per step) the loss before any update; the median of the
        # first three guards against one odd minibatch without letting a blow-up in.
        l0 = min(float(y[0]), float(np.median(y[:3]))) if n >= 30 else float(y[0]) if n else np.nan
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


def _block_start(c: Curve, j: int) -> float:
    """The first step of block ``j`` (block medians' x are mid-block)."""
    return float(np.array_split(c.x, len(c.xb))[j][0])


def _span(x: np.ndarray, i: int, j: int) -> tuple[float, float]:
    return float(x[i]), float(x[j])


def check_diverged(log: Log, c: Curve, t: Thresholds) -> list[Finding]:
    out: list[Finding] = []
    for s in (log.loss, log.val_loss):
        if s is None or len(s) == 0:
            continue
        bad = ~np.isfinite(s.values)
        if not bad.any():
            continue
        first = int(np.flatnonzero(bad)[0])
        after = bad[first:]
        what = "NaN" if np.isnan(s.values[first]) else "infinite"
        if bad[-1] or after.mean() >= 0.5:
            out.append(
                Finding(
                    "diverged",
                    "error",
                    _span(s.steps, first, len(s) - 1),
                    "nonfinite_values",
                    float(bad.sum()),
                    f"{s.name} is {what} from {log.x_name} {s.steps[first]:g} on "
                    f"({int(bad.sum())} of {len(s)} values non-finite)",
                )
            )
        else:
            out.append(
                Finding(
                    "unstable",
                    "error",
                    _span(s.steps, first, int(np.flatnonzero(bad)[-1])),
                    "isolated_nonfinite",
                    float(bad.sum()),
                    f"{s.name} has {int(bad.sum())} isolated non-finite values, then recovers",
                )
            )
    if len(c.y) >= 4 and c.l0 > 0 and c.tail > t.explode * c.l0:
        k = max(1, len(c.y) // 10)
        out.append(
            Finding(
                "diverged",
                "error",
                _span(c.x, len(c.y) - k, len(c.y) - 1),
                "tail_over_initial",
                c.tail / c.l0,
                f"the loss ends at {c.tail:.4g}, {c.tail / c.l0:.1f}× its initial {c.l0:.4g}: "
                "it is exploding",
            )
        )
    return out


def _blowup(c: Curve, t: Thresholds) -> tuple[int, int, float] | None:
    """(start, end, peak ratio) of an early rise above ``blowup × L0``, if any."""
    n = len(c.y)
    if n < 10 or c.l0 <= 0:
        return None
    m = max(3, int(0.3 * n))
    head = c.smooth[:m]
    above = np.flatnonzero(head > t.blowup * c.l0)
    # A blow-up lasting a few steps hides under the running median: count raw values too.
    raw = np.flatnonzero(c.y[:m] > t.blowup_raw * c.l0)
    if above.size == 0 and raw.size < 2:
        return None
    start = int(above[0]) if above.size else int(raw[0])
    peak = max(float(head.max()), float(c.y[raw].max()) if raw.size >= 2 else 0.0)
    below = np.flatnonzero(c.smooth[start:] <= c.l0)
    end = start + int(below[0]) if below.size else n - 1
    return start, end, peak / c.l0


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
    """Spike events: runs of values far above the running median (after the first 5%)."""
    n = len(c.y)
    if n < 10 or c.range <= 0:
        return None
    r = c.y - c.smooth
    mad = 1.4826 * float(np.median(np.abs(r - np.median(r))))
    # Far above the local noise, a sizeable part of the loss range, and a big relative jump
    # (so the minibatch noise of a curve that barely moves is not a "spike").
    thr = np.maximum(max(t.spike_z * mad, t.spike_range * c.range), t.spike_rel * np.abs(c.smooth))
    spikes = r > thr
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


def check_lr_too_high(log: Log, c: Curve, t: Thresholds) -> list[Finding]:
    """Instability without progress, persistent spiking, a dead flat loss after an excursion,
    or a rising training loss: the LR is too high for this run as a whole."""
    out: list[Finding] = []
    n = len(c.y)
    if n < 10:
        return out
    poor = c.progress < t.blowup_progress
    blow = _blowup(c, t)
    if blow is not None and poor:
        s, e, peak = blow
        out.append(
            Finding(
                "lr_too_high",
                "error",
                _span(c.x, s, e),
                "early_rise_over_initial",
                peak,
                f"the loss jumps to {peak:.1f}× its initial value early on and "
                + (
                    f"ends only {100 * c.progress:.0f}% below where it started"
                    if c.progress >= 0
                    else f"ends above where it started (by {-100 * c.progress:.0f}% of it)"
                ),
            )
        )
    sp = _spikes(c, t)
    if sp is not None and (poor or sp.count >= t.spike_events_high):
        why = "with little progress" if poor else "throughout the run"
        out.append(
            Finding(
                "lr_too_high",
                "error",
                _span(c.x, sp.first, sp.last),
                "spike_events",
                float(sp.count),
                f"{sp.count} loss spike(s) {why} ({100 * c.progress:.0f}% progress; largest "
                f"+{sp.biggest:.3g})",
            )
        )
    if _stuck(c, t):
        peak = float(c.y.max())
        if c.l0 > 0 and peak > t.stuck_excursion * c.l0:
            i = int(np.argmax(c.y))
            out.append(
                Finding(
                    "lr_too_high",
                    "error",
                    _span(c.x, i, i),
                    "excursion_over_initial",
                    peak / c.l0,
                    f"the loss is stuck at its initial level ({100 * c.progress:.1f}% progress) "
                    f"after jumping to {peak / c.l0:.1f}× it: the network likely died",
                )
            )
    half = len(c.xb) // 2
    tr = trend(c.xb[half:], c.yb[half:])
    if tr.tau > 0 and tr.p_value < t.rise_p and c.ymin > 0 and c.tail > t.rise_factor * c.ymin:
        out.append(
            Finding(
                "lr_too_high",
                "error",
                (_block_start(c, half), float(c.x[-1])),
                "mann_kendall_tau",
                tr.tau,
                f"the training loss rises during the second half (Mann–Kendall τ = {tr.tau:.2f}, "
                f"p = {tr.p_value:.1g}) to {c.tail / c.ymin:.1f}× its best",
            )
        )
    return out


def check_unstable(log: Log, c: Curve, t: Thresholds) -> list[Finding]:
    """Spikes or oscillation in a run that still trains well (otherwise: lr_too_high)."""
    out: list[Finding] = []
    n = len(c.y)
    if n < 10 or c.range <= 0 or c.progress < t.blowup_progress:
        return out
    blow = _blowup(c, t)
    if blow is not None:
        s, e, peak = blow
        out.append(
            Finding(
                "unstable",
                "error",
                _span(c.x, s, e),
                "early_rise_over_initial",
                peak,
                f"the loss spikes to {peak:.1f}× its initial value early on before it trains "
                "(a warmup would avoid it)",
            )
        )
    sp = _spikes(c, t)
    if sp is not None and sp.count < t.spike_events_high:
        out.append(
            Finding(
                "unstable",
                "error",
                _span(c.x, sp.first, sp.last),
                "spike_events",
                float(sp.count),
                f"{sp.count} loss spike(s) above the running median (largest "
                f"+{sp.biggest:.3g}, {sp.biggest / c.range:.0%} of the loss range)",
            )
        )
    if n < 200:
        h = n // 2
        d = np.diff(c.y[h:])
        if len(d) >= 4:
            changes = float(np.mean(np.sign(d[1:]) != np.sign(d[:-1])))
            size = float(np.median(np.abs(d))) / c.range
            if changes >= t.osc_changes and size >= t.osc_size:
                out.append(
                    Finding(
                        "unstable",
                        "error",
                        _span(c.x, h, n - 1),
                        "oscillation_size",
                        size,
                        f"the loss oscillates: {changes:.0%} of moves change direction, typical "
                        f"move {size:.0%} of the loss range",
                    )
                )
    return out


def check_overfitting(log: Log, c: Curve, t: Thresholds) -> list[Finding]:
    v = log.val_loss.finite() if log.val_loss is not None else None
    if v is None or len(v) < 5:
        return []
    vy = rolling_median(v.values, 3) if len(v) >= 9 else v.values
    k = int(np.argmin(vy))
    after = len(v) - k - 1
    if after < 2:
        return []
    vmin = float(vy[k])
    m = max(2, len(v) // 5)
    vtail = float(np.median(v.values[-m:]))
    rise = (vtail - vmin) / max(abs(vmin), 1e-12)
    # The rise must persist: most of the second half of the post-minimum epochs stay well
    # above the minimum (a trend test fails when the rise levels off, which is common).
    late = v.values[k + 1 :][after // 2 :]
    persist = float(np.mean(late > vmin * (1 + t.overfit_rise / 2))) if late.size else 0.0
    significant = persist >= t.overfit_persist
    # Training must not be getting worse at the same time (then the LR, not overfitting).
    at_k = float(np.interp(v.steps[k], c.x, c.smooth)) if len(c.x) else np.nan
    train_ok = len(c.x) > 0 and c.tail <= t.overfit_train * at_k
    if rise >= t.overfit_rise and significant and train_ok:
        return [
            Finding(
                "overfitting",
                "error",
                (float(v.steps[k]), float(v.steps[-1])),
                "val_rise_over_min",
                rise,
                f"{v.name} is lowest ({vmin:.4g}) at {log.x_name} {v.steps[k]:g} and rises "
                f"{rise:.0%} after it while the training loss keeps falling",
            )
        ]
    return []


def _thirds(c: Curve) -> tuple[Trend, Trend]:
    k = max(3, len(c.xb) // 3)
    return trend(c.xb[:k], c.yb[:k]), trend(c.xb[-k:], c.yb[-k:])


def check_lr_too_low(log: Log, c: Curve, t: Thresholds) -> list[Finding]:
    n = len(c.y)
    if n < 10 or _blowup(c, t) is not None:
        return []
    first, last = _thirds(c)
    c.features.update(slope_first=first.slope, slope_last=last.slope)
    i = int(0.6 * n)
    noise, level = _tail_noise(c, i)
    # A loud noise floor means the LR is large enough to keep the weights bouncing: whatever
    # is wrong, it is not a too-small LR (that is a plateau; see check_plateau).
    quiet = level > 0 and noise < t.quiet_noise * level
    if quiet and first.slope < 0 and last.high < 0 and last.p_value < t.low_p:
        ratio = last.slope / first.slope
        c.features["slope_ratio"] = ratio
        if ratio >= t.low_ratio and c.progress < t.low_progress:
            return [
                Finding(
                    "lr_too_low",
                    "error",
                    (float(c.x[0]), float(c.x[-1])),
                    "slope_ratio_last_first",
                    ratio,
                    f"the loss falls slowly and steadily: {100 * c.progress:.0f}% progress, and "
                    f"the last third still falls at {ratio:.0%} of the first third's rate",
                )
            ]
    if c.progress < t.quiet_progress and quiet and last.high < 0 and last.p_value < t.low_p:
        # Underfit: per-example losses are still alike (quiet minibatches) and still falling.
        return [
            Finding(
                "lr_too_low",
                "error",
                (float(c.x[i]), float(c.x[-1])),
                "noise_over_level",
                noise / level,
                f"the loss is still falling slowly at {level:.4g} ({100 * c.progress:.0f}% "
                f"progress) with quiet minibatches (noise {noise / level:.1%} of the level): "
                "the model is underfit",
            )
        ]
    if _stuck(c, t) and not (c.l0 > 0 and float(c.y.max()) > t.stuck_excursion * c.l0):
        return [
            Finding(
                "lr_too_low",
                "error",
                (float(c.x[0]), float(c.x[-1])),
                "progress",
                c.progress,
                f"the loss hardly moves ({100 * c.progress:.1f}% progress) and never spikes",
            )
        ]
    return []


def _tail_noise(c: Curve, i: int) -> tuple[float, float]:
    """(robust SD of the minibatch noise, median level) of the curve from index ``i`` on."""
    r = (c.y - c.smooth)[i:]
    noise = 1.4826 * float(np.median(np.abs(r - np.median(r))))
    return noise, float(np.median(c.y[i:]))


def check_plateau(log: Log, c: Curve, t: Thresholds) -> list[Finding]:
    """A noise floor under a constant LR: decaying the LR would lower it."""
    nb = len(c.xb)
    if nb < 10 or c.progress < t.plateau_progress or c.tail <= t.plateau_level * abs(c.l0):
        return []
    for frac in (0.3, 0.4, 0.5, 0.6, 0.7):
        j = round(nb * frac)
        start = _block_start(c, j)
        i = int(np.searchsorted(c.x, start))
        noise, level = _tail_noise(c, i)
        if level <= 0:
            continue
        tr = trend(c.xb[j:], c.yb[j:])
        drop = -tr.slope * (c.xb[-1] - c.xb[j])
        if noise < t.plateau_noise * level:
            # a quiet curve is not bouncing on a noise floor, but it may have stalled
            stalled = tr.flat and abs(drop) < t.plateau_change * level
        else:
            stalled = (
                tr.flat or drop < t.plateau_change * level or drop < t.plateau_drop_noise * noise
            )
        if stalled:
            if log.lr is not None and len(log.lr.finite()) > 0:
                lr = log.lr.finite()
                lr_start = float(np.interp(start, lr.steps, lr.values))
                if float(lr.values[-1]) < t.plateau_lr_decay * lr_start:
                    return []  # the schedule already decayed: this is convergence
            return [
                Finding(
                    "plateau",
                    "error",
                    (start, float(c.x[-1])),
                    "drop_over_noise",
                    float(drop / noise) if noise > 0 else 0.0,
                    f"the loss has stalled at ~{level:.4g} since {log.x_name} {start:g}: over "
                    f"the last {100 * (1 - frac):.0f}% of the run it "
                    f"{'fell' if drop >= 0 else 'rose'} by {abs(drop):.3g} "
                    f"({abs(drop) / level:.1%}), against minibatch noise of ±{noise:.3g}",
                )
            ]
    return []


def run_checks(log: Log, thresholds: Thresholds | None = None) -> tuple[list[Finding], Curve]:
    """All findings for ``log`` (any order) and the curve features they were computed on."""
    t = thresholds or Thresholds()
    c = Curve.of(log.loss)
    findings: list[Finding] = []
    findings += check_diverged(log, c, t)
    if len(c.y) >= 4:
        for check in (
            check_lr_too_high,
            check_unstable,
            check_overfitting,
            check_lr_too_low,
            check_plateau,
        ):
            findings += check(log, c, t)
    c.features.update(
        initial_loss=c.l0, final_loss=c.tail, min_loss=c.ymin, progress=c.progress, n=len(c.y)
    )
    return findings, c
