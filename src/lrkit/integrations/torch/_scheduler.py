"""``torch.optim.lr_scheduler.LRScheduler`` driven by an lrkit schedule."""

from __future__ import annotations

import math
import numbers
import sys
import warnings
import weakref
from typing import Any

import numpy as np
import torch
from torch.optim.lr_scheduler import LRScheduler

from lrkit._validate import check_positive_float
from lrkit.control import ReduceOnPlateau
from lrkit.errors import ConfigError
from lrkit.schedules import Schedule, from_dict

__all__ = ["Scheduler"]

# LRs are computed in vectorised blocks of this many updates: a step then costs a list lookup,
# and the values are exactly those of ``schedule(np.arange(...))``.
_BLOCK = 512


def _accelerate_processes() -> int:
    """The process count of an active accelerate state (1 when accelerate is not in use)."""
    mod = sys.modules.get("accelerate.state")
    if mod is None:
        return 1
    shared = getattr(getattr(mod, "PartialState", None), "_shared_state", None) or {}
    return int(shared.get("num_processes", 1) or 1)


def _as_float(value: Any) -> float:
    return float(value.item()) if isinstance(value, torch.Tensor) else float(value)


class Scheduler(LRScheduler):
    """Apply ``schedule`` to every param group of ``optimizer``; the k-th ``optimizer.step()``
    runs at ``schedule(k)`` (times the plateau multiplier, if any).

    Param groups keep their ratios: each group's LR is ``schedule(k) * scale * ratio``, where
    ``ratio`` is the group's LR at construction divided by a reference LR — the optimizer's
    default LR when some group uses it, else the largest group LR — so a group created with
    half the LR stays at half (layer-wise multipliers survive).

    Use it like any PyTorch scheduler: call :meth:`step` once after each ``optimizer.step()``.
    With a plateau rule, call :meth:`report` with the monitored metric (e.g. once per epoch);
    the cut applies from the next update. :attr:`guard_scale` is one more multiplier (1 unless
    a :class:`lrkit.integrations.torch.Guard` cut the LR after a rollback); setting it applies
    at once and it is saved in :meth:`state_dict`. :meth:`state_dict` holds plain data only (it loads
    under ``torch.load(weights_only=True)``) and :meth:`load_state_dict` resumes the exact LR
    sequence, also into a freshly built optimizer — unlike PyTorch's chainable schedulers,
    the LR is recomputed from the step count, never from ``group["lr"]`` (pytorch#65342).

    >>> import torch
    >>> from lrkit.schedules import cosine
    >>> opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    >>> sched = Scheduler(opt, cosine(lr=0.1, steps=4))
    >>> lrs = []
    >>> for _ in range(5):
    ...     lrs.append(round(opt.param_groups[0]["lr"], 4))
    ...     opt.step()
    ...     sched.step()
    >>> lrs
    [0.1, 0.0854, 0.05, 0.0146, 0.0]
    """

    def __init__(
        self,
        optimizer: torch.optim.Optimizer,
        schedule: Schedule,
        plateau: ReduceOnPlateau | None = None,
    ) -> None:
        if not isinstance(schedule, Schedule):
            raise ConfigError(
                f"schedule must be an lrkit Schedule (e.g. lrkit.schedules.cosine(...)), "
                f"but got schedule={schedule!r}"
            )
        if plateau is not None and not isinstance(plateau, ReduceOnPlateau):
            raise ConfigError(f"plateau must be a ReduceOnPlateau, but got plateau={plateau!r}")
        if not isinstance(optimizer, torch.optim.Optimizer):
            raise ConfigError(f"optimizer must be a torch.optim.Optimizer, but got {optimizer!r}")
        self.schedule = schedule
        self._block_start = 0
        self._block: list[float] = []
        self.plateau = plateau
        self.scale = 1.0 if plateau is None else plateau.scale
        self._guard_scale = 1.0
        self.ratios = self._ratios(optimizer)
        self._updates: int | None = None  # optimizer updates seen (None: cannot be seen)
        self._hook_optimizer_updates(optimizer)
        self._advanced_at: int | None = self._updates
        super().__init__(optimizer, last_epoch=-1)

    def _hook_optimizer_updates(self, optimizer: torch.optim.Optimizer) -> None:
        """Count the optimizer's real updates (a post-step hook on the innermost optimizer:
        accelerate's ``AcceleratedOptimizer`` wraps one and skips it on overflow)."""
        inner: Any = optimizer
        while isinstance(getattr(inner, "optimizer", None), torch.optim.Optimizer):
            inner = inner.optimizer
        ref = weakref.ref(self)

        def count(*_: Any) -> None:
            me = ref()
            if me is not None and me._updates is not None:
                me._updates += 1

        try:
            self._hook = inner.register_step_post_hook(count)
            self._updates = 0
        except (AttributeError, RuntimeError):  # not a torch optimizer underneath
            self._updates = None

    @staticmethod
    def _ratios(optimizer: torch.optim.Optimizer) -> list[float]:
        # The reference LR is the optimizer's default LR when some group uses it (the usual
        # `Opt(params, lr=...)` with a few groups overriding it); otherwise, e.g. when every
        # group sets its own LR and torch filled in a default nobody chose, the largest group
        # LR (the top layer under layer-wise decay).
        lrs = [_as_float(g["lr"]) for g in optimizer.param_groups]
        ref = optimizer.defaults.get("lr")
        ref_f = _as_float(ref) if isinstance(ref, numbers.Real | torch.Tensor) else math.nan
        if not (ref_f > 0.0 and math.isfinite(ref_f) and any(lr == ref_f for lr in lrs)):
            ref_f = max(lrs) if lrs and max(lrs) > 0 else 1.0
        return [lr / ref_f for lr in lrs]

    def _value(self, k: int) -> float:
        i = k - self._block_start
        if not 0 <= i < len(self._block):
            if k < 0:
                raise ConfigError(f"the step count must be >= 0, but got last_epoch={k}")
            self._block_start, i = k, 0
            self._block = self.schedule(np.arange(k, k + _BLOCK)).tolist()
        return self._block[i]

    def get_lr(self) -> list[float]:  # type: ignore[override]
        """The LR of every param group for update ``last_epoch``."""
        value = self._value(self.last_epoch) * self.scale * self._guard_scale
        return [value * r for r in self.ratios]

    def step(self, epoch: int | None = None) -> None:
        """Advance to the next optimizer update (call it after ``optimizer.step()``).

        ``epoch`` (deprecated in PyTorch) sets the update index directly; with a closed-form
        schedule that is exact, so no warning is raised.
        """
        if self._step_count == 1 and not getattr(self.optimizer, "_opt_called", False):
            # the one PyTorch warning that points at a real bug in the caller's loop
            warnings.warn(
                "Detected call of `lr_scheduler.step()` before `optimizer.step()`: the first "
                "value of the schedule is skipped. Call optimizer.step() first.",
                UserWarning,
                stacklevel=2,
            )
        if epoch is None and self._repeated_by_accelerate():
            return
        self._advanced_at = self._updates
        self._step_count += 1
        self.last_epoch = self.last_epoch + 1 if epoch is None else int(epoch)
        self._apply()

    def _repeated_by_accelerate(self) -> bool:
        """Whether this ``step()`` is one of the extra calls accelerate makes per update.

        accelerate's ``AcceleratedScheduler`` steps the scheduler ``num_processes`` times per
        optimizer update unless ``split_batches=True`` (its convention for schedulers written
        in per-sample-batch steps), which would run update ``k`` at ``s(num_processes * k)``.
        lrkit's contract is ``s(k)`` at update ``k``: while an accelerate state with several
        processes is active, a ``step()`` with no optimizer update since the last one is
        ignored. Outside accelerate nothing changes (e.g. PyTorch's AMP convention of stepping
        the scheduler after a skipped update still advances it).
        """
        if getattr(self, "_is_initial", False):  # torch's construction-time step
            return False
        processes = _accelerate_processes()
        if processes <= 1:
            return False
        if self._updates is None:
            raise ConfigError(
                f"accelerate runs {processes} processes and steps the scheduler {processes} "
                "times per update (split_batches=False), but lrkit cannot see this optimizer's "
                "updates to keep s(k) exact; pass Accelerator(split_batches=True) or "
                "step_scheduler_with_optimizer=False and call scheduler.step() once per update"
            )
        return self._updates == self._advanced_at

    def _get_closed_form_lr(self) -> list[float]:
        return self.get_lr()

    @property
    def step_count(self) -> int:
        """Index of the next optimizer update (the number of :meth:`step` calls so far)."""
        return int(self.last_epoch)

    @property
    def guard_scale(self) -> float:
        """The Guard's LR multiplier (on top of the schedule and the plateau rule)."""
        return self._guard_scale

    @guard_scale.setter
    def guard_scale(self, value: float) -> None:
        value = check_positive_float("Scheduler", "guard_scale", value)
        self._guard_scale = value
        self._apply()

    def report(self, metric: float) -> float:
        """Feed the plateau rule one value of the monitored metric; returns the multiplier."""
        if self.plateau is None:
            raise ConfigError(
                "report() needs a plateau rule: Scheduler(..., plateau=ReduceOnPlateau())"
            )
        self.scale = self.plateau.update(metric)
        self._apply()
        return self.scale

    def _apply(self) -> None:
        value = self._value(self.last_epoch) * self.scale * self._guard_scale
        last: list[float | torch.Tensor] = []
        for group, ratio in zip(self.optimizer.param_groups, self.ratios, strict=True):
            lr = value * ratio
            current = group["lr"]
            if isinstance(current, torch.Tensor):
                current.fill_(lr)
                last.append(current.clone())
            else:
                group["lr"] = lr
                last.append(lr)
        self._last_lr = last

    def state_dict(self) -> dict[str, Any]:
        """Plain-data state: step count, group ratios, plateau and guard multipliers, the schedule."""
        return {
            "last_epoch": int(self.last_epoch),
            "_step_count": int(self._step_count),
            "ratios": list(self.ratios),
            "scale": float(self.scale),
            "guard_scale": float(self._guard_scale),
            "schedule": self.schedule.to_dict(),
            "plateau": None if self.plateau is None else self.plateau.state_dict(),
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Resume from :meth:`state_dict`; the optimizer's LRs are set for the saved step."""
        missing = {"last_epoch", "ratios", "scale"} - set(state_dict)
        if missing:
            raise ConfigError(
                f"not an lrkit Scheduler state (missing {sorted(missing)}); "
                "was it saved by another scheduler class?"
            )
        ratios = [float(r) for r in state_dict["ratios"]]
        if len(ratios) != len(self.optimizer.param_groups):
            raise ConfigError(
                f"the saved state has {len(ratios)} param groups but the optimizer has "
                f"{len(self.optimizer.param_groups)}"
            )
        saved = state_dict.get("schedule")
        if saved is not None and from_dict(saved) != self.schedule:
            warnings.warn(
                f"resuming with a different schedule: saved {from_dict(saved)!r}, "
                f"now {self.schedule!r}; the LR continues from step {state_dict['last_epoch']} "
                "of the new one",
                UserWarning,
                stacklevel=2,
            )
        if state_dict.get("plateau") is not None:
            if self.plateau is None:
                self.plateau = ReduceOnPlateau()
            self.plateau.load_state_dict(state_dict["plateau"])
        self.last_epoch = int(state_dict["last_epoch"])
        self._step_count = int(state_dict.get("_step_count", self.last_epoch + 1))
        self.ratios = ratios
        self.scale = float(state_dict["scale"])
        self._guard_scale = float(state_dict.get("guard_scale", 1.0))  # absent before the Guard
        for group in self.optimizer.param_groups:
            group.setdefault("initial_lr", group["lr"])
        self._apply()
