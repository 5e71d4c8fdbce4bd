"""The ``overfitting`` rule: the validation loss rises and stays up while training does not."""

from __future__ import annotations

import numpy as np

from lrkit.doctor._curve import (
    Curve,
)
from lrkit.doctor._diagnosis import Finding
from lrkit.doctor._log import Log, Series
from lrkit.doctor._stats import robust_sd, rolling_median, trend
from lrkit.doctor._thresholds import Thresholds


def val_noise(values: np.ndarray) -> float:
    """Robust SD of one evaluation's noise: the spread (MAD) of the consecutive changes over
    the second half of the evaluations, around their median (a trend moves the median, not the
    spread), over √2; NaN with fewer than 3 changes."""
    d = np.diff(values)[(len(values) - 1) // 2 :]
    if d.size < 3:
        return float("nan")
    return robust_sd(d) / float(np.sqrt(2.0))


def _at_floor(steps: np.ndarray, values: np.ndarray, k: int, rise: float, t: Thresholds) -> bool:
    """A validation loss at its floor: the rise above the minimum (at index ``k``) is within
    ``overfit_noise`` × the evaluations' noise and the values after the minimum do not trend up.

    The lowest of many noisy evaluations of a flat loss lies a few standard deviations below
    its level, so a flat, noisy validation loss "rises" that far above its minimum by chance.
    """
    noise = val_noise(values)
    if not noise > 0 or rise >= t.overfit_noise * noise:
        return False
    if len(values) - k < 4:
        return True
    tr = trend(steps[k:], values[k:])
    return not (tr.tau > 0 and tr.p_value < t.overfit_trend_p)


def check_overfitting(log: Log, c: Curve, t: Thresholds) -> list[Finding]:
    v = log.val_loss.finite() if log.val_loss is not None else None
    if v is None or len(v) < 5:
        return []
    if t.overfit_learns > 0 and c.progress < t.overfit_learns and not log.loss_is_validation:
        return []  # the training loss hardly moved: nothing was fitted to overfit
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
    # A loss high above zero rises little relative to its level: measure the rise against
    # what validation gained before its minimum too (``climb``). A validation loss lowest at
    # its first evaluation gained nothing: any steady rise after it is a climb (session 12:
    # real11's v14, a Keras log whose val_loss rose 0.050 -> 0.057 over 10 epochs from the
    # first, while the training loss fell 6x, counted as no climb at all).
    gained = float(vy[0]) - vmin
    climb = (vtail - vmin) / gained if gained > 0 else float("inf")
    if significant and gained > 0 and climb < t.overfit_floor:
        significant = climb >= t.overfit_negligible and not _at_floor(
            v.steps, v.values, k, vtail - vmin, t
        )
    # A loss that sits high (a language model at 2.4 nats) rises little relative to its level:
    # then ask for a steady climb (Mann–Kendall on the values after the minimum) instead.
    steady = False
    least = (
        min(t.overfit_climb, t.overfit_climb_gap) if t.overfit_climb_gap > 0 else t.overfit_climb
    )
    if rise < t.overfit_rise and climb >= least and after >= 4:
        tr = trend(v.steps[k:], v.values[k:])
        steady = tr.tau > 0 and tr.p_value < t.rise_p
        if steady and climb < t.overfit_climb:
            # A smaller steady climb counts where the gap widens too (session 23: validation
            # losses creeping up 1-6% over 20-30 evaluations, giving back 5-10% of their gain,
            # while training fell well below them, eye-labelled overfitting).
            steady = _gap_widens(c, t, float(v.steps[k]), vmin, vtail)
    # Training must not be getting worse at the same time (then the LR, not overfitting).
    at_k = float(np.interp(v.steps[k], c.x, c.smooth)) if len(c.x) else np.nan
    train_ok = len(c.x) > 0 and c.tail <= t.overfit_train * at_k
    if ((rise >= t.overfit_rise and significant) or steady) and train_ok:
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
    gap = _stalled_gap(log, c, t, v, k, vmin)
    return [gap] if gap is not None else []


def _gap_widens(c: Curve, t: Thresholds, x0: float, vmin: float, vtail: float) -> bool:
    """Whether the gap between the curves widened since the validation loss's best ``vmin``
    (at ``x0``; ``vtail`` its level at the end): the training loss ends below that best, and
    what validation gave back plus what training gained since is at least ``gap_train_drop``
    of it."""
    if not len(c.x) or not vmin > 0 or c.tail >= vmin:
        return False
    gained = float(np.interp(x0, c.x, c.smooth)) - c.tail
    return (vtail - vmin + gained) / vmin >= t.gap_train_drop


def _stalled_gap(
    log: Log, c: Curve, t: Thresholds, v: Series, k: int, vmin: float
) -> Finding | None:
    """Weak ``overfitting``: the validation loss stopped improving long before the end (its best
    at least ``gap_stall`` of the evaluations back, no downward trend after it) while the
    training loss kept falling significantly — the model now fits only its training data, and
    more steps at this LR will not improve it (session 13: YOLO and Keras logs whose
    validation sat flat for half the run while training fell, called healthy with "train
    longer"). A validation loss at exactly 0 (a perfect score, or a placeholder for epochs
    not evaluated) has no room to improve and is left alone."""
    n = len(v)
    if t.gap_train_drop <= 0 or log.loss_is_validation or not vmin > 0:
        return None
    # (Where a flat, noisy validation loss takes its lowest value is chance; starting the stall
    # at the first evaluation within reach of the best instead fired on 10 healthy real logs
    # whose validation loss flattened slowly at its floor, session 13.)
    after = n - 1 - k
    if after < max(4, t.gap_stall * (n - 1)):
        return None
    tv = trend(v.steps[k:], v.values[k:])
    if tv.slope < 0 and tv.p_value < t.low_p:
        return None  # still improving, slowly
    x0 = float(v.steps[k])
    window = c.x >= x0
    if int(window.sum()) < 5:
        return None
    # The gap widens by what training gains, measured against the validation loss's level: a
    # training loss already far below it that falls further by a sliver (a memorised training
    # set at 0.005 → 0.003 against a validation loss at 0.1) widens nothing that matters; and
    # it must widen beyond the validation loss's own noise (the overfit_noise × its noise that
    # a rise must clear too).
    if c.tail >= vmin:
        return None  # training still above validation's best: the curves close, not open
    gain = float(np.interp(x0, c.x, c.smooth)) - c.tail
    drop = gain / vmin
    noise = val_noise(v.values)
    if noise > 0 and gain < t.overfit_noise * noise:
        return None
    tr = trend(c.x[window], c.smooth[window])
    if not (tr.slope < 0 and tr.p_value < t.low_p and drop >= t.gap_train_drop):
        return None
    return Finding(
        "overfitting",
        "error",
        (x0, float(v.steps[-1])),
        "train_drop_after_val_best",
        drop,
        f"{v.name} has not improved since its best ({vmin:.4g}) at {log.x_name} {x0:g} "
        f"({after} of {n} evaluations since, no downward trend) while the training "
        f"loss fell by {drop:.0%} of that best: the gap between them widens — more steps fit "
        "the training data, not the task. Weak evidence: a validation loss at its floor looks "
        "like this too",
        evidence="weak",
    )
