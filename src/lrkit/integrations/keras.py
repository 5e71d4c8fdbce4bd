"""Keras 3 adapter: :class:`KerasSchedule`, the :class:`PlateauCallback`, the
:class:`GuardCallback`, :func:`find_lr` (lrkit's range test on a compiled model), and the
schedule-free optimizers :class:`ScheduleFreeAdamW` / :class:`ScheduleFreeSGD` with the
:class:`ScheduleFreeCallback` that validates and checkpoints at their evaluation weights.

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
from typing import Any

from lrkit._validate import check_float, check_int, check_positive_float
from lrkit.control import ReduceOnPlateau
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

__all__ = [
    "GuardCallback",
    "KerasSchedule",
    "PlateauCallback",
    "ScheduleFreeAdamW",
    "ScheduleFreeCallback",
    "ScheduleFreeSGD",
    "evaluation_weights",
    "find_lr",
]


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
        self.scale = check_float("KerasSchedule", "scale", scale, low=0.0)
        self.accumulation_steps = check_int(
            "KerasSchedule", "accumulation_steps", accumulation_steps
        )
        self.guard_scale = check_positive_float("KerasSchedule", "guard_scale", guard_scale)
        self.schedule = schedule

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


# split out to keep modules short; imported last: they use KerasSchedule
from lrkit.integrations._keras_finder import find_lr  # noqa: E402
from lrkit.integrations._keras_guard import GuardCallback  # noqa: E402
from lrkit.integrations._keras_schedulefree import (  # noqa: E402
    ScheduleFreeAdamW,
    ScheduleFreeCallback,
    ScheduleFreeSGD,
    evaluation_weights,
)
