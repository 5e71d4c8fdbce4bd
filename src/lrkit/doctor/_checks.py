"""The rules. Each looks at the curve and returns findings for one verdict; :func:`run_checks`
runs them all. They live by kind: ``_check_divergence`` (diverged, unstable), ``_check_too_high``,
``_check_too_low`` (too low, plateau, no evidence), ``_check_overfitting``; the features they
share in ``_curve`` and their thresholds in ``_thresholds``.

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

import dataclasses

import numpy as np

from lrkit.doctor._check_divergence import check_diverged, check_unstable
from lrkit.doctor._check_overfitting import check_overfitting
from lrkit.doctor._check_too_high import check_lr_too_high, early_explosion
from lrkit.doctor._check_too_low import (
    _no_evidence,
    _val_improving,
    check_lr_too_low,
    check_plateau,
    flat_for_sure,
    frozen_accuracy,
    frozen_loss,
    no_learning,
)
from lrkit.doctor._curve import Curve, LRShape
from lrkit.doctor._diagnosis import VERDICTS, Finding
from lrkit.doctor._log import Log
from lrkit.doctor._thresholds import Thresholds

__all__ = [
    "Curve",
    "LRShape",
    "Thresholds",
    "check_diverged",
    "check_lr_too_high",
    "check_lr_too_low",
    "check_overfitting",
    "check_plateau",
    "check_unstable",
    "run_checks",
]


#: verdicts that a handful of points cannot support
_WEAK = ("plateau", "lr_too_low", "unstable")


def verdict_of(findings: list[Finding]) -> str:
    """The most severe kind among the ``error`` findings (``healthy`` where none); where one
    says there are too few values, the weak kinds (:data:`_WEAK`) do not count."""
    kinds = {f.kind for f in findings if f.severity == "error"}
    if "inconclusive" in kinds:
        kinds -= set(_WEAK)
    return next((v for v in VERDICTS if v in kinds), "healthy")


def run_checks(log: Log, thresholds: Thresholds | None = None) -> tuple[list[Finding], Curve]:
    """All findings for ``log`` (any order) and the curve features they were computed on."""
    t = thresholds or Thresholds()
    findings, c = _loss_checks(log, t)
    if verdict_of(findings) in ("healthy", "inconclusive") and len(c.y):
        # Nothing in the loss faults the run (or too few values to say): an accuracy that
        # never changes says the model is stuck however few values there are.
        stuck = frozen_accuracy(log, c, t)
        if stuck is not None:
            rest = [dataclasses.replace(f, severity="warning") for f in findings]
            return [stuck, *rest], c
    return findings, c


def _loss_checks(log: Log, t: Thresholds) -> tuple[list[Finding], Curve]:
    """The findings of the rules that read the loss curve (and the validation loss, the LR)."""
    c = Curve.of(log.loss)
    c.lr = LRShape.of(log.lr)
    c.first_is_initial = log.x_name == "step" and len(c.x) > 0 and c.x[0] == 0
    findings: list[Finding] = []
    findings += check_diverged(log, c, t)
    n = len(c.y)
    frozen = None if findings else frozen_loss(c, t)
    if frozen is not None:
        # A loss that does not move at all: every other rule would read its flatness as
        # something else (a tiny LR, a plateau to decay, too few values); an exactly constant
        # loss is evidence however few values there are.
        c.features.update(initial_loss=c.l0, final_loss=c.tail, progress=c.progress, n=n)
        return [frozen], c
    if not findings:
        # Noise without a trend: the single values the other rules compare (the start, the
        # best, the end) are minibatch luck here — unless the loss exploded at the start: then
        # the noise is the blow-up's aftermath (check_lr_too_high reports it).
        none = _no_evidence(c, t)
        if none is not None and not early_explosion(c, t):
            c.features.update(initial_loss=c.l0, final_loss=c.tail, progress=c.progress, n=n)
            return [flat_for_sure(c, t) or none], c
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
    if log.loss_is_validation:
        findings = _validation_rise(log, c, findings)
    else:
        findings = _overfit_over_rises(c, findings)
    if any(f.kind == "diverged" for f in findings):
        return findings, c
    span = (float(c.x[0]), float(c.x[-1])) if n else (0.0, 0.0)
    if n < t.min_points:
        return [
            _too_few(
                span, n, f"only {n} loss value{'s' if n != 1 else ''}: not enough to judge the run"
            ),
            *findings,
        ], c
    if not findings:
        # Nothing faulted, but "healthy" needs a run that learns: a flat line is no evidence.
        flat = no_learning(c, t)
        if flat is not None:
            return [flat_for_sure(c, t) or flat], c
    strong = [f for f in findings if f.kind not in _WEAK]
    if n < t.weak_points and len(strong) < len(findings) and not strong:
        if _val_improving(log, float(c.x[0]), t):
            # A short log whose held-out loss improves to its end: it learns; the hints stay
            # notes (session 14: 10-15 epoch Keras and text logs whose validation loss fell
            # to its last evaluation were "too few values to be sure").
            return [dataclasses.replace(f, severity="warning") for f in findings], c
        weak = ", ".join(sorted({f.kind for f in findings}))
        findings.insert(0, _too_few(span, n, f"{n} loss values hint at {weak}, too few to be sure"))
        return findings, c
    return findings, c


#: The rules that read a training loss climbing back up (or ending above its start) as too
#: high an LR; on a validation-only log the same shape is the classic sign of overfitting.
_RISES = ("mann_kendall_tau", "end_over_start", "rebound_over_range")


def _validation_rise(log: Log, c: Curve, findings: list[Finding]) -> list[Finding]:
    """On a log with only a validation loss, a rise after the best that a training-loss rule
    reads as too high an LR is ``overfitting``: with no training loss logged, a validation
    loss that climbs steadily after its best is the usual sign of it (the prescription: stop
    at the best). A blow-up, a spike or a loss at chance keeps its verdict."""
    rises = [f for f in findings if f.kind == "lr_too_high" and f.statistic in _RISES]
    if not rises:
        return findings
    i = int(np.argmin(c.smooth))
    best = c.ymin  # the smoothed curve's minimum, at index i
    rise = c.tail / best - 1 if best > 0 else 0.0
    over = Finding(
        "overfitting",
        "error",
        (float(c.x[i]), float(c.x[-1])),
        "val_rise_over_min",
        rise,
        f"{log.loss.name} — the validation loss; no training loss was logged — is lowest "
        f"(~{best:.4g}) at {log.x_name} {c.x[i]:g} and ends {rise:.0%} above it: with no "
        "training loss to compare, a validation loss that climbs after its best is the "
        "usual sign of overfitting (if the training loss rose too, the LR is too high)",
    )
    return [over, *(f for f in findings if f not in rises)]


#: The rules that read a late rise or a jittery validation loss as too high an LR.
_LATE_RISES = ("mann_kendall_tau", "rebound_over_range", "val_jitter_over_gain")


def _overfit_over_rises(c: Curve, findings: list[Finding]) -> list[Finding]:
    """Where the validation loss rose clearly after its best while the training loss ended
    below its level at that best, a late climb of the training loss (or a validation loss that
    jumps about as it rises) is the overfitting run's noise, not too high an LR: those
    findings stay as notes (session 14: real logs of memorised training sets — a training loss
    at 1e-4 that drifts to 6e-4, "60x its best", while the validation loss rose 80% — were
    called too high an LR).
    """
    over = [f for f in findings if f.statistic == "val_rise_over_min" and f.kind == "overfitting"]
    if not over or not len(c.x):
        return findings
    at_best = float(np.interp(over[0].steps[0], c.x, c.smooth))
    if not c.tail <= at_best:
        return findings
    return [
        dataclasses.replace(f, severity="warning")
        if f.kind == "lr_too_high" and f.statistic in _LATE_RISES
        else f
        for f in findings
    ]


def _too_few(span: tuple[float, float], n: int, message: str) -> Finding:
    """``inconclusive``: only ``n`` loss values, too few for the verdict the findings hint at."""
    return Finding("inconclusive", "error", span, "n_values", float(n), message)
