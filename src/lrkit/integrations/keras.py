"""Keras 3 adapter: :class:`KerasSchedule`, the :class:`PlateauCallback` and the
:class:`GuardCallback`.

:class:`KerasSchedule` is a ``keras.optimizers.schedules.LearningRateSchedule`` that evaluates an
lrkit schedule with ``keras.ops`` as the array namespace (the same formula NumPy runs), so it
works on every Keras backend, under ``jit_compile`` too. Keras's optimizer passes
``optimizer.iterations`` (0 for the first update) — lrkit's convention: update ``k`` runs at
``s(k)``. ``get_config`` stores ``schedule.to_dict()``; the class is registered as
``lrkit>KerasSchedule``, so ``model.save`` / ``keras.models.load_model`` restore it and training
resumes at the saved ``optimizer.iterations``.

Keras's own ``ReduceLROnPlateau`` assigns to ``optimizer.learning_rate`` and so fails on schedule
objects (tensorflow#36612); :class:`PlateauCallback` instead multiplies the schedule by the
factor of an :class:`lrkit.control.ReduceOnPlateau`, so warmup + cosine + plateau composes.

Example (the backend is chosen before Keras is imported, e.g. ``KERAS_BACKEND=jax``)::

    import keras
    from lrkit.control import ReduceOnPlateau
    from lrkit.integrations.keras import KerasSchedule, PlateauCallback
    from lrkit.schedules import cosine, warmup

    lr = KerasSchedule(warmup(cosine(lr=1e-3, steps=1000), steps=100))
    model.compile(optimizer=keras.optimizers.AdamW(learning_rate=lr), loss="mse")
    model.fit(x, y, epochs=10, validation_split=0.1,
              callbacks=[PlateauCallback(ReduceOnPlateau(factor=0.5, patience=2))])
"""

from __future__ import annotations

import math
import os
from collections import deque
from typing import Any

from lrkit.control import GuardEvent, GuardPolicy, ReduceOnPlateau
from lrkit.control._guard import LogTarget, _GuardLog, _GuardReport, _make_policy
from lrkit.errors import ConfigError, DependencyError, require

try:
    require("keras", "keras")
except DependencyError as exc:
    cause = exc.__cause__
    missing = getattr(cause, "name", None) or ""
    if isinstance(cause, ModuleNotFoundError) and missing.split(".")[0] in (
        "tensorflow",
        "jax",
        "jaxlib",
        "torch",
    ):
        backend = os.environ.get("KERAS_BACKEND", "tensorflow (Keras's default)")
        raise DependencyError(
            f"keras is installed but its backend {backend} is not ({cause}): set KERAS_BACKEND "
            "to an installed backend before importing keras, e.g. KERAS_BACKEND=jax with "
            "pip install 'lrkit[keras,jax]', or KERAS_BACKEND=torch with pip install torch"
        ) from exc
    raise

import keras
from keras import ops

from lrkit.schedules import Schedule, from_dict

__all__ = ["GuardCallback", "KerasSchedule", "PlateauCallback"]


@keras.saving.register_keras_serializable(package="lrkit")
class KerasSchedule(keras.optimizers.schedules.LearningRateSchedule):  # type: ignore[misc]
    """A Keras ``LearningRateSchedule`` whose LR at ``optimizer.iterations == k`` is ``s(k)``.

    Args:
        schedule: an lrkit schedule (or its ``to_dict()``).
        scale: a multiplier on the schedule, set by :class:`PlateauCallback`; saved with the
            model so a reduced LR survives ``model.save``.
        accumulation_steps: the optimizer's ``gradient_accumulation_steps``. Keras passes the
            batch counter to the schedule, so with accumulation the update ``j`` would run at
            ``s(j * n + n - 1)``; giving ``n`` here makes ``k`` count updates, as in lrkit's
            other adapters.
        guard_scale: one more multiplier, set by :class:`GuardCallback` when it cuts the LR
            after a rollback (kept apart from ``scale`` so a plateau rule does not undo it).

    The value is computed in float32 (Keras's float type), about 1e-7 relative from NumPy's.
    """

    def __init__(
        self,
        schedule: Schedule | dict[str, Any],
        *,
        scale: float = 1.0,
        accumulation_steps: int = 1,
        guard_scale: float = 1.0,
    ) -> None:
        super().__init__()
        if isinstance(schedule, dict):
            schedule = from_dict(schedule)
        if not isinstance(schedule, Schedule):
            raise ConfigError(
                f"schedule must be an lrkit Schedule (e.g. lrkit.schedules.cosine(...)), "
                f"but got schedule={schedule!r}"
            )
        if (
            isinstance(scale, bool)
            or not isinstance(scale, int | float)
            or not (scale >= 0.0 and math.isfinite(scale))
        ):
            raise ConfigError(f"scale must be a finite number >= 0, but got scale={scale!r}")
        if (
            isinstance(accumulation_steps, bool)
            or not isinstance(accumulation_steps, int)
            or accumulation_steps < 1
        ):
            raise ConfigError(
                "accumulation_steps must be an integer >= 1, but got "
                f"accumulation_steps={accumulation_steps!r}"
            )
        if not (isinstance(guard_scale, int | float) and 0.0 < guard_scale < math.inf):
            raise ConfigError(
                f"guard_scale must be a finite number > 0, but got guard_scale={guard_scale!r}"
            )
        self.schedule = schedule
        self.scale = float(scale)
        self.accumulation_steps = accumulation_steps
        self.guard_scale = float(guard_scale)

    def __call__(self, step: Any) -> Any:
        k = ops.cast(step, "float32")
        if self.accumulation_steps > 1:
            k = ops.floor(k / float(self.accumulation_steps))
        out = ops.cast(self.schedule.evaluate(k, ops), "float32")
        if self.scale * self.guard_scale != 1.0:
            out = out * (self.scale * self.guard_scale)
        return out

    def get_config(self) -> dict[str, Any]:
        config = {
            "schedule": self.schedule.to_dict(),
            "scale": self.scale,
            "accumulation_steps": self.accumulation_steps,
        }
        if self.guard_scale != 1.0:
            config["guard_scale"] = self.guard_scale
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> KerasSchedule:
        return cls(
            from_dict(config["schedule"]),
            scale=float(config.get("scale", 1.0)),
            accumulation_steps=int(config.get("accumulation_steps", 1)),
            guard_scale=float(config.get("guard_scale", 1.0)),
        )

    def __repr__(self) -> str:
        extra = "" if self.scale == 1.0 else f", scale={self.scale:g}"
        extra += "" if self.guard_scale == 1.0 else f", guard_scale={self.guard_scale:g}"
        return f"KerasSchedule({self.schedule!r}{extra})"


