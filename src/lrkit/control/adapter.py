"""What every ``Guard`` adapter shares: events, their log, the report and the policy factory.

The framework-free half of :class:`lrkit.integrations.torch.Guard` and the Lightning, Keras and
Hugging Face ``GuardCallback``: an adapter subclasses :class:`GuardReport`, calls
:meth:`GuardReport.setup_guard` with its options, hands every policy answer it carries out to
``self._log.record`` (a :class:`GuardLog`), and raises ``self._log.stop(...)`` when the
:class:`~lrkit.control.GuardPolicy` gives up.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, TypedDict

from lrkit._validate import check_int
from lrkit.control._guard import GuardPolicy
from lrkit.errors import ConfigError, GuardError

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = [
    "GUARD_DEFAULTS",
    "GuardEvent",
    "GuardLog",
    "GuardOptions",
    "GuardReport",
    "LogTarget",
    "make_policy",
]


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
        return {**asdict(self), "loss": loss}


LogTarget = bool | logging.Logger | Callable[[str], None]


class GuardOptions(TypedDict, total=False):
    """The options every Guard adapter takes (see :class:`lrkit.integrations.torch.Guard`)."""

    policy: GuardPolicy | None
    snapshot_every: int | None
    max_snapshots: int
    lr_cut: float | None
    max_rollbacks: int | None
    log: LogTarget


#: The default of every :class:`GuardOptions` key.
GUARD_DEFAULTS: dict[str, Any] = {
    "policy": None,
    "snapshot_every": None,
    "max_snapshots": 2,
    "lr_cut": None,
    "max_rollbacks": None,
    "log": True,
}


def make_policy(
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


class GuardLog:
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


class GuardReport:
    """The base of every Guard adapter: its options, and the read-only state it exposes.

    An adapter calls :meth:`setup_guard` from its ``__init__`` and says where its snapshots
    are (:attr:`snapshot_steps`).
    """

    policy: GuardPolicy
    max_snapshots: int
    _log: GuardLog

    def setup_guard(self, where: str, **options: Unpack[GuardOptions]) -> None:
        """Check the options (``where`` names the adapter in errors) and build the policy.

        Options left out take the defaults in :data:`GUARD_DEFAULTS`.
        """
        unknown = sorted(set(options) - set(GUARD_DEFAULTS))
        if unknown:
            raise TypeError(f"{where}() got an unexpected keyword argument {unknown[0]!r}")
        opts: dict[str, Any] = {**GUARD_DEFAULTS, **options}
        self.max_snapshots = check_int(where, "max_snapshots", opts["max_snapshots"])
        self.policy = make_policy(
            opts["policy"], opts["snapshot_every"], opts["lr_cut"], opts["max_rollbacks"]
        )
        self._log = GuardLog(opts["log"])

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
