"""Rules for ``lr_too_high``: an early blow-up or spikes without progress, a network that
died (stuck after an excursion, or flat at chance level), an explosion in the first logging
period, a climb back after the warm-up's peak or a late rebound, a rising second half."""

from __future__ import annotations

import numpy as np

from lrkit.doctor._check_too_low import _val_improving
from lrkit.doctor._curve import (
    Curve,
    _block_start,
    _blowup,
    _early_rise,
    _span,
    _spikes,
    _stuck,
    _tail_noise,
)
from lrkit.doctor._diagnosis import Finding
from lrkit.doctor._log import Log
from lrkit.doctor._stats import block_medians, trend
from lrkit.doctor._thresholds import Thresholds


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
        peak = blow[2]
        out.append(
            _early_rise(
                c,
                "lr_too_high",
                blow,
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
    out += early_explosion(c, t)
    if not log.loss_is_error_rate and not _val_improving(
        log, float(c.x[n // 2]), t, beyond_noise=False
    ):
        # ln C is a cross-entropy's chance level, no error rate's; and a network whose
        # held-out loss still improves over the second half is not dead, whatever its level.
        out += _dead_at_chance(c, t)
    if not out:
        out += _worse_than_start(c, t)
    if not out and poor:
        out += _val_jitter(log, c, t)
    out += _rise_after_peak(log, c, t)
    half = len(c.xb) // 2
    tr = trend(c.xb[half:], c.yb[half:])
    rising = tr.tau > 0 and tr.p_value < t.rise_p and c.ymin > 0 and c.tail > t.rise_factor * c.ymin
    if rising and not _validation_improved_since(log, _block_start(c, half)):
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


def _first_period_explosion(c: Curve, t: Thresholds) -> list[Finding]:
    """The first logged value is orders of magnitude above the next ones: the loss exploded
    inside the first logging period (an epoch average, a logging_steps mean) and the curve
    that follows is recovering from it, not learning from a sane start.

    Not when it is less than ``first_artefact`` × the next ones and they keep falling steeply
    (each below the one before, the second at least twice the fourth): that is an average
    over the run's initial drop (a start-up artefact of a per-period log) followed by the rest
    of that drop; a curve recovering from an explosion is erratic or creeps down after it.

    Nor when the first value was logged at step 0 of a per-step log: that is one batch's loss
    at the initial weights, before any update — no LR has acted on it, so its fall is learning
    (session 21: a regression printing its loss every 50 steps, 13.5 at step 0 and 0.04 from
    step 50, called too high)."""
    if len(c.y) < 6 or c.y[0] <= 0 or c.first_is_initial:
        return []
    nxt = float(np.median(c.y[1:4]))
    if nxt <= 0 or c.y[0] < t.first_explode * nxt:
        return []
    steep = bool(np.all(np.diff(c.y[:6]) < 0)) and c.y[1] >= 2 * c.y[3]
    if steep and c.y[0] < t.first_artefact * nxt:
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


def early_explosion(c: Curve, t: Thresholds) -> list[Finding]:
    """The loss exploded at the start — in the first logging period, or to
    ``first_explode`` × the level it then sits at within the first 30% (a single value above
    ``blowup_raw`` × L0 is enough) — and its second half no longer falls: the flat, noisy
    tail is what is left after the blow-up, evidence of a too-high LR, not a lack of it."""
    first = _first_period_explosion(c, t)
    if first:
        return first
    n = len(c.y)
    if n < 10 or c.l0 <= 0:
        return []
    m = max(3, int(0.3 * n))
    i = int(np.argmax(c.y[:m]))
    peak = float(c.y[i])
    level = float(np.median(c.y[n // 2 :]))
    start = max(c.l0, float(c.y[0]))  # a rise above the first value, not a steep first fall
    if level <= 0 or peak < t.blowup_raw * start or peak < t.first_explode * level:
        return []
    h = len(c.xb) // 2
    late = trend(c.xb[h:], c.yb[h:])
    if late.slope < 0 and late.p_value < t.low_p:
        return []  # still training down after the spike: "unstable" at most
    return [
        Finding(
            "lr_too_high",
            "error",
            _span(c.x, i, i),
            "early_peak_over_level",
            peak / level,
            f"the loss jumps to {peak:.4g} at {c.x[i]:g} ({peak / start:.1f}× where it started, "
            f"{peak / level:.0f}× where it then sits) and its second half no longer falls: the "
            "LR blew the run up early on",
        )
    ]


def _worse_than_start(c: Curve, t: Thresholds) -> list[Finding]:
    """The training loss ends clearly above where it started, without exploding: a step size
    that only makes the loss worse (a too-small one moves it down, however slowly)."""
    n = len(c.y)
    if c.l0 <= 0 or n < 10:
        return []
    m = max(3, n // 5)
    end = float(np.median(c.y[-m:]))
    noise, _ = _tail_noise(c, n - m)
    rise = end - c.l0
    if rise < t.worse_than_start * c.l0 or rise < 3 * noise:
        return []
    return [
        Finding(
            "lr_too_high",
            "error",
            _span(c.x, n - m, -1),
            "end_over_start",
            end / c.l0,
            f"the training loss ends {end / c.l0 - 1:.0%} above where it started "
            f"({end:.4g} over the last {m} values against {c.l0:.4g}; minibatch noise "
            f"±{noise:.2g}) without exploding: the steps make it worse, not better",
        )
    ]


def _val_jitter(log: Log, c: Curve, t: Thresholds) -> list[Finding]:
    """The validation loss jumps up and down between evaluations by a large part of all it
    has gained: each stretch of training moves the model more than it learns from it (a
    small LR moves it smoothly; overfitting moves it steadily up)."""
    if log.val_loss is None:
        return []
    v = log.val_loss.finite()
    if len(v) < 8:
        return []
    h = len(v) // 2
    d = np.diff(v.values[h:])
    jitter = float(np.median(np.abs(d - np.median(d))))
    # All it gained: from the run's start — the training loss's first values, when they lie
    # above the first evaluation (which may come after most of the fall) — to its best.
    start = max(float(v.values[0]), c.l0) if c.l0 > 0 else float(v.values[0])
    gain = start - float(v.values.min())
    if gain <= 0 or jitter < t.val_jitter * gain:
        return []
    return [
        Finding(
            "lr_too_high",
            "error",
            (float(v.steps[h]), float(v.steps[-1])),
            "val_jitter_over_gain",
            jitter / gain,
            f"over the second half the validation loss jumps by ±{jitter:.3g} between "
            f"evaluations, {jitter / gain:.0%} of all it gained ({gain:.3g} from the start of "
            "the run to its best), while the training loss made little progress: the steps move "
            "the model more than it learns from them",
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


def _dead_at_chance(c: Curve, t: Thresholds) -> list[Finding]:
    """A classifier whose loss sits flat at ln(C) — uniform predictions — after a large LR
    (an excursion above it, a start below it, or a fall from well above it onto it): the
    network died.

    Uniform predictions give the same loss on every minibatch, so a dead network's loss has
    next to no minibatch noise (``chance_noise`` × the level); a loss of another kind that
    happens to sit near some ln(k) (a Poisson or regression loss) keeps its noise."""
    n = len(c.y)
    if n < 10:
        return []
    h = n // 2
    level = float(np.median(c.y[h:]))
    k = _chance_level(level, t.chance_tol)
    if k is None:
        return []
    xb, yb = block_medians(c.x[h:], c.y[h:])
    tr = trend(xb, yb)
    noise, _ = _tail_noise(c, h)
    # No trend, or a drift over the second half smaller than the tolerance itself (a noiseless
    # per-epoch curve makes even that drift "significant").
    drift = abs(tr.slope) * float(xb[-1] - xb[0]) if len(xb) > 1 else 0.0
    still = tr.flat or tr.p_value > 0.05 or drift < t.chance_tol * level
    flat = still and noise < t.chance_noise * level
    # Learnt something first and then lost it, or spiked, or came down from well above
    # chance and froze on it: not a slow start at chance (that starts at chance). The last
    # only where ln(k) is far enough from ln(k ± 1) for the match to say something (k ≤ 10
    # at a 2% tolerance: above that, every loss is near some ln(k)).
    went_below = float(c.smooth[: h + 1].min()) < 0.9 * level
    spiked = float(c.y.max()) > 1.5 * level
    telling = np.log((k + 1) / k) > 2 * t.chance_tol * np.log(k)
    frozen = noise < t.chance_frozen * level
    from_above = telling and frozen and c.l0 > t.chance_from_above * level
    if not (flat and (went_below or spiked or from_above)):
        return []
    if not telling and not frozen:
        # Above ln 10 the match with ln(k) is chance: only a loss frozen in place is evidence
        # there (session 23: language models settling at 3.35, 4.59, 6.67 nats, called too
        # high; one synthetic dead 10-class network 5% above ln 10, matched to ln 11 by chance,
        # is now a plateau).
        return []
    how = (
        "learning something first"
        if went_below
        else "a spike"
        if spiked
        else f"falling onto it from {c.l0:.4g}"
    )
    message = (
        f"the loss sits flat at {level:.4g} ≈ ln({k}), the loss of uniform predictions over "
        f"{k} classes, with next to no minibatch noise (±{noise:.2g}), after {how}: "
        "the network died"
    )
    return [Finding("lr_too_high", "error", _span(c.x, h, -1), "loss_at_chance", level, message)]


def _validation_improved_since(log: Log, x0: float) -> bool:
    """Whether the validation loss, evaluated before and after ``x0``, ends below every value
    it had up to ``x0``: the model got better on held-out data while the training loss
    climbed back, so the climb is not the LR making the steps worse.

    Session 19: a noisy per-step training loss that drifts back up while every evaluation
    improves (real13 x01, real15 u09, real29 v15: healthy runs called ``lr_too_high``). Chosen
    on real..real39: 745 -> 748/901 acceptable, no other verdict changed; synthetic pooled
    macro-F1 0.612 -> 0.613 (rules alone 0.555 -> 0.556), toward the best unchanged."""
    v = log.val_loss.finite() if log.val_loss is not None else None
    if v is None or log.loss_is_validation:
        return False
    before = v.values[v.steps <= x0]
    if before.size == 0 or not (v.steps > x0).any():
        return False
    return bool(v.values[-1] < before.min())


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
    share = climb / c.range
    if t.rebound_log > 0 and c.ymin > 0 and climb > 0:
        # A loss whose floor lies near zero: 0.06 -> 0.5 is 8x its best, a blow-up, yet a
        # small share of a range that started at 2.6. On a log scale it is half the range.
        share = max(share, float(np.log1p(climb / c.ymin) / np.log(c.l0 / c.ymin)))
        need = min(t.rebound, t.rebound_log)
    else:
        need = t.rebound
    if share < need or climb < 3 * noise:
        return []
    # It must stay up (a rise that the LR decay then undoes is "unstable" at most).
    stay = float(np.median(after[len(after) // 2 :]))
    if stay - c.ymin < 0.5 * need / share * climb:
        return []
    if _validation_improved_since(log, float(c.x[i])):
        return []
    lr = c.lr
    at_peak = (
        lr is not None
        and lr.warmup
        and log.lr is not None
        and abs(float(c.x[i]) - lr.peak_step) <= 0.15 * float(c.x[-1] - c.x[0])
    )
    scale = (
        f" on a log scale (to {(c.ymin + climb) / c.ymin:.1f}× its best)"
        if share > climb / c.range
        else ""
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
            share,
            f"the training loss climbs back up {what}, by {share:.0%} of its range{scale}",
        )
    ]
