"""``diagnose``: read a log, run the rules, pick the verdict, prescribe."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import numpy as np

from lrkit.doctor._checks import Curve, Thresholds, run_checks, verdict_of
from lrkit.doctor._diagnosis import VERDICTS, Diagnosis, Finding
from lrkit.doctor._learned import Forest, features, forest
from lrkit.doctor._log import Log
from lrkit.doctor._prescribe import prescribe
from lrkit.doctor._readers import ReadOptions, read_log

if TYPE_CHECKING:
    from typing import Unpack  # Python 3.11; only read by type checkers

__all__ = ["diagnose"]


def diagnose(
    log: Any, *, thresholds: Thresholds | None = None, **options: Unpack[ReadOptions]
) -> Diagnosis:
    """Diagnose a training run from its log.

    Args:
        log: a path (CSV, Lightning ``metrics.csv``, JSON Lines, Keras history JSON, a
            TensorBoard event file or run directory), a dict of lists, a pandas DataFrame, a
            Keras ``History``, or an already parsed :class:`Log`.
        options: ``format``, ``loss``, ``val_loss``, ``lr``, ``step`` (see
            :func:`lrkit.doctor.read_log`).
        thresholds: override the rules' thresholds (see :class:`Thresholds`).

    Returns:
        A :class:`Diagnosis`: the most severe verdict found (order: diverged, lr_too_high,
        unstable, overfitting, lr_too_low, plateau, inconclusive, healthy), every finding
        with its evidence, and a prescription. ``inconclusive`` means the log is too short
        or too noisy to support a verdict (the weaker findings are kept as notes).

    >>> import numpy as np
    >>> steps = np.arange(200)
    >>> d = diagnose({"step": steps, "loss": 2.3 - 0.002 * steps, "lr": [1e-4] * 200})
    >>> d.verdict, d.prescription.lr
    ('lr_too_low', 0.001)
    """
    unknown = sorted(set(options) - set(ReadOptions.__annotations__))
    if unknown:  # as Python says it for a missing keyword parameter, whatever ``log`` is
        raise TypeError(f"diagnose() got an unexpected keyword argument {unknown[0]!r}")
    parsed = log if isinstance(log, Log) else read_log(log, **options)
    return diagnose_parsed(parsed, thresholds or Thresholds(), forest())


def diagnose_parsed(parsed: Log, t: Thresholds, model: Forest | None) -> Diagnosis:
    """:func:`diagnose` on a parsed log, with the learned second opinion from ``model``
    (``None``: the rules alone; the benchmark passes each fold's own forest)."""
    verdict, findings, curve = rule_verdict(parsed, t)
    if model is not None and t.learned_margin > 0 and len(curve.y) > 0:
        verdict, findings = _second_opinion(parsed, curve, verdict, findings, t, model)
    final = _ranked(findings, verdict)
    return Diagnosis(
        verdict=verdict,
        findings=final,
        prescription=prescribe(verdict, list(final), parsed, curve, t),
        log=parsed,
        features=dict(curve.features),
    )


def rule_verdict(log: Log, t: Thresholds) -> tuple[str, list[Finding], Curve]:
    """The rules' verdict (the most severe kind among the error findings), their findings and
    the curve's features."""
    findings, curve = run_checks(log, t)
    return verdict_of(findings), findings, curve


def _ranked(findings: Iterable[Finding], verdict: str) -> tuple[Finding, ...]:
    """The findings by severity of their kind; those of ``verdict`` decide, the rest are notes."""
    ranked = sorted(findings, key=lambda f: (VERDICTS.index(f.kind), f.steps[0]))
    return tuple(
        f if f.kind == verdict else dataclasses.replace(f, severity="warning") for f in ranked
    )


#: The verdicts the learned opinion may replace: those that rest on the size or the absence of a
#: trend — judgements where the rules are weakest on logs they never saw. Verdicts that rest on
#: an event the curve shows (non-finite values, an explosion, spikes, a rise, a validation loss
#: climbing after its best) are kept, and no run is called ``diverged`` by the forest.
_SOFT = frozenset({"healthy", "inconclusive", "plateau", "lr_too_low"})
#: ... nor a soft verdict resting on such an event: a loss that froze (session 15: overruling
#: these lost more verdicts on the seen logs than it gained).
_HARD = frozenset({"frozen_loss", "frozen_val_loss", "frozen_after_blowup", "frozen_accuracy"})


def _overrulable(c: Curve, verdict: str, findings: list[Finding], best: str) -> bool:
    """Whether the learned opinion may replace the rules' soft ``verdict`` by ``best``: not one
    resting on a frozen loss, never by ``diverged``, an
    ``inconclusive`` only by ``healthy`` or ``lr_too_high``; and where the LR
    column shows one constant LR, not a plateau by ``healthy`` nor a strong too-low finding —
    there the prescription (decay at the stall, raise a steady crawl) rests on the logged LR."""
    mine = [f for f in findings if f.kind == verdict and f.severity == "error"]
    if best == "diverged" or any(f.statistic in _HARD for f in mine):
        return False
    if verdict == "inconclusive" and best not in ("healthy", "lr_too_high"):
        # A curve with no trend beyond its noise: a run that learnt before the log showed it,
        # or noise that is the LR's doing; a plateau or a too-small LR needs a trend.
        return False
    constant = c.lr is not None and c.lr.constant
    if constant and verdict == "plateau" and best == "healthy":
        return False
    strong = any(f.evidence == "strong" for f in mine)
    return not (constant and verdict == "lr_too_low" and strong)


def _second_opinion(
    log: Log, c: Curve, verdict: str, findings: list[Finding], t: Thresholds, model: Forest
) -> tuple[str, list[Finding]]:
    """The learned forest's verdict where it beats the rules' by ``learned_margin`` and may
    overrule them (:func:`_overrulable`); the rules' findings stay as the evidence (those of the
    new verdict decide, the rest are notes), and one finding says why the verdict changed. Only
    a soft verdict (:data:`_SOFT`) is weighed at all."""
    if verdict not in _SOFT:
        return verdict, findings
    p = model.proba(features(log, c, verdict, _ranked(findings, verdict), t))
    best = max(p, key=lambda k: p[k])
    if best == verdict or p[best] - p.get(verdict, 0.0) < t.learned_margin:
        return verdict, findings
    if not _overrulable(c, verdict, findings, best):
        return verdict, findings
    c.features["learned_p"] = p[best]
    note = Finding(
        best if best != "healthy" else verdict,
        "error" if best != "healthy" else "warning",
        _span(log, c, best),
        "learned_probability",
        p[best],
        f"the rules alone say {verdict}; weighed together with the curve's shape, the doctor's "
        f"classifier (trained on {model.meta.get('n_train', 'many')} labelled logs, real and "
        f"synthetic) rates {best} at {p[best]:.0%} and {verdict} at {p.get(verdict, 0.0):.0%}"
        + ("" if best == "healthy" else " — weaker evidence than a rule's own finding"),
        evidence="weak",
    )
    return best, [*findings, note]


def _span(log: Log, c: Curve, verdict: str) -> tuple[float, float]:
    """The steps a learned verdict points at: from the validation loss's best (overfitting),
    the smoothed loss's best (too high, unstable, diverged) or where the loss came within 5% of
    its final drop (plateau) to the end; the whole run otherwise."""
    x0, x1 = float(c.x[0]), float(c.x[-1])
    if verdict == "overfitting" and log.val_loss is not None and len(log.val_loss.finite()):
        v = log.val_loss.finite()
        return float(v.steps[int(np.argmin(v.values))]), x1
    if verdict in ("lr_too_high", "unstable", "diverged"):
        return float(c.x[int(np.argmin(c.smooth))]), x1
    if verdict == "plateau" and c.l0 > c.tail:
        near = np.nonzero(c.smooth <= c.tail + 0.05 * (c.l0 - c.tail))[0]
        return (float(c.x[near[0]]) if near.size else x0), x1
    return x0, x1
