"""Stateful feedback rules (framework-free): plateau reduction, guard policy."""

from __future__ import annotations

from lrkit.control._guard import GuardAction, GuardPolicy
from lrkit.control._plateau import ReduceOnPlateau
from lrkit.control.adapter import GuardEvent

__all__ = ["GuardAction", "GuardEvent", "GuardPolicy", "ReduceOnPlateau"]
