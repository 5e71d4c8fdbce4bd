"""Guard policy: the framework-free decisions behind the ``Guard`` callbacks.

Feed it the training loss after every optimizer step; it answers what to do: carry on, save
the current state as the last good one, roll back to that state with a smaller LR, give a cut
LR back, or give up.
Framework adapters (torch loop, Lightning, Keras) only execute the answer.

Spikes are judged against the recent past with robust statistics (the running median and the
median absolute deviation over ``window`` steps), so minibatch noise does not trigger it and
the rule needs no knowledge of the loss's scale. NaN/inf losses always roll back. The same
ideas drive the doctor's ``unstable``/``diverged`` rules on finished logs; AUTOTRAINER
(Zhang et al., ICSE'21) repairs by rolling back and scaling the LR, which is what this does
online.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lrkit.errors import ConfigError, GuardError

__all__ = ["GuardAction", "GuardEvent", "GuardPolicy"]

_KINDS = ("continue", "checkpoint", "rollback", "recover", "stop")


@dataclass(frozen=True)
class GuardAction:
    """What the training loop should do after step ``step``.

    Attributes:
        kind: ``"continue"``; ``"checkpoint"`` (the current state is good: save it);
            ``"rollback"`` (restore the last checkpoint, then multiply the schedule's LR by
            ``scale``); ``"recover"`` (the loss is good and enough clean steps have passed
            since the last cut: set the LR multiplier back up to ``scale``); ``"stop"`` (too
            many rollbacks: the run cannot be saved by LR cuts). A ``continue`` with a reason
            is a batch the loop should skip (a suspected spike, or a first non-finite loss
            reported with ``skippable=True``).
        step: the step that was just reported.
        scale: the LR multiplier to use from now on (1 until the first rollback).
        reason: why (empty for a plain ``continue``).
        restore_step: for a rollback, the step of the checkpoint to restore.
    """

    kind: str
    step: int
    scale: float
    reason: str = ""
    restore_step: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "step": self.step,
            "scale": self.scale,
            "reason": self.reason,
            "restore_step": self.restore_step,
        }


def _median(xs: list[float]) -> float:
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


class GuardPolicy:
    """Detect NaN/inf and loss spikes online; decide checkpoints, rollbacks and LR cuts.

    A loss is a *spike* when it exceeds the running median of the last ``window`` good losses
    by more than ``spike_z`` robust standard deviations (1.4826 × MAD) **and** is more than
    ``spike_ratio`` × that median. ``patience`` consecutive spikes (or one non-finite loss)
    trigger a rollback: the LR multiplier ``scale`` is multiplied by ``lr_factor`` and the loop
    must restore the last checkpoint. Checkpoints are requested every ``checkpoint_every``
    steps, and only when no spike was seen since the last one (a state taken mid-instability
    is not "good"). After ``max_rollbacks`` rollbacks, or when ``scale`` would fall below
    ``min_scale``, the answer is ``stop``. Nothing is judged during the first ``warmup`` steps
    except non-finite losses.

    **A bad batch is not a bad LR.** A caller that judges the loss *before* applying it (the
    torch and Lightning guards: the weights are still intact) passes ``skippable=True``; with
    ``skip_first=True`` (the default) a non-finite loss is then answered with a skip
    (``continue`` with a reason), no rollback and no LR cut, unless another bad loss (non-finite
    or spike) came within the last ``patience`` reports: a blown-up model keeps producing bad
    losses, a corrupt batch does not. Without ``skippable`` (Keras: the update is already
    applied) a non-finite loss always rolls back.

    **Cuts are given back.** After ``recover_after`` consecutive clean steps since the last cut
    (or the last recovery), the answer is ``recover``: ``scale`` is divided by ``lr_factor``,
    capped at 1, so a transient fault costs a short stretch at a lower LR rather than the rest
    of the run. A scale that fails again within ``recover_after`` steps of being given back is
    not given back again (the cap drops to the new cut). ``recover_after=None`` keeps every cut.

    >>> g = GuardPolicy(window=10, warmup=5, checkpoint_every=5, patience=1)
    >>> [g.update(k, 1.0 + 0.01 * (k % 3)).kind for k in range(6)][-2:]
    ['checkpoint', 'continue']
    >>> a = g.update(6, float("nan"))
    >>> a.kind, a.scale, a.restore_step
    ('rollback', 0.5, 4)
    >>> g.update(5, 50.0).kind  # after a rollback the loop resumes from step 5
    'rollback'
    >>> g.update(6, float("nan"), skippable=True).kind  # a bad batch, first in a while? skip it
    'continue'
    """

    def __init__(
        self,
        *,
        window: int = 100,
        spike_z: float = 8.0,
        spike_ratio: float = 2.0,
        patience: int = 3,
        lr_factor: float = 0.5,
        checkpoint_every: int = 100,
        warmup: int = 20,
        max_rollbacks: int = 5,
        min_scale: float = 1e-3,
        skip_first: bool = True,
        recover_after: int | None = 100,
    ) -> None:
        for name, v, lo in (("window", window, 3), ("patience", patience, 1),
                            ("checkpoint_every", checkpoint_every, 1), ("warmup", warmup, 0),
                            ("max_rollbacks", max_rollbacks, 0)):  # fmt: skip
            if isinstance(v, bool) or not isinstance(v, int) or v < lo:
                raise ConfigError(f"{name} must be an integer >= {lo}, but got {name}={v!r}")
        for name, x in (("spike_z", spike_z), ("spike_ratio", spike_ratio)):
            if not (isinstance(x, int | float) and math.isfinite(x) and x > 0):
                raise ConfigError(f"{name} must be a finite number > 0, but got {name}={x!r}")
        if not (isinstance(lr_factor, int | float) and 0 < lr_factor < 1):
            raise ConfigError(f"lr_factor must be in (0, 1), but got lr_factor={lr_factor!r}")
        if recover_after is not None and (
            isinstance(recover_after, bool)
            or not isinstance(recover_after, int)
            or recover_after < 1
        ):
            raise ConfigError(
                f"recover_after must be an integer >= 1 or None, but got {recover_after=!r}"
            )
        if not (isinstance(min_scale, int | float) and 0 <= min_scale < 1):
            raise ConfigError(f"min_scale must be in [0, 1), but got min_scale={min_scale!r}")
        self.window = window
        self.spike_z = float(spike_z)
        self.spike_ratio = float(spike_ratio)
        self.patience = patience
        self.lr_factor = float(lr_factor)
        self.checkpoint_every = checkpoint_every
        self.warmup = warmup
        self.max_rollbacks = max_rollbacks
        self.min_scale = float(min_scale)
        self.skip_first = bool(skip_first)
        self.recover_after = recover_after
        self.reset()

    def reset(self) -> None:
        """Forget everything (a fresh run)."""
        self.scale = 1.0
        self.history: deque[float] = deque(maxlen=self.window)
        self.seen = 0
        self.bad_streak = 0
        self.clean_since_checkpoint = True
        self.last_checkpoint: int | None = None
        self.rollbacks: list[GuardAction] = []
        self.reports = 0  # update() calls: the clock of the skip window (steps may repeat)
        self.last_bad: int | None = None  # report number of the last skipped bad loss
        self.clean_streak = 0  # clean steps since the last cut or recovery
        self.recovered = False  # the last scale change was a recovery
        self.ceiling = 1.0  # recoveries never go above this
        self.recoveries = 0

    def is_spike(self, loss: float) -> bool:
        """Whether ``loss`` is a spike against the recent good losses (False while warming up)."""
        if self.seen < self.warmup or len(self.history) < 3:
            return False
        hist = list(self.history)
        med = _median(hist)
        mad = 1.4826 * _median([abs(h - med) for h in hist])
        return loss > med + self.spike_z * mad and loss > self.spike_ratio * abs(med)

    def update(self, step: int, loss: float, *, skippable: bool = False) -> GuardAction:
        """Report the loss of optimizer step ``step``; get the action to take.

        ``skippable=True`` says the loss was judged before it reached the weights and the
        caller will skip the batch on a ``continue`` with a reason (see ``skip_first``).
        """
        loss = float(loss)
        self.reports += 1
        recent_bad = self.last_bad is not None and self.reports - self.last_bad <= self.patience
        if not math.isfinite(loss):
            if skippable and self.skip_first and not recent_bad:
                self.last_bad = self.reports
                self.bad_streak += 1
                self.clean_since_checkpoint = False
                return GuardAction(
                    "continue", step, self.scale, f"loss is {loss} at step {step} (bad batch?)"
                )
            return self._rollback(step, f"loss is {loss} at step {step}")
        if self.is_spike(loss):
            self.bad_streak += 1
            self.clean_since_checkpoint = False
            if self.bad_streak >= self.patience:
                med = _median(list(self.history))
                return self._rollback(
                    step, f"loss {loss:.4g} at step {step} is {loss / med:.1f}× the recent median"
                )
            self.last_bad = self.reports
            return GuardAction("continue", step, self.scale, "spike (waiting)")
        self.bad_streak = 0
        self.history.append(loss)
        self.seen += 1
        self.clean_streak += 1
        if self.seen >= self.warmup and self.seen % self.checkpoint_every == 0:
            if self.clean_since_checkpoint:
                self.last_checkpoint = step
                return GuardAction("checkpoint", step, self.scale, "state is good")
            self.clean_since_checkpoint = True  # next period decides
        if (
            self.recover_after is not None
            and self.scale < self.ceiling
            and self.clean_streak >= self.recover_after
        ):
            # a due recovery waits out a checkpoint step: it fires on the next clean one
            old, self.scale = self.scale, min(self.ceiling, self.scale / self.lr_factor)
            self.clean_streak = 0
            self.recovered = True
            self.recoveries += 1
            return GuardAction(
                "recover",
                step,
                self.scale,
                f"{self.recover_after} clean steps since the LR scale became {old:g}",
            )
        return GuardAction("continue", step, self.scale)

    def _rollback(self, step: int, reason: str) -> GuardAction:
        self.bad_streak = 0
        new_scale = self.scale * self.lr_factor
        if (
            self.last_checkpoint is None
            or len(self.rollbacks) >= self.max_rollbacks
            or new_scale < self.min_scale
        ):
            why = "no good checkpoint yet" if self.last_checkpoint is None else (
                f"{len(self.rollbacks)} rollbacks already" if len(self.rollbacks)
                >= self.max_rollbacks else f"LR scale would fall below {self.min_scale:g}"
            )  # fmt: skip
            return GuardAction("stop", step, self.scale, f"{reason}; {why}")
        recover_after = self.recover_after
        if self.recovered and recover_after is not None and self.clean_streak < recover_after:
            self.ceiling = new_scale  # the scale just given back failed again: keep it cut
        self.recovered = False
        self.clean_streak = 0
        self.last_bad = None
        self.scale = new_scale
        action = GuardAction("rollback", step, self.scale, reason, self.last_checkpoint)
        self.rollbacks.append(action)
        self.clean_since_checkpoint = True
        return action

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume the policy (JSON-safe)."""
        return {
            "scale": self.scale,
            "history": list(self.history),
            "seen": self.seen,
            "bad_streak": self.bad_streak,
            "clean_since_checkpoint": self.clean_since_checkpoint,
            "last_checkpoint": self.last_checkpoint,
            "rollbacks": [a.to_dict() for a in self.rollbacks],
            "reports": self.reports,
            "last_bad": self.last_bad,
            "clean_streak": self.clean_streak,
            "recovered": self.recovered,
            "ceiling": self.ceiling,
            "recoveries": self.recoveries,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.scale = float(state["scale"])
        self.history = deque((float(h) for h in state["history"]), maxlen=self.window)
        self.seen = int(state["seen"])
        self.bad_streak = int(state["bad_streak"])
        self.clean_since_checkpoint = bool(state["clean_since_checkpoint"])
        self.last_checkpoint = state["last_checkpoint"]
        self.rollbacks = [GuardAction(**a) for a in state["rollbacks"]]
        # states saved before skip_first/recover_after existed lack these: start them fresh
        self.reports = int(state.get("reports", 0))
        self.last_bad = state.get("last_bad")
        self.clean_streak = int(state.get("clean_streak", 0))
        self.recovered = bool(state.get("recovered", False))
        self.ceiling = float(state.get("ceiling", 1.0))
        self.recoveries = int(state.get("recoveries", 0))


# -- shared by the Guard adapters (torch loop, Lightning, Keras) ---------------------------


@dataclass(frozen=True)
class GuardEvent:
    """One thing a ``Guard`` did.

    Attributes:
        kind: ``"snapshot"`` (a good state was copied to host memory), ``"skip"`` (a suspected
            spike or a first non-finite loss: the batch was not applied), ``"rollback"`` (the
            state was restored and the LR cut), ``"recover"`` (a cut was given back after
            ``recover_after`` clean steps), ``"stop"`` (the guard gave up), ``"spike"`` (a
            suspected spike that could not be skipped: Keras reports the loss after the
            update).
        step: the step reported when it happened.
        loss: the loss reported at that step.
        scale: the LR multiplier in force afterwards.
        reason: why (from the :class:`GuardPolicy`).
        restore_step: for a rollback, the step of the snapshot that was restored.
    """

    kind: str
    step: int
    loss: float
    scale: float
    reason: str = ""
    restore_step: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (a non-finite loss becomes its string, e.g. ``"nan"``)."""
        loss: float | str = self.loss if math.isfinite(self.loss) else str(self.loss)
        return {
            "kind": self.kind,
            "step": self.step,
            "loss": loss,
            "scale": self.scale,
            "reason": self.reason,
            "restore_step": self.restore_step,
        }


LogTarget = bool | logging.Logger | Callable[[str], None]


def _make_policy(
    policy: GuardPolicy | None,
    snapshot_every: int | None,
    lr_cut: float | None,
    max_rollbacks: int | None,
) -> GuardPolicy:
    """The policy a Guard runs: ``policy`` as given, or the defaults with the Guard's options."""
    given = {"snapshot_every": snapshot_every, "lr_cut": lr_cut, "max_rollbacks": max_rollbacks}
    if policy is not None:
        if not isinstance(policy, GuardPolicy):
            raise ConfigError(f"policy must be a GuardPolicy, but got policy={policy!r}")
        clash = [k for k, v in given.items() if v is not None]
        if clash:
            raise ConfigError(
                f"pass {', '.join(clash)} either to the Guard or inside policy=GuardPolicy(...), "
                f"not both (got {', '.join(f'{k}={given[k]!r}' for k in clash)})"
            )
        return policy
    kw: dict[str, Any] = {}
    if snapshot_every is not None:
        kw["checkpoint_every"] = snapshot_every
    if lr_cut is not None:
        kw["lr_factor"] = lr_cut
    if max_rollbacks is not None:
        kw["max_rollbacks"] = max_rollbacks
    try:
        return GuardPolicy(**kw)
    except ConfigError as exc:  # name the Guard's argument, not the policy's
        msg = str(exc).replace("checkpoint_every", "snapshot_every").replace("lr_factor", "lr_cut")
        raise ConfigError(msg) from None


class _GuardLog:
    """Events, logging and the final error: the framework-free half of every Guard adapter."""

    def __init__(self, log: LogTarget) -> None:
        if log is True:
            self._emit: Callable[[int, str], None] | None = logging.getLogger("lrkit.guard").log
        elif log is False or log is None:
            self._emit = None
        elif isinstance(log, logging.Logger):
            self._emit = log.log
        elif callable(log):
            fn = log
            self._emit = lambda _level, msg: fn(msg)
        else:
            raise ConfigError(
                f"log must be True, False, a logging.Logger or a callable, but got log={log!r}"
            )
        self.events: list[GuardEvent] = []

    def record(self, event: GuardEvent) -> None:
        self.events.append(event)
        if self._emit is None:
            return
        if event.kind == "snapshot":
            self._emit(logging.DEBUG, f"guard: snapshot at step {event.step}")
        elif event.kind == "spike":
            self._emit(logging.INFO, f"guard: suspected spike at step {event.step}: {event.reason}")
        elif event.kind == "skip":
            self._emit(
                logging.INFO, f"guard: skipped step {event.step} (loss {event.loss:.4g}, "
                f"{'suspected spike' if event.reason.startswith('spike') else 'bad batch?'})",
            )  # fmt: skip
        elif event.kind == "recover":
            self._emit(
                logging.INFO,
                f"guard: {event.reason}; LR scale back up to {event.scale:g}",
            )
        elif event.kind == "rollback":
            self._emit(
                logging.WARNING,
                f"guard: {event.reason}; rolled back to step {event.restore_step}, "
                f"LR scale now {event.scale:g}",
            )
        else:
            self._emit(logging.ERROR, f"guard: gave up at step {event.step}: {event.reason}")

    def count(self, kind: str) -> int:
        return sum(e.kind == kind for e in self.events)

    def stop(self, step: int, loss: float, reason: str, scale: float) -> GuardError:
        """Record the stop event and return the error to raise."""
        self.record(GuardEvent("stop", step, loss, scale, reason))
        n = self.count("rollback")
        return GuardError(
            f"the Guard gave up at step {step} (loss={loss:.6g}) after {n} rollback"
            f"{'' if n == 1 else 's'}: {reason}. Lower the learning rate, check the data "
            f"around step {step}, or allow more rollbacks (max_rollbacks)",
            step=step,
            loss=loss,
            rollbacks=n,
        )

    def summary(self, policy: GuardPolicy, snapshots: list[int]) -> dict[str, Any]:
        return {
            "scale": policy.scale,
            "rollbacks": self.count("rollback"),
            "lr_cuts": self.count("rollback"),
            "skipped": self.count("skip"),
            "recoveries": self.count("recover"),
            "snapshots": list(snapshots),
            "events": [e.to_dict() for e in self.events],
            "policy": policy.state_dict(),
        }


class _GuardReport:
    """The read-only state every Guard adapter exposes; adapters set ``policy`` and ``_log``
    and say where their snapshots are (:attr:`snapshot_steps`)."""

    policy: GuardPolicy
    _log: _GuardLog

    @property
    def events(self) -> list[GuardEvent]:
        """Everything the guard did, in order."""
        return self._log.events

    @property
    def scale(self) -> float:
        """The LR multiplier in force (1 until the first rollback)."""
        return self.policy.scale

    @property
    def rollbacks(self) -> int:
        """How many times the guard rolled back."""
        return self._log.count("rollback")

    @property
    def snapshot_steps(self) -> list[int]:
        """Steps of the snapshots held in host memory, oldest first."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary: scale, counts, snapshot steps, events and the policy state."""
        return self._log.summary(self.policy, self.snapshot_steps)
