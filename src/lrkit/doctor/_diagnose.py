"""``diagnose``: read a log, run the rules, pick the verdict, prescribe."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from lrkit.doctor._checks import _WEAK, Thresholds, run_checks
from lrkit.doctor._diagnosis import VERDICTS, Diagnosis
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
    findings, curve = run_checks(parsed, thresholds)
    kinds = {f.kind for f in findings if f.severity == "error"}
    if "inconclusive" in kinds:
        # Too few points: the weak findings (plateau, too-low LR, instability) stay notes.
        kinds -= set(_WEAK)
    verdict = next((v for v in VERDICTS if v in kinds), "healthy")
    ranked = sorted(findings, key=lambda f: (VERDICTS.index(f.kind), f.steps[0]))
    final = tuple(
        f if f.kind == verdict else dataclasses.replace(f, severity="warning") for f in ranked
    )
    return Diagnosis(
        verdict=verdict,
        findings=final,
        prescription=prescribe(verdict, list(final), parsed, curve),
        log=parsed,
        features=dict(curve.features),
    )
