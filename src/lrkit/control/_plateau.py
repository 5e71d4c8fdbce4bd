"""Reduce the LR when a monitored metric stops improving, as a multiplier on any schedule."""

from __future__ import annotations

import math
from typing import Any

from lrkit._validate import check_choice, check_float, check_int
from lrkit.errors import ConfigError

__all__ = ["ReduceOnPlateau"]

# what state_dict saves: the settings, then the counters
_STATE = (
    *("factor", "patience", "threshold", "threshold_mode", "cooldown", "min_scale", "mode", "eps"),
    *("scale", "best", "num_bad", "cooldown_counter", "num_updates", "reductions"),
)


class ReduceOnPlateau:
    """A plateau rule that returns a multiplier for *any* schedule.

    Feed it the monitored metric (typically once per epoch) with :meth:`update`; it returns the
    current multiplier ``scale``, which starts at 1 and is multiplied by ``factor`` after more
    than ``patience`` consecutive updates without improvement. The effective LR is
    ``schedule(k) * scale``, so warmup + cosine + plateau composes (PyTorch's ``SequentialLR``
    cannot hold ``ReduceLROnPlateau``, pytorch#68978).

    The rule is PyTorch's ``ReduceLROnPlateau``: improvement means ``metric < best * (1 -
    threshold)`` (``threshold_mode="rel"``) or ``metric < best - threshold`` (``"abs"``), mirrored
    for ``mode="max"``; it reduces when bad updates *exceed* ``patience`` (Keras reduces one
    update earlier, at ``wait >= patience``); ``cooldown`` updates after a reduction are not
    counted; the scale never goes below ``min_scale``; cuts smaller than ``eps`` (in units of
    the multiplier, where PyTorch's is in LR units) are ignored. A NaN metric is no improvement.

    >>> p = ReduceOnPlateau(factor=0.5, patience=1)
    >>> [p.update(v) for v in [1.0, 0.9, 0.95, 0.95, 0.95, 0.95]]
    [1.0, 1.0, 1.0, 0.5, 0.5, 0.25]
    """

    def __init__(
        self,
        *,
        factor: float = 0.1,
        patience: int = 10,
        threshold: float = 1e-4,
        threshold_mode: str = "rel",
        cooldown: int = 0,
        min_scale: float = 0.0,
        mode: str = "min",
        eps: float = 1e-8,
    ) -> None:
        w = "ReduceOnPlateau"
        self.factor = check_float(
            w, "factor", factor, low=0.0, high=1.0, low_open=True, high_open=True
        )
        self.patience = check_int(w, "patience", patience, low=0)
        self.threshold = check_float(w, "threshold", threshold, low=0.0)
        self.threshold_mode = check_choice(w, "threshold_mode", threshold_mode, ("rel", "abs"))
        self.cooldown = check_int(w, "cooldown", cooldown, low=0)
        self.min_scale = check_float(w, "min_scale", min_scale, low=0.0, high=1.0)
        self.mode = check_choice(w, "mode", mode, ("min", "max"))
        self.eps = check_float(w, "eps", eps, low=0.0)
        self.scale = 1.0
        self.best = math.inf if mode == "min" else -math.inf
        self.num_bad = 0
        self.cooldown_counter = 0
        self.num_updates = 0
        self.reductions: list[int] = []  # update indices (0-based) at which the scale was cut

    def is_better(self, value: float) -> bool:
        """Whether ``value`` counts as an improvement over the best value seen so far."""
        if math.isnan(value):
            return False
        if self.mode == "min":
            if self.threshold_mode == "rel":
                return value < self.best * (1.0 - self.threshold)
            return value < self.best - self.threshold
        if self.threshold_mode == "rel":
            return value > self.best * (1.0 + self.threshold)
        return value > self.best + self.threshold

    def update(self, metric: float) -> float:
        """Record one value of the monitored metric and return the current multiplier."""
        value = float(metric)
        if self.is_better(value):
            self.best = value
            self.num_bad = 0
        else:
            self.num_bad += 1
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.num_bad = 0
        if self.num_bad > self.patience:
            new = max(self.scale * self.factor, self.min_scale)
            if self.scale - new > self.eps:
                self.scale = new
                self.reductions.append(self.num_updates)
            self.cooldown_counter = self.cooldown
            self.num_bad = 0
        self.num_updates += 1
        return self.scale

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume: settings and counters (JSON-safe but for ``inf``)."""
        state = {key: getattr(self, key) for key in _STATE}
        state["reductions"] = list(self.reductions)
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state produced by :meth:`state_dict`."""
        missing = {"scale", "best", "num_bad", "cooldown_counter"} - set(state)
        if missing:
            raise ConfigError(f"plateau state is missing {sorted(missing)}")
        unknown = set(state) - set(_STATE)
        if unknown:
            # checked before any change: a foreign state must not leave the rule half-loaded
            raise ConfigError(f"plateau state has unknown keys {sorted(unknown)}")
        for key, value in state.items():
            setattr(self, key, list(value) if key == "reductions" else value)

    def __repr__(self) -> str:
        return (
            f"ReduceOnPlateau(factor={self.factor}, patience={self.patience}, "
            f"mode={self.mode!r}, scale={self.scale:g})"
        )
