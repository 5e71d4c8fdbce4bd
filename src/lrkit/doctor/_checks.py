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
    #: ... or a quiet curve (no excursion, LR not decayed) ends with less progress than this
    #: (off by default: on the built-in tasks such quiet stalls came from too-high LRs that
    #: a decay fixed; the leave-one-family-out benchmark may switch it on, see docs).
    quiet_progress: float = 0.0
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
    #: lr_too_low: a quiet run that never spiked and moved less than this (relative to its
    #: start) took steps too small to matter.
    barely: float = 0.1
    #: fewer loss values than this: not enough evidence for anything but a NaN (inconclusive).
    min_points: int = 8
    #: below this many values, only strong evidence counts (diverged, overfitting, a too-high
    #: LR); a plateau, a too-low LR or instability read from so few points is "inconclusive".
    weak_points: int = 20
    #: lr_too_low needs the loss to fall at least linearly: the last third's slope at least
    #: linear_ratio × the first third's (Theil–Sen, block medians).
    linear_ratio: float = 0.5
    #: the LR counts as decayed (a schedule annealed it) when it ends below this × its peak.
    lr_decayed: float = 0.3
    #: rebound: after its best, the training loss climbs back by this fraction of its range.
    rebound: float = 0.3
    #: explosion in the first logged period: the first value is this many times the next ones.
    first_explode: float = 20.0
    #: dead network: the loss ends within this relative distance of ln(k) (uniform predictions
    #: over k classes: chance level) and stays flat.
    chance_tol: float = 0.02
    #: no evidence: minibatch noise at least this × the level, and no significant trend.
    noisy_level: float = 0.2


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
    def decayed(self) -> bool:
        return self.end < 0.3 * self.peak

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

    def at(self, s: Series, step: float) -> float:
        f = s.finite()
        return float(np.interp(step, f.steps, f.values))


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
        mad = 1.4826 * float(np.median(np.abs(lr_ - np.median(lr_))))
        far = lr_ > max(t.spike_z * mad, np.log1p(t.spike_rel))
    else:
        mad = 1.4826 * float(np.median(np.abs(r - np.median(r))))
        far = r > np.maximum(t.spike_z * mad, t.spike_rel * np.abs(c.smooth))
    # ... and a sizeable part of the loss range (so the noise of a curve that barely moves
    # is not a "spike").
    spikes = far & (r > t.spike_range * c.range)
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
    out += _first_period_explosion(log, c, t)
    out += _dead_at_chance(log, c, t)
    out += _rise_after_peak(log, c, t)
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


def _first_period_explosion(log: Log, c: Curve, t: Thresholds) -> list[Finding]:
    """The first logged value is orders of magnitude above the next ones: the loss exploded
    inside the first logging period (an epoch average, a logging_steps mean) and the curve
    that follows is recovering from it, not learning from a sane start."""
    if len(c.y) < 4 or c.y[0] <= 0:
        return []
    nxt = float(np.median(c.y[1:4]))
    if nxt <= 0 or c.y[0] < t.first_explode * nxt:
        return []
    return [
        Finding(
            "lr_too_high",
            "error",
            _span(c.x, 0, 0),
            "first_over_next",
            float(c.y[0] / nxt),
            f"the first logged loss ({c.y[0]:.4g}) is {c.y[0] / nxt:.0f}× the next ones: the "
            "loss exploded in the first logging period",
        )
    ]


def _chance_level(v: float, tol: float) -> int | None:
    """``k`` when ``v`` is within ``tol`` (relative) of ln(k), the cross-entropy of uniform
    predictions over k classes; ``None`` otherwise."""
    if not (np.log(2) * (1 - tol) <= v <= np.log(1e6)):
        return None
    k = round(float(np.exp(v)))
    for kk in (k - 1, k, k + 1):
        if kk >= 2 and abs(v - np.log(kk)) <= tol * np.log(kk):
            return kk
    return None


