"""Guard policy: the framework-free decisions behind the ``Guard`` callbacks.

Feed it the training loss after every optimizer step; it answers what to do: carry on, save
the current state as the last good one, roll back to that state with a smaller LR, give a cut
LR back, or give up.
Framework adapters (torch loop, Lightning, Keras, Hugging Face) only execute the answer; what
they share (events, logging, the report) is :mod:`lrkit.control.adapter`.

Spikes are judged against the recent past with robust statistics (the running median and the
median absolute deviation over ``window`` steps), so minibatch noise does not trigger it and
the rule needs no knowledge of the loss's scale. NaN/inf losses always roll back. The same
ideas drive the doctor's ``unstable``/``diverged`` rules on finished logs; AUTOTRAINER
(Zhang et al., ICSE'21) repairs by rolling back and scaling the LR, which is what this does
online.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import asdict, dataclass
from typing import Any

from lrkit._validate import check_float, check_int, check_positive_float

__all__ = ["GuardAction", "GuardPolicy"]

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
        """The fields as a JSON-safe dict."""
        return asdict(self)


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
        where = "GuardPolicy"
        self.window = check_int(where, "window", window, low=3)
        self.spike_z = check_positive_float(where, "spike_z", spike_z)
        self.spike_ratio = check_positive_float(where, "spike_ratio", spike_ratio)
        self.patience = check_int(where, "patience", patience)
        self.lr_factor = check_float(
            where, "lr_factor", lr_factor, low=0, high=1, low_open=True, high_open=True
        )
        self.checkpoint_every = check_int(where, "checkpoint_every", checkpoint_every)
        self.warmup = check_int(where, "warmup", warmup, low=0)
        self.max_rollbacks = check_int(where, "max_rollbacks", max_rollbacks, low=0)
        self.min_scale = check_float(where, "min_scale", min_scale, low=0, high=1, high_open=True)
        self.recover_after = (
            None if recover_after is None else check_int(where, "recover_after", recover_after)
        )
        self.skip_first = bool(skip_first)
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
