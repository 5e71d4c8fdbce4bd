"""One ordinary training, driven like a population of one, for optimizers with no flat form.

Hypergradient and LR-free optimizers (``lrkit.optim.make``) keep per-tensor state that the flat
``(K, P)`` layout cannot hold, so a sweep over them trains one copy after another; each copy
runs through the same step loop (:func:`lrkit.sweep.population.train`) as a vectorised one.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from lrkit.sweep.population import Score, Setup

__all__ = ["OrdinaryCopy"]


class OrdinaryCopy:
    """A deep copy of ``model`` trained with ``lrkit.optim.make(optimizer, ...)`` at ``lr``.

    Update ``k`` uses ``lr * multipliers[k]`` unless the optimizer learns its own LR (``hd*``).
    Once its loss is NaN/inf it stops: later losses and scores are NaN.
    """

    def __init__(
        self,
        model: nn.Module,
        loss_fn: Any,
        setup: Setup,
        optimizer: str,
        lr: float,
        multipliers: np.ndarray,
        weight_decay: float,
    ) -> None:
        from lrkit.optim._registry import make

        self.model = copy.deepcopy(model).to(device=setup.device, dtype=setup.dtype)
        self.loss_fn = loss_fn
        kw = {"weight_decay": weight_decay} if weight_decay else {}
        self.opt = make(optimizer, self.model.parameters(), lr, **kw)
        self.lr = lr
        self.mult = multipliers
        self.learns_lr = optimizer.startswith("hd")
        self.diverged = False
        self._nan = torch.full((1,), math.nan, dtype=setup.dtype, device=setup.device)

    @property
    def size(self) -> int:
        """One copy."""
        return 1

    def step(self, x: torch.Tensor, y: torch.Tensor, k: int) -> torch.Tensor:
        """Update ``k`` on one batch; returns the loss ``(1,)`` before the update."""
        if self.diverged:
            return self._nan
        if not self.learns_lr:
            for group in self.opt.param_groups:
                group["lr"] = self.lr * float(self.mult[k])
        loss = self.loss_fn(self.model(x), y)
        if not math.isfinite(float(loss.detach())):
            self.diverged = True
            return loss.detach().reshape(1)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return loss.detach().reshape(1)

    def evaluate(self, x: torch.Tensor, y: torch.Tensor, scores: Sequence[Score]) -> np.ndarray:
        """``scores[s](output, y)`` on the whole set in eval mode, ``(len(scores), 1)``."""
        from lrkit.optim._registry import evaluating

        if self.diverged:
            return np.full((len(scores), 1), np.nan)
        self.model.eval()
        try:
            with torch.no_grad(), evaluating(self.opt):
                out = self.model(x)
                return np.array([[float(fn(out, y))] for fn in scores])
        finally:
            self.model.train()