def _dead_at_chance(log: Log, c: Curve, t: Thresholds) -> list[Finding]:
    """A classifier whose loss sits flat at ln(C) — uniform predictions — after a large LR
    (an excursion above it, or a start below it): the network died."""
    n = len(c.y)
    if n < 10:
        return []
    h = n // 2
    level = float(np.median(c.y[h:]))
    k = _chance_level(level, t.chance_tol)
    if k is None:
        return []
    tr = trend(*block_medians(c.x[h:], c.y[h:]))
    noise, _ = _tail_noise(c, h)
    flat = (tr.flat or tr.p_value > 0.05) and noise < 0.05 * level
    # Learnt something first and then lost it, or spiked: not a slow start at chance.
    went_below = float(c.smooth[: h + 1].min()) < 0.9 * level
    spiked = float(c.y.max()) > 1.5 * level
    if not (flat and (went_below or spiked)):
        return []
    return [
        Finding(
            "lr_too_high",
            "error",
            (float(c.x[h]), float(c.x[-1])),
            "loss_at_chance",
            level,
            f"the loss sits flat at {level:.4g} ≈ ln({k}), the loss of uniform predictions over "
            f"{k} classes, after {'learning something first' if went_below else 'a spike'}: "
            "the network died",
        )
    ]


def _rise_after_peak(log: Log, c: Curve, t: Thresholds) -> list[Finding]:
    """The training loss climbs back up after its best: at the end of an LR warm-up (the peak
    LR is too high), or as a rebound late in a run that had nearly converged."""
    n = len(c.y)
    # Only a run that had learnt something can climb back (and the climb must beat the noise).
    if n < 10 or c.range <= 0 or c.range < t.plateau_progress * abs(c.l0):
        return []
    i = int(np.argmin(c.smooth))
    if i >= int(0.8 * n):
        return []
    after = c.smooth[i:]
    climb = float(np.median(c.y[-max(3, n // 10) :])) - c.ymin
    noise, _ = _tail_noise(c, i)
    if climb < t.rebound * c.range or climb < 3 * noise:
        return []
    # It must stay up (a rise that the LR decay then undoes is "unstable" at most).
    if float(np.median(after[len(after) // 2 :])) < c.ymin + 0.5 * t.rebound * c.range:
        return []
    lr = c.lr
    at_peak = (
        lr is not None
        and lr.warmup
        and log.lr is not None
        and abs(float(c.x[i]) - lr.peak_step) <= 0.15 * float(c.x[-1] - c.x[0])
    )
    what = (
        "just as the LR warm-up reaches its peak"
        if at_peak
        else f"after its best at {log.x_name} {c.x[i]:g}"
    )
    return [
        Finding(
            "lr_too_high",
            "error",
            (float(c.x[i]), float(c.x[-1])),
            "warmup_peak_rise" if at_peak else "rebound_over_range",
            climb / c.range,
            f"the training loss climbs back up {what}, by {climb / c.range:.0%} of its range",
        )
    ]


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
    if n < 200 and log.x_name == "epoch":
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
    """Evidence that the LR itself is too small: the loss hardly moves and never spikes, or it
    falls at least linearly to the end of a run whose LR was never decayed.

    "Still falling at the end" alone is not that evidence: under a schedule that annealed the
    LR it is the schedule working (train longer), so it is only noted."""
    n = len(c.y)
    if n < 10 or _blowup(c, t) is not None:
        return []
    first, last = _thirds(c)
    c.features.update(slope_first=first.slope, slope_last=last.slope)
    if _stuck(c, t) and not (c.l0 > 0 and float(c.y.max()) > t.stuck_excursion * c.l0):
        # Nothing moved: no schedule explains that.
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
    i = int(0.6 * n)
    noise, level = _tail_noise(c, i)
    quiet = level > 0 and noise < t.quiet_noise * level
    calm = c.l0 > 0 and float(c.y.max()) <= t.stuck_excursion * c.l0
    # Under a decaying LR a loss that still falls is the schedule working, not a small LR;
    # and a fine-tune under a decaying LR moves little by design.
    annealed = c.lr is not None and c.lr.end < 0.7 * c.lr.peak
    # Nearly nothing moved: no schedule or fine-tune explains that; a little moved: only
    # under an LR that was not decayed; a quiet stall at a high loss under a constant LR.
    frozen = 0 <= c.progress < t.barely / 3
    barely = 0 <= c.progress < t.barely and not annealed
    stalled_high = 0 <= c.progress < t.quiet_progress and not annealed
    if quiet and calm and (frozen or barely or stalled_high) and trend(c.xb, c.yb).slope < 0:
        # Barely moved, quietly and without a spike: the steps were too small (a too-high LR
        # spikes, dies at chance or rings on a noise floor).
        return [
            Finding(
                "lr_too_low",
                "error",
                (float(c.x[0]), float(c.x[-1])),
                "progress",
                c.progress,
                f"the loss barely moves ({100 * c.progress:.1f}% progress in the whole run), "
                "quietly and without a spike",
            )
        ]
    if not (first.slope < 0 and last.high < 0 and last.p_value < t.low_p):
        return []
    ratio = last.slope / first.slope
    c.features["slope_ratio"] = ratio
    if ratio >= t.linear_ratio and c.progress < t.low_progress and quiet and not annealed:
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
    c.features["still_falling"] = 1.0
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
    if c.lr is not None and (c.lr.decayed or c.lr.cuts >= 2):
        return []  # the LR was already cut: a flat tail here is convergence
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
            # On a noise floor a decay gains about the noise: worth it when the trend's drop
            # over the window is small next to it (or too small to matter at all).
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


def _no_evidence(c: Curve, t: Thresholds) -> Finding | None:
    """A short or noisy curve with no trend beyond its noise: nothing to judge."""
    n = len(c.y)
    if n < 10:
        return None
    tr = trend(c.xb, c.yb)
    noise, level = _tail_noise(c, 0)
    if tr.p_value < 0.05 or level <= 0 or noise < t.noisy_level * abs(level):
        return None
    return Finding(
        "inconclusive",
        "error",
        (float(c.x[0]), float(c.x[-1])),
        "mann_kendall_p",
        tr.p_value,
        f"the loss shows no trend beyond its minibatch noise (±{noise:.3g} around {level:.3g}, "
        f"Mann–Kendall p = {tr.p_value:.2f}): not enough evidence to judge the LR",
    )


#: verdicts that a handful of points cannot support
_WEAK = ("plateau", "lr_too_low", "unstable")


def run_checks(log: Log, thresholds: Thresholds | None = None) -> tuple[list[Finding], Curve]:
    """All findings for ``log`` (any order) and the curve features they were computed on."""
    t = thresholds or Thresholds()
    c = Curve.of(log.loss)
    c.lr = LRShape.of(log.lr)
    findings: list[Finding] = []
    findings += check_diverged(log, c, t)
    n = len(c.y)
    if not findings:
        # Noise without a trend: the single values the other rules compare (the start, the
        # best, the end) are minibatch luck here.
        none = _no_evidence(c, t)
        if none is not None:
            c.features.update(initial_loss=c.l0, final_loss=c.tail, progress=c.progress, n=n)
            return [none], c
    if n >= 4:
        for check in (
            check_lr_too_high,
            check_unstable,
            check_overfitting,
            check_lr_too_low,
            check_plateau,
        ):
            findings += check(log, c, t)
    c.features.update(
        initial_loss=c.l0, final_loss=c.tail, min_loss=c.ymin, progress=c.progress, n=n
    )
    if any(f.kind == "diverged" for f in findings):
        return findings, c
    span = (float(c.x[0]), float(c.x[-1])) if n else (0.0, 0.0)
    if n < t.min_points:
        return [
            Finding(
                "inconclusive",
                "error",
                span,
                "n_values",
                float(n),
                f"only {n} loss values: not enough to judge the run",
            ),
            *findings,
        ], c
    strong = [f for f in findings if f.kind not in _WEAK]
    if n < t.weak_points and len(strong) < len(findings) and not strong:
        weak = ", ".join(sorted({f.kind for f in findings}))
        findings.insert(
            0,
            Finding(
                "inconclusive",
                "error",
                span,
                "n_values",
                float(n),
                f"{n} loss values hint at {weak}, too few to be sure",
            ),
        )
        return findings, c
    return findings, c
