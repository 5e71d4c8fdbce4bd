"""The population driver under :func:`lrkit.sweep` and :func:`lrkit.pbt`.

K copies of one model live as rows of flat ``(K, P)`` buffers (parameters, gradient, optimizer
state) on one device (:class:`Population`). :func:`train` is the one step loop: every copy
makes one update on each shared batch, under a fixed torch seed, and an evaluation hook runs at
chosen updates. A sweep's hook records validation scores; population-based training's hook
also exploits (:meth:`Population.exploit`, a row copy of weights and optimizer state) and
explores (:meth:`Population.set_lrs`). :func:`prepare` resolves what every run needs once:
placement, batches, validation set and length.

Importing this module imports torch; ``import lrkit.sweep`` alone does not.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import torch
from torch import nn

from lrkit._validate import check_float, check_int
from lrkit.errors import ConfigError
from lrkit.sweep._data import BatchSource, placement, validation_pair
from lrkit.sweep._engines import Engine, FuncEngine, make_engine
from lrkit.sweep._optim import OPTIMIZERS, FlatOptimizer

__all__ = [
    "OPTIMIZERS",
    "Copies",
    "Engine",
    "Population",
    "Setup",
    "check_run",
    "make_engine",
    "prepare",
    "train",
]

Score = Callable[[torch.Tensor, torch.Tensor], Any]


def check_run(
    where: str,
    optimizer: str,
    steps: Any,
    epochs: Any,
    momentum: Any = 0.9,
    weight_decay: Any = None,
) -> float:
    """Checks every population run shares; returns the weight decay to use.

    ``weight_decay=None`` means torch.optim's default: 0.01 for AdamW, else 0.
    """
    if steps is not None and epochs is not None:
        raise ConfigError(
            f"{where}: give steps or epochs, not both, but got steps={steps!r}, epochs={epochs!r}"
        )
    for name, n in (("steps", steps), ("epochs", epochs)):
        if n is not None and not isinstance(n, int):
            raise ConfigError(f"{where}: {name} must be a positive integer, but got {name}={n!r}")
        if n is not None:
            check_int(where, name, n, low=1)
    check_float(where, "momentum", momentum, low=0.0, high=1.0, high_open=True)
    if weight_decay is None:
        weight_decay = 0.01 if optimizer == "adamw" else 0.0
    return check_float(where, "weight_decay", weight_decay, low=0.0)


@dataclass(frozen=True, eq=False)
class Setup:
    """What a population run trains on, resolved once.

    Attributes:
        source: the shared training batches (replayable epochs).
        first_x: the first training batch's inputs (memory estimates, shape checks).
        val: the validation pair on ``device``/``dtype``, or None.
        total: number of updates every copy makes.
        dtype, device: where the copies live.
        seed: batch order and dropout masks, shared by all copies.
        batch_size: training batch size (validation runs in pieces of four times it).
    """

    source: BatchSource
    first_x: torch.Tensor
    val: tuple[torch.Tensor, torch.Tensor] | None
    total: int
    dtype: torch.dtype
    device: torch.device
    seed: int
    batch_size: int

    def to_device(self, t: torch.Tensor) -> torch.Tensor:
        """``t`` on the run's device; floating tensors also in its dtype."""
        if t.is_floating_point():
            return t.to(device=self.device, dtype=self.dtype)
        return t.to(device=self.device)

    def epoch_ends(self) -> list[int]:
        """Updates done at the end of every epoch, and at the last update if mid-epoch."""
        spe = self.source.steps_per_epoch
        ends = list(range(spe, self.total + 1, spe))
        if not ends or ends[-1] != self.total:
            ends.append(self.total)
        return ends


def prepare(
    model: nn.Module,
    train_data: Any,
    *,
    val_data: Any,
    steps: int | None,
    epochs: int | None,
    batch_size: int,
    seed: int,
    shuffle: bool,
    dtype: Any,
    device: Any,
) -> Setup:
    """Placement (default: ``model``'s dtype and device), batches, validation pair and length."""
    dt, dev = placement(model, dtype, device)
    source = BatchSource(train_data, batch_size=batch_size, seed=seed, shuffle=shuffle)
    first_x = next(next(source.epochs()))[0]
    pair = validation_pair(val_data, first_x)
    total = steps if steps is not None else (epochs or 1) * source.steps_per_epoch
    setup = Setup(source, first_x, None, total, dt, dev, seed, batch_size)
    if pair is None:
        return setup
    val = (setup.to_device(pair[0]), setup.to_device(pair[1]))
    return Setup(source, first_x, val, total, dt, dev, seed, batch_size)


class Copies(Protocol):
    """What :func:`train` drives: K copies of ``model`` that update together."""

    model: nn.Module

    @property
    def size(self) -> int: ...

    def step(self, x: torch.Tensor, y: torch.Tensor, k: int) -> torch.Tensor: ...


