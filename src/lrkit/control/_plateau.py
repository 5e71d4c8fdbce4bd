"""Reduce the LR when a monitored metric stops improving, as a multiplier on any schedule."""

from __future__ import annotations

import math
from typing import Any

from lrkit.errors import ConfigError

__all__ = ["ReduceOnPlateau"]


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
        if not (isinstance(factor, int | float) and 0.0 < factor < 1.0):
            raise ConfigError(f"factor must be in (0, 1), but got factor={factor!r}")
        if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
            raise ConfigError(f"patience must be an integer >= 0, but got patience={patience!r}")
        if isinstance(cooldown, bool) or not isinstance(cooldown, int) or cooldown < 0:
            raise ConfigError(f"cooldown must be an integer >= 0, but got cooldown={cooldown!r}")
        if not (isinstance(threshold, int | float) and threshold >= 0 and math.isfinite(threshold)):
            raise ConfigError(f"threshold must be >= 0, but got threshold={threshold!r}")
        if threshold_mode not in ("rel", "abs"):
            raise ConfigError(
                f"threshold_mode must be 'rel' or 'abs', but got threshold_mode={threshold_mode!r}"
            )
        if mode not in ("min", "max"):
            raise ConfigError(f"mode must be 'min' or 'max', but got mode={mode!r}")
        if not (isinstance(min_scale, int | float) and 0.0 <= min_scale <= 1.0):
            raise ConfigError(f"min_scale must be in [0, 1], but got min_scale={min_scale!r}")
        if not (isinstance(eps, int | float) and eps >= 0 and math.isfinite(eps)):
            raise ConfigError(f"eps must be a finite number >= 0, but got eps={eps!r}")
        self.factor = float(factor)
        self.patience = patience
        self.threshold = float(threshold)
        self.threshold_mode = threshold_mode
        self.cooldown = cooldown
        self.min_scale = float(min_scale)
        self.mode = mode
        self.eps = float(eps)
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
        return {
            "factor": self.factor,
            "patience": self.patience,
            "threshold": self.threshold,
            "threshold_mode": self.threshold_mode,
            "cooldown": self.cooldown,
            "min_scale": self.min_scale,
            "mode": self.mode,
            "eps": self.eps,
            "scale": self.scale,
            "best": self.best,
            "num_bad": self.num_bad,
            "cooldown_counter": self.cooldown_counter,
            "num_updates": self.num_updates,
            "reductions": list(self.reductions),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state produced by :meth:`state_dict`."""
        missing = {"scale", "best", "num_bad", "cooldown_counter"} - set(state)
        if missing:
            raise ConfigError(f"plateau state is missing {sorted(missing)}")
        for key, value in state.items():
            setattr(self, key, list(value) if key == "reductions" else value)

    def __repr__(self) -> str:
        return (
            f"ReduceOnPlateau(factor={self.factor}, patience={self.patience}, "
            f"mode={self.mode!r}, scale={self.scale:g})"
        )
