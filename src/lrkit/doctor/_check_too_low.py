"""Rules for a loss that moves too little: ``lr_too_low`` (stuck, barely moving, or falling
steadily under an LR never decayed), ``plateau`` (a noise floor or stall under a constant LR)
and the ``inconclusive`` finding of a curve with no trend beyond its noise."""

from __future__ import annotations

import numpy as np

from lrkit.doctor._check_overfitting import val_noise
from lrkit.doctor._columns import pick_accuracy
from lrkit.doctor._curve import (
    Curve,
    _block_start,
    _blowup,
    _spikes,
    _stuck,
    _tail_noise,
    _whole_run,
)
from lrkit.doctor._diagnosis import Finding
from lrkit.doctor._log import Log
from lrkit.doctor._stats import Trend, block_medians, trend
from lrkit.doctor._thresholds import Thresholds


def _thirds(c: Curve) -> tuple[Trend, Trend]:
    k = max(3, len(c.xb) // 3)
    return trend(c.xb[:k], c.yb[:k]), trend(c.xb[-k:], c.yb[-k:])


def starts_late(log: Log, c: Curve) -> bool:
    """Whether the log's first loss comes after the first updates (an epoch average, a
    ``log_every_n_steps`` point): a fall before it would not show."""
    return log.x_name == "epoch" or float(c.x[0]) >= 2


def _late_start(log: Log, c: Curve, stalled: bool = False) -> str:
    """The caveat for "hardly moves" when the log does not show the run's start: a loss that fell
    before the first logged value and then stalled looks the same as one that never moved
    (``stalled``: the caveat of a stall verdict)."""
    if not starts_late(log, c):
        return ""
    first = "the end of the first epoch" if log.x_name == "epoch" else f"{log.x_name} {c.x[0]:g}"
    if stalled:
        return (
            f"; the log starts at {first}: if the loss of the first steps was already this "
            "level, the updates never moved the model (too small an LR, or a bug)"
        )
    return (
        f"; the log starts at {first}, so a fall before it would not show — if the loss had "
        "already dropped to this level there, the run stalled (too high an LR, or a bug) "
        "instead: check the loss of the first steps before raising the LR"
    )


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
        dead = _frozen_validation(log, t)
        if dead is not None:
            return [dead]
        stall = _stalled(log, c, t)
        if stall is not None:
            return [stall]
        return [
            _whole_run(
                c,
                "lr_too_low",
                "progress",
                c.progress,
                f"the loss hardly moves ({100 * c.progress:.1f}% progress) and never spikes"
                + _late_start(log, c),
                evidence="weak" if starts_late(log, c) else "strong",
            )
        ]
    i = int(0.6 * n)
    noise, level = _tail_noise(c, i)
    quiet = level > 0 and noise < t.quiet_noise * level
    # No excursion of the running median and no spike event (a single noisy minibatch of a
    # long, noisy log is neither).
    calm = c.l0 > 0 and float(c.smooth.max()) <= t.stuck_excursion * c.l0 and _spikes(c, t) is None
    # Under a decaying LR a loss that still falls is the schedule working, not a small LR;
    # and a fine-tune under a decaying LR moves little by design.
    annealed = c.lr is not None and c.lr.end < 0.7 * c.lr.peak
    # Nearly nothing moved: no schedule or fine-tune explains that; a little moved: only
    # under an LR that was not decayed; a quiet stall at a high loss under a constant LR.
    frozen = 0 <= c.progress < t.barely / 3
    barely = 0 <= c.progress < t.barely and not annealed
    stalled_high = 0 <= c.progress < t.quiet_progress and not annealed
    early = _fast_start(c, t, noise) is not None
    # Quiet, or noisy but falling significantly over the whole run (block medians).
    whole = trend(c.xb, c.yb)
    falls = whole.slope < 0 and (quiet or whole.p_value < t.low_p)
    if falls and calm and (frozen or barely or stalled_high) and not early:
        # Barely moved, quietly and without a spike: the steps were too small (a too-high LR
        # spikes, dies at chance or rings on a noise floor).
        still = _frozen_validation(log, t)
        if still is not None:
            return [still]
        return [
            _whole_run(
                c,
                "lr_too_low",
                "progress",
                c.progress,
                f"the loss barely moves ({100 * c.progress:.1f}% progress in the whole run), "
                "quietly and without a spike" + _late_start(log, c),
                evidence="weak" if starts_late(log, c) else "strong",
            )
        ]
    falling = _still_falling(log, c, t, first, last, whole, calm and not early)
    if falling:
        return falling
    slow = _slow_fall(log, c, t, whole, calm and not early)
    return [] if slow is None else [slow]


def _fast_start(c: Curve, t: Thresholds, noise: float) -> tuple[float, float] | None:
    """``(drop in the first tenth, whole drop)`` where most of a small drop came in the first
    tenth of the run, else ``None``. A small LR moves the loss slowly from the first step on;
    a fast start and a flat line after it is a run that stalled (too high an LR, or
    converged), not one whose steps are too small. The early drop must also stand out of the
    minibatch ``noise``: on a noisy, slow run the first value alone can sit a noise width
    above the rest."""
    drop, first_tenth = c.l0 - c.tail, c.l0 - float(c.smooth[len(c.y) // 10])
    if drop > 0 and first_tenth > max(t.early_drop_share * drop, noise):
        return first_tenth, drop
    return None


def _stalled(log: Log, c: Curve, t: Thresholds) -> Finding | None:
    """``plateau`` (weak evidence) for a loss that hardly moves but does not crawl as small
    steps do: most of its small drop came in the first tenth of the run (a fast start and a
    stall, as in the "barely moves" rule), or — from a first log that comes after the first
    updates — it shows no downward trend at all (Mann–Kendall p ≥ ``low_p``), so a fall before
    the log began and a stall there look the same. A too-small LR moves the loss steadily
    down, however slowly; on the real logs of ``benchmarks/doctor_real.py`` the flat ones were
    stalls (a loss frozen at 85.03 for 1,000 epochs, a binary classifier at ln 2) that a ×3
    raise would not fix."""
    early = _fast_start(c, t, _tail_noise(c, int(0.6 * len(c.y)))[0])
    whole = trend(c.xb, c.yb)
    crawls = whole.slope < 0 and whole.p_value < t.low_p
    if early is None and not (starts_late(log, c) and not crawls):
        return None
    how = (
        f"most of that came in the first tenth of the run ({early[0]:.4g} of {early[1]:.4g})"
        if early is not None
        else f"no downward trend (Mann–Kendall p = {whole.p_value:.2f})"
    )
    return _whole_run(
        c,
        "plateau",
        "stalled_progress",
        c.progress,
        f"the loss hardly moves ({100 * c.progress:.1f}% progress) and {how}: it stalled — a "
        "too-small LR would move it steadily down instead" + _late_start(log, c, stalled=True),
        evidence="weak",
    )


def _spread(y: np.ndarray) -> tuple[float, float]:
    """The median of ``y`` and the largest distance of a value from it, relative to it
    (``nan`` where the median is 0 or not finite: no band to speak of)."""
    level = float(np.median(y))
    if level == 0 or not np.isfinite(level):
        return level, float("nan")
    return level, float(np.max(np.abs(y - level))) / abs(level)


def _frozen_validation(log: Log, t: Thresholds) -> Finding | None:
    """``plateau`` (the frozen-loss prescription) when the validation loss does not move at
    all over its second half (every value within ``val_frozen_band`` of their median): the
    model's outputs on a fixed set no longer change, which a too-small LR does not do — it
    still moves them a little with every update."""
    v = log.val_loss.finite() if log.val_loss is not None else None
    if t.val_frozen_band <= 0 or v is None or len(v) < 6:
        return None
    tail = np.asarray(v.values[len(v) // 2 :], dtype=float)
    level, band = _spread(tail)
    if not band <= t.val_frozen_band:
        return None
    return Finding(
        "plateau",
        "error",
        (float(v.steps[len(v) // 2]), float(v.steps[-1])),
        "frozen_val_loss",
        band,
        f"the training loss hardly moves and {v.name} is frozen at {level:.6g} over its last "
        f"{len(tail)} evaluations (every one within {band:.1e} of it, relative): the model's "
        "outputs no longer change — a dead or saturated network, or updates that never reach "
        "the weights; a too-small LR would still move them a little",
    )


def _still_falling(
    log: Log, c: Curve, t: Thresholds, first: Trend, last: Trend, whole: Trend, calm: bool
) -> list[Finding]:
    """The loss still falls at the end: linearly under an LR never decayed (too low), or
    slowing under a constant LR (too low, weak evidence); otherwise only noted."""
    annealed = c.lr is not None and c.lr.end < 0.7 * c.lr.peak
    if not first.slope < 0:
        return []
    ratio = last.slope / first.slope
    # Still falling at the end: the last third's own trend, or — when minibatch noise hides
    # a third's trend — a significant fall over the whole run that did not slow down.
    steady = whole.slope < 0 and whole.p_value < t.low_p and ratio >= t.linear_ratio
    if not ((last.high < 0 and last.p_value < t.low_p) or steady):
        return []
    c.features["slope_ratio"] = ratio
    linear = ratio >= t.linear_ratio and c.progress < t.low_progress
    if linear and calm and not annealed:
        return [
            _whole_run(
                c,
                "lr_too_low",
                "slope_ratio_last_first",
                ratio,
                f"the loss falls slowly and steadily: {100 * c.progress:.0f}% progress, and "
                f"the last third still falls at {ratio:.0%} of the first third's rate",
            )
        ]
    # Slowing down, but its last third still falls significantly under an LR never decayed:
    # weak evidence (a larger LR would likely get there sooner; so might more steps).
    slowing = t.weak_ratio <= ratio < t.linear_ratio and c.progress < t.low_progress
    constant = c.lr is not None and c.lr.constant
    if slowing and constant and last.high < 0 and last.p_value < t.low_p and calm:
        return [
            _whole_run(
                c,
                "lr_too_low",
                "slope_ratio_last_first",
                ratio,
                f"the loss is still falling at the end of a constant-LR run "
                f"({100 * c.progress:.0f}% progress; the last third at {ratio:.0%} of the first "
                "third's rate). Weak evidence: the fall is slowing, so more steps at this LR "
                "might also get there",
                evidence="weak",
            )
        ]
    c.features["still_falling"] = 1.0
    return []


def _slow_fall(log: Log, c: Curve, t: Thresholds, whole: Trend, calm: bool) -> Finding | None:
    """A loss that made little progress (``barely`` to ``slow_progress`` of its start) by a
    fall that is significant over the whole run and still significant over its second half,
    without a fast start or a spike: steps too small to get far, under any schedule. Weak
    evidence (a loss whose floor lies close above zero falls like this too), so the
    prescription is a trial run, not a ×10."""
    if not (calm and t.barely <= c.progress < t.slow_progress):
        return None
    if not (whole.slope < 0 and whole.p_value < t.low_p):
        return None
    h = len(c.xb) // 2
    second = trend(c.xb[h:], c.yb[h:])
    if not (second.slope < 0 and second.p_value < t.low_p):
        return None
    # A small LR improves the validation loss to the end as well: its best comes late. (A
    # validation loss that peaked early while training crawls down is something else.)
    if log.val_loss is not None:
        v = log.val_loss.finite().values
        if len(v) >= 5 and int(np.argmin(v)) < t.slow_val_best * (len(v) - 1):
            return None
    decayed = c.lr is not None and c.lr.end < 0.7 * c.lr.peak
    return _whole_run(
        c,
        "lr_too_low",
        "slow_fall_progress",
        c.progress,
        f"the loss falls slowly all run long: {100 * c.progress:.0f}% below its start at the "
        f"end, its second half still falling (Mann–Kendall p = {second.p_value:.1g})"
        + (" although the LR was decayed" if decayed else "")
        + ", with no fast start and no spike. Weak evidence: a loss whose floor lies close to "
        "its start falls like this too",
        evidence="weak",
    )


def check_plateau(log: Log, c: Curve, t: Thresholds) -> list[Finding]:
    """A noise floor under a constant LR: decaying the LR would lower it."""
    nb = len(c.xb)
    if nb < 10 or c.progress < t.plateau_progress or c.tail <= t.plateau_level * abs(c.l0):
        return []
    if c.lr is not None and (c.lr.end < t.lr_decayed * c.lr.peak or c.lr.cuts >= 2):
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
        if stalled and _val_improving(log, start, t):
            # The held-out loss still improves to its end: the run is still learning (the
            # later, shorter windows hold fewer evaluations, not more evidence).
            return []
        if stalled:
            lr = log.lr.finite() if log.lr is not None else None
            if lr is not None and len(lr) > 0:
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


def _val_improving(log: Log, start: float, t: Thresholds, beyond_noise: bool = True) -> bool:
    """Whether the validation loss still falls significantly from ``start`` to the end, with
    its best among the last quarter of those evaluations (and, with ``beyond_noise``, by more
    than the evaluations' noise): a noisy minibatch loss can hide a fall that the evaluations
    on a fixed set show. (Asking it to fall by more than the training loss over the same
    window, relative to their levels, undid every veto on both corpora, session 14.)"""
    if t.plateau_val_evals <= 0 or log.val_loss is None:
        return False
    v = log.val_loss.finite()
    keep = v.steps >= start
    x, y = v.steps[keep], v.values[keep]
    if len(y) < t.plateau_val_evals:
        return False
    tr = trend(x, y)
    late = int(np.argmin(y)) >= len(y) - max(1, len(y) // 4)
    # One-sided: the question is only whether it still falls (4 falling evaluations in a row
    # have p = 1/24).
    if not (tr.slope < 0 and tr.p_value / 2 < t.low_p and late):
        return False
    if not beyond_noise:
        return True
    # ... and by more than the evaluations' own noise (overfit_noise × it, as a rise must
    # clear): a long, flat validation loss can trend down significantly by a sliver.
    noise = val_noise(y)
    return not (noise > 0 and -tr.slope * float(x[-1] - x[0]) < t.overfit_noise * noise)


def _no_evidence(c: Curve, t: Thresholds) -> Finding | None:
    """A short or noisy curve with no trend beyond its noise: nothing to judge."""
    n = len(c.y)
    if n < 10:
        return None
    tr = trend(c.xb, c.yb)
    noise, level = _tail_noise(c, 0)
    if tr.p_value < 0.05 or level <= 0 or noise < t.noisy_level * abs(level):
        return None
    return _whole_run(
        c,
        "inconclusive",
        "mann_kendall_p",
        tr.p_value,
        f"the loss shows no trend beyond its minibatch noise (±{noise:.3g} around {level:.3g}, "
        f"Mann–Kendall p = {tr.p_value:.2f}): not enough evidence to judge the LR",
    )


def frozen_loss(c: Curve, t: Thresholds) -> Finding | None:
    """``plateau`` (``lr_too_high`` where it froze after a blow-up, ``frozen_from_above``)
    for a loss that stopped moving at all: after the first tenth of the run every
    value lies within ``frozen_band`` (relative) of their median, with no downward trend, and
    the run ended less than ``barely`` below its start. A network whose outputs no longer
    depend on its inputs (dead units after too high an LR, saturated activations) scores
    every batch, or every epoch's average, the same; so does a run whose updates never reach
    the weights. A too-small LR still moves the loss steadily down; no LR decay helps here."""
    n = len(c.y)
    if t.frozen_band <= 0 or n < 5 or not c.progress < t.barely:
        return None
    y = c.y[n // 10 :]
    level, band = _spread(y)
    if not band <= t.frozen_band:
        return None
    if len(y) >= 4 and np.ptp(y) > 0:
        tr = trend(*block_medians(c.x[n // 10 :], y))
        if tr.slope < 0 and tr.p_value < t.low_p:
            return None  # a steady crawl down, however small: not frozen
    first = float(np.max(c.y[: max(1, n // 10)]))
    if t.frozen_from_above > 0 and level > 0 and first > t.frozen_from_above * level:
        return _whole_run(
            c,
            "lr_too_high",
            "frozen_after_blowup",
            first / level,
            f"the loss reached {first:.4g} in the first tenth of the run, then froze at "
            f"{level:.6g} (every later value within {100 * band:.2g}% of it, no trend): the "
            "run blew up and the network died — its outputs no longer depend on the inputs",
        )
    return _whole_run(
        c,
        "plateau",
        "frozen_loss",
        band,
        f"the loss is frozen at {level:.6g}: after the first tenth of the run every value "
        f"stays within {100 * band:.2g}% of it, with no trend — the model's outputs no longer "
        "change (a dead or saturated network, or updates that never reach the weights)",
    )


def frozen_accuracy(log: Log, c: Curve, t: Thresholds) -> Finding | None:
    """``plateau`` for a classifier whose predictions never change: its validation accuracy
    (the training accuracy where none was logged) takes exactly one value in at least
    ``frozen_acc_share`` of its evaluations after the first, a value above 0 and below
    ``frozen_acc_ceiling`` of its scale (1, or 100 for a percentage), while the loss fell by
    less than ``frozen_acc_progress`` of its start. Any update that changes a prediction on a
    fixed set moves its accuracy; one that sits at the same value epoch after epoch — at the
    majority-class rate, or at chance — belongs to a model that predicts the same for every
    input, however its loss drifts. An accuracy pinned at its top (a converged model on a small
    set) or at 0 (a column that measures something else) says nothing of the kind."""
    if t.frozen_acc_share <= 0 or not c.progress < t.frozen_acc_progress:
        return None
    name = pick_accuracy(log.metrics, val=True) or pick_accuracy(log.metrics, val=False)
    if name is None:
        return None
    acc = log.metrics[name].finite()
    if len(acc) < t.frozen_acc_points:
        return None
    later = acc.values[1:]
    values, counts = np.unique(later, return_counts=True)
    share = float(counts.max()) / len(later)
    level = float(values[int(np.argmax(counts))])
    scale = 100.0 if float(np.max(acc.values)) > 1.5 else 1.0
    if share < t.frozen_acc_share or not 0 < level < t.frozen_acc_ceiling * scale:
        return None
    return Finding(
        "plateau",
        "error",
        (float(acc.steps[0]), float(acc.steps[-1])),
        "frozen_accuracy",
        share,
        f"{name} is exactly {level:g} in {int(counts.max())} of the {len(later)} evaluations "
        "after the first: the model's predictions do not change — a classifier that predicts "
        "one class sits at the majority rate — whatever its loss does",
    )


def no_learning(c: Curve, t: Thresholds) -> Finding | None:
    """``inconclusive`` for a run no rule faults but whose loss shows no trend at all: flat from
    the first logged value to the last, it gives no evidence that the run learns — a fall
    before the first logged value, a tiny LR and a stall all look like this."""
    n = len(c.y)
    if t.learning_p <= 0 or n < 10 or abs(c.progress) >= t.barely:
        return None
    tr = trend(c.xb, c.yb)
    if tr.p_value < t.learning_p:
        return None
    return _whole_run(
        c,
        "inconclusive",
        "no_trend_p",
        tr.p_value,
        f"the loss shows no trend over the whole run (Mann–Kendall p = {tr.p_value:.2f}; it ends "
        f"{100 * c.progress:.1f}% below its start): nothing shows that this run learns — a "
        "fall before the first logged value, a far too small LR and a stall all look like this",
    )


def flat_for_sure(c: Curve, t: Thresholds) -> Finding | None:
    """``plateau`` for a curve with no trend whose slope is pinned near zero: the 95% interval
    of its Theil–Sen slope (block medians) allows it to have moved less than ``barely`` of its
    level, up or down, over the whole run. No trend on few or noisy values is no evidence;
    no trend on enough values to bound the slope this tightly is evidence that the loss
    stopped moving."""
    if t.barely <= 0 or len(c.xb) < 3:
        return None
    tr = trend(c.xb, c.yb)
    span = float(c.xb[-1] - c.xb[0])
    level = abs(float(np.median(c.yb)))
    if not (span > 0 and level > 0 and np.isfinite(tr.low) and np.isfinite(tr.high)):
        return None
    most = max(abs(tr.low), abs(tr.high)) * span / level
    if most > t.barely:
        return None
    return _whole_run(
        c,
        "plateau",
        "flat_within_ci",
        most,
        f"the loss shows no trend and its slope is pinned near zero: over the whole run it "
        f"moved less than {100 * most:.1f}% of its level (95% interval of the Theil–Sen slope) "
        "— it stopped moving",
        evidence="weak",
    )
