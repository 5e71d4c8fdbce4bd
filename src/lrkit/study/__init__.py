"""The impact study: how much do the learning rate and its schedule matter for a model?

:func:`run_study` runs the range test for each optimizer, a sensitivity sweep (final
validation metric against the LR for each schedule), final trainings at each schedule's best
LR with fresh seeds, and the doctor on every run; :func:`write_report` turns the
:class:`StudyResult` into a self-contained ``report.html`` and ``results.json``.

    result = run_study("mnist1d-cnn", budget="quick", out="study-out")
    print(result.recommendation.text)
"""

from __future__ import annotations

from lrkit.study._budget import BUDGETS, SCHEDULES, Budget, get_budget
from lrkit.study._report import render_html, write_report
from lrkit.study._result import ConfigSummary, Recommendation, StudyResult
from lrkit.study._runner import MNIST1D_REFERENCE, run_study
from lrkit.study._train import Run, SweepCurve

__all__ = [
    "BUDGETS",
    "MNIST1D_REFERENCE",
    "SCHEDULES",
    "Budget",
    "ConfigSummary",
    "Recommendation",
    "Run",
    "StudyResult",
    "SweepCurve",
    "get_budget",
    "render_html",
    "run_study",
    "write_report",
]
