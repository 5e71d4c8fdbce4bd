"""Chance level: the validation score of the best constant prediction, and who is stuck at it.

A copy that learned nothing (collapsed to one class, or to the mean) has a finite loss and is
not "diverged", yet it is no success either; a sweep must not recommend its LR. The rule is
fixed, not fitted to any task: a copy is at chance when its final score is not better than the
constant prediction's by a margin — two binomial standard errors of the chance level (at least
0.01) for a score in [0, 1] such as accuracy, else 2 % of the chance score (losses, MSE).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import torch

__all__ = ["at_chance", "chance_score"]


def _constant_output(template: torch.Tensor, y: torch.Tensor) -> torch.Tensor | None:
    """The best constant output for labels ``y``, shaped like the model's (``template``: one
    sample's output, ``(1, ...)``); None when the output/label pair is not recognised."""
    n = len(y)
    if not y.is_floating_point() and y.dim() == 1 and template.dim() == 2:
        c = template.shape[1]
        if not bool(((y >= 0) & (y < c)).all()):
            return None
        freq = torch.bincount(y.long(), minlength=c).to(template.dtype) / n
        # Log-frequencies: the constant logits minimising cross-entropy (argmax: the majority).
        return freq.clamp_min(1e-12).log().expand(n, c)
    if y.is_floating_point() and tuple(template.shape[1:]) == tuple(y.shape[1:]):
        return y.mean(dim=0, keepdim=True).to(template.dtype).expand_as(y)
    return None


def chance_score(
    template: torch.Tensor | None,
    y: torch.Tensor,
    score: Callable[[torch.Tensor, torch.Tensor], Any],
) -> float | None:
    """``score`` of the best constant prediction for ``y`` (``template``: the model's output on
    one sample), or None when undefined."""
    const = None if template is None else _constant_output(template, y)
    if const is None:
        return None
    try:
        value = float(score(const, y))
    except Exception:  # a metric that cannot take this output: no chance level, nothing flagged
        return None
    return value if math.isfinite(value) else None


def at_chance(
    scores: np.ndarray, chance: float | None, *, higher: bool, bounded: bool, n: int
) -> np.ndarray:
    """Which ``scores`` are not better than ``chance`` by the margin (NaN scores: False)."""
    scores = np.asarray(scores, dtype=float)
    if chance is None:
        return np.zeros(scores.shape, dtype=bool)
    if bounded and 0.0 <= chance <= 1.0:
        margin = max(0.01, 2.0 * math.sqrt(chance * (1.0 - chance) / max(n, 1)))
    else:
        margin = 0.02 * abs(chance)
    with np.errstate(invalid="ignore"):
        stuck = scores <= chance + margin if higher else scores >= chance - margin
    return np.asarray(stuck & np.isfinite(scores), dtype=bool)