class PlateauCallback(keras.callbacks.Callback):  # type: ignore[misc]
    """Cut the LR of a :class:`KerasSchedule` when ``monitor`` stops improving.

    At each epoch end the monitored value goes to ``plateau`` (an
    :class:`lrkit.control.ReduceOnPlateau`, PyTorch's rule: it reduces after *more than*
    ``patience`` bad epochs, one epoch later than Keras's ``ReduceLROnPlateau``); its multiplier
    becomes the schedule's ``scale`` and applies from the next update. The plateau state lives in
    this object, so it carries over between ``fit()`` calls (Keras's callback resets), and
    ``plateau.state_dict()`` can be saved with a checkpoint. The current multiplier is added to
    the epoch logs as ``lr_scale``.

    Args:
        plateau: the rule; default ``ReduceOnPlateau(factor=0.1, patience=10)``.
        monitor: the log key to watch, e.g. ``"val_loss"`` or ``"loss"``.
        schedule: the :class:`KerasSchedule` to scale; by default the model's optimizer's.
    """

    def __init__(
        self,
        plateau: ReduceOnPlateau | None = None,
        *,
        monitor: str = "val_loss",
        schedule: KerasSchedule | None = None,
    ) -> None:
        super().__init__()
        if plateau is not None and not isinstance(plateau, ReduceOnPlateau):
            raise ConfigError(f"plateau must be a ReduceOnPlateau, but got plateau={plateau!r}")
        if schedule is not None and not isinstance(schedule, KerasSchedule):
            raise ConfigError(f"schedule must be a KerasSchedule, but got schedule={schedule!r}")
        self.plateau = plateau if plateau is not None else ReduceOnPlateau()
        self.monitor = monitor
        self.schedule = schedule

    def _target(self) -> KerasSchedule:
        if self.schedule is not None:
            return self.schedule
        lr = getattr(self.model.optimizer, "_learning_rate", None)
        if not isinstance(lr, KerasSchedule):
            raise ConfigError(
                "PlateauCallback needs the optimizer's learning_rate to be a KerasSchedule, "
                f"but it is {lr!r}; use keras.callbacks.ReduceLROnPlateau for a fixed LR"
            )
        return lr

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._target()  # fail before the first epoch, not after it

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        logs = logs if logs is not None else {}
        if self.monitor not in logs:
            raise ConfigError(
                f"PlateauCallback monitors {self.monitor!r}, which is not in the epoch logs "
                f"(available: {sorted(logs)}); pass validation data or monitor='loss'"
            )
        value = float(logs[self.monitor])
        target = self._target()
        old = target.scale
        new = self.plateau.update(value if math.isfinite(value) else math.nan)
        logs["lr_scale"] = new
        if new != old:
            target.scale = new
            # the scale is a Python constant inside the compiled train step (jax.jit,
            # torch.compile): rebuild the step so the next update sees the new value
            self.model.make_train_function(force=True)


class GuardCallback(keras.callbacks.Callback, _GuardReport):  # type: ignore[misc]
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
    the train loop is synced before a snapshot or a rollback). Other arguments as
    :class:`lrkit.integrations.torch.Guard`.
    """

    def __init__(
        self,
        *,
        policy: GuardPolicy | None = None,
        snapshot_every: int | None = None,
        max_snapshots: int = 2,
        lr_cut: float | None = None,
        max_rollbacks: int | None = None,
        log: LogTarget = True,
    ) -> None:
        super().__init__()
        if isinstance(max_snapshots, bool) or not isinstance(max_snapshots, int):
            raise ConfigError(f"max_snapshots must be an integer >= 1, but got {max_snapshots=!r}")
        if max_snapshots < 1:
            raise ConfigError(f"max_snapshots must be an integer >= 1, but got {max_snapshots=!r}")
        self.policy = _make_policy(policy, snapshot_every, lr_cut, max_rollbacks)
        self.max_snapshots = max_snapshots
        self._log = _GuardLog(log)
        # (serial, step, weights, optimizer variables, scale)
        self._snapshots: deque[tuple[int, int, list[Any], list[Any], float]] = deque(
            maxlen=max_snapshots
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
        if not isinstance(lr, KerasSchedule) and isinstance(
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
        if isinstance(lr, KerasSchedule):
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
