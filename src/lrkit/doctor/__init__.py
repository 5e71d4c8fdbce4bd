"""The LR doctor: read a training log, say what is wrong with the run and what to change.

>>> from lrkit.doctor import diagnose
>>> d = diagnose({"loss": [2.3, 1.2, 0.8, float("nan"), float("nan")], "lr": [1.0] * 5})
>>> d.verdict, d.prescription.lr
('diverged', 0.1)
"""

from __future__ import annotations

from lrkit.doctor._checks import Thresholds
from lrkit.doctor._diagnose import diagnose
from lrkit.doctor._diagnosis import VERDICTS, Diagnosis, Finding, Prescription
from lrkit.doctor._log import Log, Series
from lrkit.doctor._readers import FORMATS, read_log

__all__ = [
    "FORMATS",
    "VERDICTS",
    "Diagnosis",
    "Finding",
    "Log",
    "Prescription",
    "Series",
    "Thresholds",
    "diagnose",
    "read_log",
]
