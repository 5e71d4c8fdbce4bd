"""Stateful feedback rules (framework-free): plateau reduction, guard policy."""

from __future__ import annotations

from lrkit.control._guard import GuardAction, GuardEvent, GuardPolicy
from lrkit.control._plateau import ReduceOnPlateau

__all__ = ["GuardAction", "GuardEvent", "GuardPolicy", "ReduceOnPlateau"]
