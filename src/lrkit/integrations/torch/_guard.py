"""``Guard``: keep a plain PyTorch training loop alive through NaN/inf losses and loss spikes."""

from __future__ import annotations

import copy
import itertools
import math
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch
from torch.optim.lr_scheduler import LRScheduler

from lrkit._distributed import agree, is_active
from lrkit.control import GuardAction, GuardEvent
from lrkit.control.adapter import GuardOptions, GuardReport
from lrkit.errors import ConfigError
from lrkit.integrations.torch._scheduler import Scheduler

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["Guard"]


def _host_copy(obj: Any) -> Any:
    """Deep copy of a (nested) state dict with every tensor cloned to host memory."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {k: _host_copy(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_host_copy(v) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_host_copy(v) for v in obj)
    return copy.deepcopy(obj)


def _scale_lr(group: dict[str, Any], factor: float) -> None:
    if isinstance(group["lr"], torch.Tensor):
        group["lr"].mul_(factor)
    else:
        group["lr"] = group["lr"] * factor


def _loss_value(loss: torch.Tensor | float) -> float:
    return float(loss.detach().item()) if isinstance(loss, torch.Tensor) else float(loss)


def agreed_loss(value: float) -> float:
    """The loss every rank judges: this rank's, or under ``torch.distributed`` the largest
    over the ranks (NaN if any rank's is not finite), so every rank's policy sees the same
    losses and takes the same decisions at the same step."""
    return agree(value).max if is_active() else value


def grads_finite(grads: list[torch.Tensor]) -> bool:
    """Whether every gradient is finite (one fused norm, one host sync)."""
    return bool(torch.isfinite(torch.nn.utils.get_total_norm(grads, norm_type=2.0)))


@dataclass(frozen=True)
class _Snapshot:
    serial: int
    step: int
    model: dict[str, Any]
    optimizer: dict[str, Any]
    scheduler: dict[str, Any] | None
    scale: float


class Guard(GuardReport):
    """Detect NaN/inf losses and loss spikes in a PyTorch loop; roll back, cut the LR, go on.

    Call :meth:`check` with every batch's loss *before* ``backward()``; when it returns True,
    skip the batch (``continue``), so a bad loss never reaches the weights::

        guard = Guard(model, optimizer, scheduler)
        for step, (x, y) in enumerate(batches):
            loss = loss_fn(model(x), y)
            if guard.check(step, loss):
                continue  # a bad batch, a suspected spike, or rolled back: skip it
            optimizer.zero_grad()
            loss.backward()
            if guard.check_grads(step):  # optional: non-finite gradients
                continue
            optimizer.step()
            scheduler.step()

    The decisions come from a :class:`lrkit.control.GuardPolicy` (robust spike test against
    the running median, patience, checkpoint cadence, rollback budget); the Guard executes them:

    * **snapshot** — the state whose loss was just found good (model parameters and buffers,
      optimizer state, scheduler state) is deep-copied to host memory; at most
      ``max_snapshots`` are kept. The starting state is the first snapshot, so a fault before
      the policy's first checkpoint rolls back to it rather than giving up.
    * **skip** — while the policy waits to confirm a suspected spike (``patience``), those
      batches are not applied (``skip_spikes=True``); so is a non-finite loss (or gradient)
      while the weights are intact, the first time in ``patience`` batches (the policy's
      ``skip_first``): a bad batch, not a bad LR, so no rollback and no LR cut.
    * **rollback** — the newest snapshot is restored (the one before it, when two rollbacks in
      a row land on the same snapshot: it may already carry the damage), the LR is multiplied
      by ``lr_cut`` (cumulatively), gradients are cleared; the data moves on, the batch window
      that failed is not replayed.
    * **recover** — after the policy's ``recover_after`` clean steps (100) since the last
      cut, the cut is given back (the LR multiplier divided by ``lr_cut``, capped at 1).
    * **stop** — after ``max_rollbacks`` rollbacks (or when the cut LR would fall below the
      policy's ``min_scale``), :class:`lrkit.errors.GuardError` is raised, naming the step,
      the loss and the number of rollbacks.

    **The LR schedule after a rollback.** The scheduler is restored with the rest of the
    state, so its position again equals the number of updates the restored weights received
    (lrkit's step convention: update ``k`` runs at ``s(k)``); the skipped and undone updates
    are simply not counted, and a fixed-length run ends that many updates short of the
    schedule's end. The cut composes with the schedule: with lrkit's
    :class:`~lrkit.integrations.torch.Scheduler` it is its :attr:`~Scheduler.guard_scale`
    multiplier (exact, saved in its state dict); with another ``LRScheduler`` the group LRs and
    its ``base_lrs`` are multiplied; without a scheduler, the group LRs (as they were at the
    snapshot) are.

    Args:
        model: the ``torch.nn.Module`` being trained.
        optimizer: its optimizer.
        scheduler: the LR scheduler stepped once per update, if any.
        policy: the decision rule; by default ``GuardPolicy()`` with the three options below.
        snapshot_every: steps between snapshots (the policy's ``checkpoint_every``, 100).
        max_snapshots: how many snapshots to keep in host memory (>= 1).
        lr_cut: LR multiplier per rollback (the policy's ``lr_factor``, 0.5).
        max_rollbacks: rollbacks allowed before giving up (the policy's default, 5).
        skip_spikes: skip the batches of a suspected spike while the policy waits to confirm it.
        log: ``True`` logs to the ``"lrkit.guard"`` logger (rollbacks at WARNING; add a
            ``rich.logging.RichHandler`` for pretty output), ``False`` is silent, or pass a
            ``logging.Logger`` or any ``callable(str)`` (e.g. ``print``).

    **Distributed (DDP).** Where ``torch.distributed`` is initialised, :meth:`check` and
    :meth:`check_grads` are collective: every rank must call them at every step. The policy
    judges the largest loss over the ranks (a non-finite one if any rank's is), so a NaN or a
    spike seen on one rank makes every rank skip, roll back or cut the LR at the same step,
    the ranks' collective calls stay paired and their parameters stay identical (each rank
    restores its own snapshot, taken at the same step from the same weights).

    Host memory is bounded by ``max_snapshots`` copies of the model and optimizer state; the
    per-step cost is one host sync to read the loss and the policy's median over its window.
    The rollback-and-rescale repair follows AUTOTRAINER (Zhang et al., ICSE 2021); the
    skip-and-restart on loss spikes is what large-model runs do by hand (PaLM, Chowdhery et
    al. 2022, §5.1: restart before the spike, skip the batches; OPT, Zhang et al. 2022, §2.5:
    restart from an earlier checkpoint at a lower LR).
    """

    def __init__(
        self,
        model: torch.nn.Module,
        optimizer: torch.optim.Optimizer,
        scheduler: LRScheduler | None = None,
        *,
        skip_spikes: bool = True,
        **options: Unpack[GuardOptions],
    ) -> None:
        if not isinstance(model, torch.nn.Module):
            raise ConfigError(f"model must be a torch.nn.Module, but got model={model!r}")
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise ConfigError(
                f"optimizer must be a torch.optim.Optimizer, but got optimizer={optimizer!r}"
            )
        if scheduler is not None and not (
            hasattr(scheduler, "state_dict") and hasattr(scheduler, "load_state_dict")
        ):
            raise ConfigError(
                f"scheduler must have state_dict/load_state_dict, but got scheduler={scheduler!r}"
            )
        self.setup_guard("Guard", **options)
        self.model = model
        self.optimizer = optimizer
        self.scheduler = scheduler
        self.skip_spikes = bool(skip_spikes)
        self._snapshots: deque[_Snapshot] = deque(maxlen=self.max_snapshots)
        self._serial = itertools.count()
        self._last_restored: int | None = None  # serial of the snapshot the last rollback used

    # -- public state ----------------------------------------------------------------------

    @property
    def snapshot_steps(self) -> list[int]:
        """Steps of the snapshots held in host memory, oldest first."""
        return [s.step for s in self._snapshots]

    # -- the loop's calls ------------------------------------------------------------------

    def check(self, step: int, loss: torch.Tensor | float) -> bool:
        """Judge the loss of batch ``step`` (before ``backward``); True means skip the batch.

        Raises:
            GuardError: the policy gave up (too many rollbacks).
        """
        return self._act(int(step), agreed_loss(_loss_value(loss)))

    def _act(self, step: int, value: float) -> bool:
        action = self._decide(step, value)
        if action.kind == "rollback":
            self._rollback(action.step, value, action.scale, action.reason)
            return True
        return action.kind == "continue" and bool(action.reason) and self.skip_spikes

    def _decide(self, step: int, value: float) -> GuardAction:
        """Ask the policy; take snapshots and record skips at once, raise on ``stop``.

        A rollback is left to the caller (Lightning performs it after the optimizer step).
        """
        if not self._snapshots:
            # the starting state is good by definition: a fault before the policy's first
            # checkpoint rolls back to it instead of ending the run
            self._snapshot(step, value)
            if self.policy.last_checkpoint is None:
                self.policy.last_checkpoint = step
        before = self.policy.scale
        # the loss is judged before backward: a skipped batch never reaches the weights
        action = self.policy.update(step, value, skippable=self.skip_spikes)
        if action.kind == "checkpoint":
            self._snapshot(step, value)
        elif action.kind == "recover":
            self._set_scale(before, action.scale)
            self._log.record(GuardEvent("recover", step, value, action.scale, action.reason))
        elif action.kind == "continue" and action.reason and self.skip_spikes:
            self._log.record(GuardEvent("skip", step, value, action.scale, action.reason))
        elif action.kind == "stop":
            raise self._log.stop(step, value, action.reason, action.scale)
        return action

    def check_grads(self, step: int) -> bool:
        """After ``backward``: if any gradient is NaN/inf, roll back and return True (skip).

        One reduction over all gradients and one host sync; a non-finite gradient counts as a
        non-finite loss for the policy.
        """
        grads = [p.grad for g in self.optimizer.param_groups for p in g["params"]]
        grads = [g for g in grads if g is not None]
        if agreed_loss(0.0 if not grads or grads_finite(grads) else math.nan) == 0.0:
            return False
        return self._act(int(step), math.nan)

    # -- snapshots and rollbacks -----------------------------------------------------------

    def _snapshot(self, step: int, loss: float) -> None:
        snap = _Snapshot(
            serial=next(self._serial),
            step=step,
            model=_host_copy(self.model.state_dict()),
            optimizer=_host_copy(self.optimizer.state_dict()),
            scheduler=None if self.scheduler is None else _host_copy(self.scheduler.state_dict()),
            scale=self.policy.scale,
        )
        self._snapshots.append(snap)
        self._log.record(GuardEvent("snapshot", step, loss, self.policy.scale, "state is good"))

    def _set_scale(self, before: float, scale: float) -> None:
        """Move the live LR multiplier from ``before`` to ``scale`` (a recovery)."""
        if isinstance(self.scheduler, Scheduler):
            self.scheduler.guard_scale = scale
            return
        factor = scale / before
        for group in self.optimizer.param_groups:
            _scale_lr(group, factor)
        if isinstance(self.scheduler, LRScheduler) and hasattr(self.scheduler, "base_lrs"):
            self.scheduler.base_lrs = [lr * factor for lr in self.scheduler.base_lrs]
            self.scheduler._last_lr = [g["lr"] for g in self.optimizer.param_groups]

    def _rollback(self, step: int, loss: float, scale: float, reason: str) -> None:
        snap = self._snapshots[-1]
        if self._last_restored == snap.serial and len(self._snapshots) > 1:
            # two rollbacks in a row to the same state: it may already carry the damage
            # (e.g. optimizer moments from just before the fault); fall back one snapshot
            self._snapshots.pop()
            snap = self._snapshots[-1]
        self._last_restored = snap.serial
        self.model.load_state_dict(snap.model)
        # load_state_dict keeps CPU tensors as they are: give it a copy so the optimizer's
        # in-place updates never write into the snapshot
        self.optimizer.load_state_dict(_host_copy(snap.optimizer))
        factor = scale / snap.scale
        if self.scheduler is not None and snap.scheduler is not None:
            self.scheduler.load_state_dict(copy.deepcopy(snap.scheduler))
        if isinstance(self.scheduler, Scheduler):
            self.scheduler.guard_scale = scale  # re-applies the schedule's LR at once
        else:
            for group in self.optimizer.param_groups:
                _scale_lr(group, factor)
            if isinstance(self.scheduler, LRScheduler) and hasattr(self.scheduler, "base_lrs"):
                self.scheduler.base_lrs = [lr * factor for lr in self.scheduler.base_lrs]
                self.scheduler._last_lr = [g["lr"] for g in self.optimizer.param_groups]
        self.optimizer.zero_grad(set_to_none=True)
        self._log.record(GuardEvent("rollback", step, loss, scale, reason, snap.step))

    # -- resume ----------------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """The policy state and the events (snapshots live in memory only: not saved)."""
        return {"policy": self.policy.state_dict(), "events": [e.to_dict() for e in self.events]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Resume the policy (its LR scale, history, rollback count) and the event list.

        The first :meth:`check` after loading snapshots the state the run resumed from.
        """
        self.policy.load_state_dict(state["policy"])
        self._log.events[:] = [
            GuardEvent(**{**e, "loss": float(e["loss"])}) for e in state.get("events", [])
        ]
        self._snapshots.clear()
        self._last_restored = None
        self.policy.last_checkpoint = None

    def __repr__(self) -> str:
        return (
            f"Guard(scale={self.scale:g}, rollbacks={self.rollbacks}, "
            f"snapshots={self.snapshot_steps})"
        )
