"""K members held as rows of the sweep engine's flat buffers, with exploit as a row copy."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from lrkit.sweep._engines import Engine
from lrkit.sweep._optim import FlatOptimizer

__all__ = ["Population"]


class Population:
    """Parameters ``(K, P)``, optimizer state and per-member LRs ``(K, 1)`` on one device.

    Every member starts from the engine's initial weights. :meth:`exploit` copies rows of the
    parameter and optimizer-state buffers in place: nothing leaves the device.
    """

    def __init__(
        self,
        engine: Engine,
        optimizer: str,
        lrs: torch.Tensor,
        *,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
    ) -> None:
        self.engine = engine
        dev, dt = lrs.device, lrs.dtype
        self.flat = engine.init_flat(len(lrs), dt, dev)
        self.grad = torch.empty_like(self.flat)
        self.opt = FlatOptimizer(optimizer, self.flat, momentum=momentum, weight_decay=weight_decay)
        self.lrs = lrs.reshape(-1, 1).clone()
        self.alive = torch.ones(len(lrs), 1, dtype=torch.bool, device=dev)

    @property
    def size(self) -> int:
        """Number of members K."""
        return int(self.flat.shape[0])

    def step(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """One update of every member on the shared batch; returns the losses ``(K,)``.

        A member whose loss is NaN/inf is frozen at LR 0 until an exploit replaces it.
        """
        loss = self.engine.loss_and_grad(self.flat, x, y, self.grad)
        self.alive &= torch.isfinite(loss).unsqueeze(1)
        self.opt.step(self.flat, self.grad, self.lrs * self.alive)
        return loss

    def outputs(self, x: torch.Tensor, piece: int) -> torch.Tensor:
        """All members' outputs on ``x`` ``(K, N, ...)``, in pieces of ``piece`` rows."""
        with torch.no_grad():
            return torch.cat(
                [self.engine.forward(self.flat, x[i : i + piece]) for i in range(0, len(x), piece)],
                dim=1,
            )

    def evaluate(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        score: Callable[[torch.Tensor, torch.Tensor], Any],
        piece: int,
    ) -> list[float]:
        """``score(output_i, y)`` for every member (NaN for a frozen, diverged one)."""
        model = self.engine.model
        was_training = model.training
        model.eval()
        try:
            out = self.outputs(x, piece)
        finally:
            model.train(was_training)
        ok = self.alive.squeeze(1).tolist()
        return [float(score(out[i], y)) if ok[i] else float("nan") for i in range(self.size)]

    def exploit(self, dst: torch.Tensor, src: torch.Tensor) -> None:
        """Members ``dst`` take the parameters and optimizer state of members ``src``."""
        self.flat[dst] = self.flat[src]
        self.opt.copy_rows(dst, src)
        self.engine.copy_rows(dst, src)  # per-copy buffers (BatchNorm statistics)
        self.alive[dst] = self.alive[src]

    def set_lrs(self, members: torch.Tensor, lrs: Sequence[float] | np.ndarray) -> None:
        """Set the LR of ``members`` (Python/NumPy floats: no float32 rounding on the way)."""
        self.lrs[members, 0] = torch.as_tensor(
            np.asarray(lrs, dtype=float), dtype=self.lrs.dtype, device=self.lrs.device
        )

    def weights(self, member: int) -> dict[str, torch.Tensor]:
        """Member ``member``'s parameters and buffers by name (detached CPU copies)."""
        row = self.flat[member].detach().cpu()
        eng = self.engine
        params = {
            n: row[a:b].reshape(shape).clone()
            for n, a, b, shape in zip(eng.names, eng.offsets[:-1], eng.offsets[1:], eng.shapes)
        }
        return {**params, **eng.buffers_of(member)}
