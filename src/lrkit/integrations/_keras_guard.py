"""``GuardCallback`` for Keras ``fit`` (split from :mod:`lrkit.integrations.keras`)."""

from __future__ import annotations

import math
from collections import deque
from typing import TYPE_CHECKING, Any

import keras
from keras import ops

from lrkit.control import GuardEvent
from lrkit.control.adapter import GuardOptions, GuardReport
from lrkit.errors import ConfigError

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["GuardCallback"]


def _keras_schedule() -> Any:
    """``KerasSchedule``, looked up late: ``lrkit.integrations.keras`` imports this module."""
    from lrkit.integrations.keras import KerasSchedule

    return KerasSchedule


class GuardCallback(keras.callbacks.Callback, GuardReport):  # type: ignore[misc]
    """Keep a Keras ``fit`` alive through NaN/inf losses and loss spikes: roll back, cut the LR.

    After every batch the batch's loss goes to a :class:`lrkit.control.GuardPolicy`. Keras
    logs a running mean over the epoch, so the batch loss is recovered by differencing it
    (``n·mean_n − (n−1)·mean_{n−1}``; exact for equal batches, approximate for a last partial
    one). The policy's answers are carried out on the model:

    * **snapshot** — the weights (``model.get_weights()``: trainable and not) and the optimizer
      variables (moments, ``iterations``, a float LR) are copied to host memory (NumPy). Keras
      calls the callback after the update, so a snapshot is only trusted once the next batch's
      loss — computed on those weights — is good; at most ``max_snapshots`` are kept, and the
      state at ``on_train_begin`` is the first.
    * **rollback** — the newest trusted snapshot is restored (the one before it after two
      rollbacks in a row to the same one), the LR is multiplied by ``lr_cut`` — a float LR
      directly, a :class:`KerasSchedule` through its ``guard_scale`` (the train step is rebuilt,
      as the value is a constant in the compiled step) — and the epoch's loss metric is reset
      (a NaN would poison the running mean for the rest of the epoch). ``optimizer.iterations``
      goes back with the state, so the schedule position again counts the updates the weights
      received; the data moves on.
    * **recover** — after the policy's ``recover_after`` clean steps since the last cut, the
      cut is given back (LR multiplier divided by ``lr_cut``, capped at 1), as a rollback sets it.
    * **stop** — :class:`lrkit.errors.GuardError` ends ``fit``.

    The update of a batch whose loss is bad has already been applied when Keras calls back, so
    suspected spikes cannot be skipped (they are recorded as ``"spike"`` events); a rollback
    undoes them. Works on the TensorFlow, JAX and PyTorch backends (on JAX the state held by
    the train loop is synced before a snapshot or a rollback). Keyword arguments (``policy``,
    ``snapshot_every``, ``max_snapshots``, ``lr_cut``, ``max_rollbacks``, ``log``) as
    :class:`lrkit.integrations.torch.Guard`.
    """

    def __init__(self, **options: Unpack[GuardOptions]) -> None:
        super().__init__()
        self.setup_guard("GuardCallback", **options)
        # (serial, step, weights, optimizer variables, scale)
        self._snapshots: deque[tuple[int, int, list[Any], list[Any], float]] = deque(
            maxlen=self.max_snapshots
        )
        self._pending: tuple[int, int, list[Any], list[Any], float] | None = None
        self._serial = 0
        self._last_restored: int | None = None
        self._step = 0
        self._n = 0
        self._mean = 0.0
        self._guarded: Any = None  # the model whose snapshots are held

    @property
    def snapshot_steps(self) -> list[int]:
        """Steps (batches seen before each snapshot) of the trusted snapshots, oldest first."""
        return [s[1] for s in self._snapshots]

    # -- Keras hooks -----------------------------------------------------------------------

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        lr = self._lr()
        if not isinstance(lr, _keras_schedule()) and isinstance(
            lr, keras.optimizers.schedules.LearningRateSchedule
        ):
            raise ConfigError(
                f"GuardCallback cuts a float LR or an lrkit KerasSchedule, but the optimizer's "
                f"learning_rate is {lr!r}; wrap the schedule as KerasSchedule(lrkit schedule)"
            )
        if self._guarded is not self.model:  # another model: a fresh run
            if self._guarded is not None:
                self.policy.reset()
                self._step = 0
            self._guarded = self.model
            self._snapshots.clear()
            self._last_restored = None
        if not self._snapshots or len(self._snapshots[-1][3]) != len(self._opt_variables()):
            # the start of fit() is a good state (and a recompiled optimizer voids old ones)
            self._snapshots.clear()
            self._snapshots.append(self._take(self._step))
            self._log.record(GuardEvent("snapshot", self._step, math.nan, self.scale, "start"))
            if self.policy.last_checkpoint is None:
                self.policy.last_checkpoint = self._step

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        self._n, self._mean = 0, 0.0  # Keras resets its metrics at every epoch

    def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
        if not logs or "loss" not in logs:
            raise ConfigError(
                "GuardCallback needs the batch logs' 'loss'; got "
                f"{sorted(logs or {})} (a custom train_step must return it)"
            )
        mean = float(logs["loss"])
        n = self._n + 1
        loss = mean if n == 1 or not math.isfinite(mean) else n * mean - (n - 1) * self._mean
        self._n, self._mean = n, mean
        step, self._step = self._step, self._step + 1
        before = self.policy.scale
        action = self.policy.update(step, loss)  # not skippable: the update is already applied
        if self._pending is not None:
            # the pending snapshot's weights produced this loss: keep it only if it is good
            good = action.kind in ("continue", "checkpoint", "recover")
            if good and not action.reason.startswith("spike"):
                self._snapshots.append(self._pending)
                self._log.record(
                    GuardEvent(
                        "snapshot", self._pending[1], loss, self._pending[4], "state is good"
                    )
                )
            self._pending = None
        if action.kind == "checkpoint":
            self._pending = self._take(step + 1)
        elif action.kind == "recover":
            self._set_lr_scale(before, action.scale)
            self._log.record(GuardEvent("recover", step, loss, action.scale, action.reason))
        elif action.kind == "continue" and action.reason:
            self._log.record(GuardEvent("spike", step, loss, action.scale, action.reason))
        elif action.kind == "rollback":
            self._rollback(step, loss, action.scale, action.reason)
        elif action.kind == "stop":
            raise self._log.stop(step, loss, action.reason, action.scale)

    # -- state -----------------------------------------------------------------------------

    def _lr(self) -> Any:
        return getattr(self.model.optimizer, "_learning_rate", None)

    def _sync(self) -> None:
        # JAX keeps the live state outside the variables during fit; write it back first
        sync = getattr(self.model, "jax_state_sync", None)
        if callable(sync):
            sync()

    def _take(self, step: int) -> tuple[int, int, list[Any], list[Any], float]:
        import numpy as np

        self._sync()
        weights = [np.array(w, copy=True) for w in self.model.get_weights()]
        opt_vars = [np.array(ops.convert_to_numpy(v), copy=True) for v in self._opt_variables()]
        self._serial += 1
        return (self._serial, step, weights, opt_vars, self.policy.scale)

    def _opt_variables(self) -> list[Any]:
        return list(self.model.optimizer.variables)

    def _set_lr_scale(self, before: float, scale: float) -> None:
        """Move the LR multiplier from ``before`` (the one the live LR carries) to ``scale``."""
        lr = self._lr()
        if isinstance(lr, _keras_schedule()):
            lr.guard_scale = scale
            self.model.make_train_function(force=True)
        else:
            opt = self.model.optimizer
            opt.learning_rate = float(ops.convert_to_numpy(opt.learning_rate)) * (scale / before)

    def _rollback(self, step: int, loss: float, scale: float, reason: str) -> None:
        snap = self._snapshots[-1]
        if self._last_restored == snap[0] and len(self._snapshots) > 1:
            self._snapshots.pop()  # a second rollback to the same state: it may be damaged
            snap = self._snapshots[-1]
        self._last_restored = snap[0]
        self._pending = None
        self._sync()
        self.model.set_weights(snap[2])
        for var, value in zip(self._opt_variables(), snap[3], strict=True):
            var.assign(value)
        self._set_lr_scale(snap[4], scale)
        self.model.reset_metrics()
        self._n, self._mean = 0, 0.0
        self._log.record(GuardEvent("rollback", step, loss, scale, reason, snap[1]))