class Population:
    """Parameters ``(K, P)``, optimizer state and per-copy LRs ``(K, 1)`` on one device.

    Every copy starts from the engine's initial weights. Copy ``i`` makes update ``k`` at LR
    ``lrs[i] * multipliers[k]`` (no multipliers: ``lrs[i]``). A copy whose loss turns NaN/inf
    is frozen at LR 0 until an :meth:`exploit` replaces it.
    """

    def __init__(
        self,
        engine: Engine,
        optimizer: str,
        lrs: torch.Tensor,
        *,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        multipliers: np.ndarray | None = None,
    ) -> None:
        self.engine = engine
        self.model = engine.model
        dev, dt = lrs.device, lrs.dtype
        self.flat = engine.init_flat(len(lrs), dt, dev)
        self.grad = torch.empty_like(self.flat)
        self.opt = FlatOptimizer(optimizer, self.flat, momentum=momentum, weight_decay=weight_decay)
        self.lrs = lrs.reshape(-1, 1).clone()
        self.alive = torch.ones(len(lrs), 1, dtype=torch.bool, device=dev)
        self._mult = (
            None if multipliers is None else torch.as_tensor(multipliers, dtype=dt, device=dev)
        )

    @property
    def size(self) -> int:
        """Number of copies K."""
        return int(self.flat.shape[0])

    def step(self, x: torch.Tensor, y: torch.Tensor, k: int = 0) -> torch.Tensor:
        """Update ``k`` (from 0) of every copy on the shared batch; returns the losses ``(K,)``."""
        if k == 0 and isinstance(self.engine, FuncEngine):
            try:
                loss = self.engine.loss_and_grad(self.flat, x, y, self.grad)
            except (RuntimeError, NotImplementedError) as exc:
                msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                raise ConfigError(
                    f"model {type(self.model).__name__} cannot be trained under "
                    f"torch.func.vmap: {type(exc).__name__}: {msg} (.item(), data-dependent "
                    "control flow or in-place updates of tensors that are not buffers are not "
                    "supported)"
                ) from exc
        else:
            loss = self.engine.loss_and_grad(self.flat, x, y, self.grad)
        self.alive &= torch.isfinite(loss).unsqueeze(1)
        if self._mult is None:
            self.opt.step(self.flat, self.grad, self.lrs * self.alive)
        else:
            self.opt.step(self.flat, self.grad, self.lrs * (self._mult[k] * self.alive))
        return loss

    def outputs(self, x: torch.Tensor, piece: int) -> torch.Tensor:
        """All copies' outputs on ``x`` in eval mode, ``(K, N, ...)``, in pieces of ``piece`` rows."""
        was_training = self.model.training
        self.model.eval()
        try:
            with torch.no_grad():
                return torch.cat(
                    [
                        self.engine.forward(self.flat, x[i : i + piece])
                        for i in range(0, len(x), piece)
                    ],
                    dim=1,
                )
        finally:
            self.model.train(was_training)

    def evaluate(
        self, x: torch.Tensor, y: torch.Tensor, scores: Sequence[Score], piece: int
    ) -> np.ndarray:
        """``scores[s](output_i, y)`` for every copy, in eval mode: ``(len(scores), K)``.

        NaN for a frozen (diverged) copy.
        """
        out = self.outputs(x, piece)
        ok = self.alive.squeeze(1).tolist()
        table = np.full((len(scores), self.size), np.nan)
        for i in range(self.size):
            if ok[i]:
                table[:, i] = [float(fn(out[i], y)) for fn in scores]
        return table

    def exploit(self, dst: torch.Tensor, src: torch.Tensor) -> None:
        """Copies ``dst`` take the parameters and optimizer state of copies ``src``."""
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
        """Copy ``member``'s parameters and buffers by name (detached CPU copies)."""
        row = self.flat[member].detach().cpu()
        eng = self.engine
        params = {
            n: row[a:b].reshape(shape).clone()
            for n, a, b, shape in zip(eng.names, eng.offsets[:-1], eng.offsets[1:], eng.shapes)
        }
        return {**params, **eng.buffers_of(member)}


def train(
    copies: Copies,
    setup: Setup,
    *,
    eval_at: Sequence[int] = (),
    on_eval: Callable[[int, int], None] | None = None,
    on_step: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Run ``setup.total`` updates of every copy; returns the training losses ``(K, total)``.

    Batches come from ``setup.source`` and dropout masks from torch's RNG seeded with
    ``setup.seed`` inside a forked RNG state (the caller's is left as it was). After update
    ``eval_at[j]`` (a count of updates), ``on_eval(eval_at[j], j)`` runs; after every update,
    ``on_step(updates_done)``. The model is in train mode throughout and restored afterwards.
    Losses are as computed (NaN/inf included), in float64.
    """
    total = setup.total
    evals = {s: j for j, s in enumerate(eval_at)}
    loss_buf = torch.empty(copies.size, total, dtype=setup.dtype, device=setup.device)
    model = copies.model
    was_training = model.training
    fork_devices = [setup.device] if setup.device.type == "cuda" else []
    try:
        model.train()
        with torch.random.fork_rng(devices=fork_devices):
            torch.manual_seed(setup.seed)
            step = 0
            epochs = setup.source.epochs()
            while step < total:
                for x, y in next(epochs):
                    loss_buf[:, step] = copies.step(setup.to_device(x), setup.to_device(y), step)
                    step += 1
                    if on_eval is not None and step in evals:
                        on_eval(step, evals[step])
                    if on_step is not None:
                        on_step(step)
                    if step == total:
                        break
    finally:
        model.train(was_training)
    return loss_buf.double().cpu().numpy()
