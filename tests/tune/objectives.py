"""Tiny objectives loaded by worker processes in the tests (``file.py:function``)."""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

if os.environ.get("LRKIT_TEST_NO_HEARTBEAT_THREAD"):
    # Simulates a worker killed before Optuna's heartbeat thread wrote anything: the thread
    # never records (lrkit's own first heartbeat, written before the objective, remains).
    from optuna.storages import _heartbeat

    _heartbeat.HeartbeatThread.start = lambda self: None  # type: ignore[method-assign]
    _heartbeat.HeartbeatThread.join = lambda self: None  # type: ignore[method-assign]


def quadratic(lr: float, trial: Any) -> float:
    """Minimum at lr = 1e-3; sleeps LRKIT_TEST_SLEEP seconds; marks start/end in LRKIT_TEST_DIR."""
    marks = os.environ.get("LRKIT_TEST_DIR")
    tag = f"{os.getpid()}-{trial.number}"
    if marks:
        Path(marks, f"{tag}.start").touch()
    time.sleep(float(os.environ.get("LRKIT_TEST_SLEEP", "0.05")))
    if marks:
        Path(marks, f"{tag}.end").touch()
    return (math.log10(lr) + 3.0) ** 2
