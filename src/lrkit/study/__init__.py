"""The impact study: how much do the learning rate and its schedule matter for a model?

:func:`run_study` runs the range test for each optimizer, a sensitivity sweep (final
validation metric against the LR for each schedule), final trainings at each schedule's best
LR with fresh seeds, PBT against its equal-cost constant-LR grid (``standard`` and
``thorough`` budgets), and the doctor on every run; :func:`write_report` turns the
:class:`StudyResult` into a self-contained ``report.html`` and ``results.json``.

    result = run_study("mnist1d-cnn", budget="quick", out="study-out")
    print(result.recommendation.text)
"""

from __future__ import annotations

from lrkit.study._budget import BUDGETS, SCHEDULES, Budget, get_budget
from lrkit.study._report import render_html, write_report
from lrkit.study._result import ConfigSummary as ConfigSummary
from lrkit.study._result import Recommendation as Recommendation
from lrkit.study._result import Run as Run
from lrkit.study._result import StudyResult as StudyResult
from lrkit.study._result import SweepCurve as SweepCurve
from lrkit.study._runner import MNIST1D_REFERENCE, run_study

# The result classes (StudyResult, ConfigSummary, Recommendation, Run, SweepCurve) are
# importable from here but not in __all__: users receive them, they do not construct them.
__all__ = [
    "BUDGETS",
    "MNIST1D_REFERENCE",
    "SCHEDULES",
    "Budget",
    "get_budget",
    "render_html",
    "run_study",
    "write_report",
]
