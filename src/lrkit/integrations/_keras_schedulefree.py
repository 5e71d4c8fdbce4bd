"""Schedule-free optimizers for Keras 3 and the callback that evaluates at their average.

Schedule-free training (Defazio et al. 2024, "The Road Less Scheduled", arXiv:2405.15682)
keeps three sequences: ``z`` (plain gradient steps), ``x`` (a weighted average of the ``z``,
the point to evaluate) and ``y = (1 - beta) z + beta x`` (where gradients are taken). The
model's variables hold ``y`` during training; validation, checkpoints and export must see
``x``. :class:`ScheduleFreeAdamW` and :class:`ScheduleFreeSGD` follow the reference PyTorch
implementation (``schedulefree.AdamWScheduleFree`` / ``SGDScheduleFree``, read, not copied):
linear warmup inside the optimizer, average weights ``c_{k+1} = w_k / sum(w)`` with
``w_k = (k+1)^r * max_lr^weight_lr_power`` (so warmup steps weigh little), and weight decay
taken at ``y`` and added to the (normalised) gradient. Keras 3.15's own
``keras.optimizers.ScheduleFreeAdamW`` averages with ``1/(k+1)`` regardless of warmup and
decays the weights decoupled; :class:`ScheduleFreeCallback` handles both.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import keras
import numpy as np
from keras import ops

from lrkit._validate import check_bool, check_float, check_int
from lrkit.errors import ConfigError

__all__ = [
    "ScheduleFreeAdamW",
    "ScheduleFreeCallback",
    "ScheduleFreeSGD",
    "evaluation_weights",
]


class _ScheduleFree(keras.optimizers.Optimizer):  # type: ignore[misc]
    """The shared part: warmup, averaging weights, the ``y``/``z`` updates, the eval flag."""

    _where = "ScheduleFree"

    def __init__(
        self,
        learning_rate: Any,
        *,
        beta: float,
        beta_name: str,
        weight_decay: float,
        warmup_steps: int,
        r: float,
        weight_lr_power: float,
        **kwargs: Any,
    ) -> None:
        w = self._where
        weight_decay = check_float(w, "weight_decay", weight_decay, low=0.0)
        super().__init__(learning_rate=learning_rate, weight_decay=weight_decay or None, **kwargs)
        self._beta = check_float(
            w, beta_name, beta, low=0.0, high=1.0, low_open=True, high_open=True
        )
        self.warmup_steps = check_int(w, "warmup_steps", warmup_steps, low=0)
        self.r = check_float(w, "r", r, low=0.0)
        self.weight_lr_power = check_float(w, "weight_lr_power", weight_lr_power, low=0.0)

    def build(self, var_list: list[Any]) -> None:
        if self.built:
            return
        super().build(var_list)
        dtype = keras.config.floatx()
        self._weight_sum = self.add_variable((), dtype=dtype, name="weight_sum")
        self._lr_max = self.add_variable((), dtype=dtype, name="lr_max")
        # 1 while the model holds the evaluation point x (saved with the optimizer, so a
        # checkpoint written at x says so and training resumes from the right y)
        self._at_eval = self.add_variable((), dtype=dtype, name="at_eval")
        self._z = [self.add_variable_from_reference(v, name="z") for v in var_list]
        for z, v in zip(self._z, var_list, strict=True):
            z.assign(ops.copy(v))
        self._build_moments(var_list)

    def _build_moments(self, var_list: list[Any]) -> None:
        pass

    def _direction(self, grad: Any, variable: Any, k: Any) -> Any:
        raise NotImplementedError

    def _apply_weight_decay(self, variables: Any) -> None:
        # taken at y inside the update (as the reference does), not Keras's decoupled decay
        return None

    def _backend_update_step(
        self, grads: Any, trainable_variables: Any, learning_rate: Any
    ) -> None:
        # Keras's per-update hook (base_optimizer.py), called once per real update on every
        # backend, also under gradient accumulation: the scalars shared by all variables are
        # computed once here, then each variable is updated
        dtype = self._weight_sum.dtype
        # where() rather than ops.minimum/maximum: Keras 3.15's torch backend computes those
        # in float32 for two float64 tensors (its result_type misreads torch dtypes)
        zero, one = ops.zeros((), dtype=dtype), ops.ones((), dtype=dtype)
        k = ops.cast(self.iterations, dtype)
        lr = ops.cast(learning_rate, dtype)
        if self.warmup_steps > 0:
            ramp = (k + one) / ops.cast(self.warmup_steps, dtype)
            lr = lr * ops.where(ops.less(ramp, one), ramp, one)
        old_max = self._lr_max.value
        lr_max = ops.where(ops.greater(lr, old_max), lr, old_max)
        r, power = ops.cast(self.r, dtype), ops.cast(self.weight_lr_power, dtype)
        weight = ops.power(k + one, r) * ops.power(lr_max, power)
        weight_sum = self._weight_sum.value + weight
        positive = ops.greater(weight_sum, zero)
        ckp1 = ops.where(positive, weight / ops.where(positive, weight_sum, one), zero)
        self.assign(self._lr_max, lr_max)
        self.assign(self._weight_sum, weight_sum)
        first = ops.equal(self.iterations, 0)
        for grad, var in zip(grads, trainable_variables, strict=True):
            dt = var.dtype
            z = self._z[self._get_variable_index(var)]
            y = var.value
            # z starts at the weights of the first update (the reference creates it then):
            # weights loaded after build are picked up
            z_old = ops.where(first, y, z.value)
            step = self._direction(ops.cast(grad, dt), var, k)
            if self.weight_decay and self._use_weight_decay(var):
                step = step + ops.cast(self.weight_decay, dt) * y
            c = ops.cast(ckp1, dt)
            lr_v = ops.cast(lr, dt)
            y_new = y + c * (z_old - y) + lr_v * (self._beta * (1.0 - c) - 1.0) * step
            self.assign(var, y_new)
            self.assign(z, z_old - lr_v * step)

    def _evaluation_parts(self) -> tuple[list[Any], list[Any], float]:
        return list(self._trainable_variables), list(self._z), self._beta

    def _common_config(self) -> dict[str, Any]:
        config: dict[str, Any] = super().get_config()
        config.update(
            warmup_steps=self.warmup_steps,
            r=self.r,
            weight_lr_power=self.weight_lr_power,
            weight_decay=self.weight_decay or 0.0,
        )
        return config


@keras.saving.register_keras_serializable(package="lrkit")
class ScheduleFreeAdamW(_ScheduleFree):
    """Schedule-free AdamW (Defazio et al. 2024) as a Keras 3 optimizer, on every backend.

    The iterates equal ``schedulefree.AdamWScheduleFree(lr, betas, eps, weight_decay,
    warmup_steps, r, weight_lr_power)`` given the same gradients (tested in float64). The
    model's variables hold the training point ``y``; use :class:`ScheduleFreeCallback` (before
    ``ModelCheckpoint``) so validation, checkpoints and the model after ``fit`` use the
    evaluation point ``x``. ``learning_rate`` may also be a schedule; the warmup multiplies it.
    The other keyword arguments (``clipnorm``, ``gradient_accumulation_steps``, …) are Keras's.
    """

    _where = "ScheduleFreeAdamW"

    def __init__(
        self,
        learning_rate: Any = 0.0025,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        weight_decay: float = 0.0,
        warmup_steps: int = 0,
        r: float = 0.0,
        weight_lr_power: float = 2.0,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            learning_rate,
            beta=beta_1,
            beta_name="beta_1",
            weight_decay=weight_decay,
            warmup_steps=warmup_steps,
            r=r,
            weight_lr_power=weight_lr_power,
            name=name,
            **kwargs,
        )
        self.beta_1 = self._beta
        self.beta_2 = check_float(self._where, "beta_2", beta_2, low=0.0, high=1.0, high_open=True)
        self.epsilon = check_float(self._where, "epsilon", epsilon, low=0.0)

    def _build_moments(self, var_list: list[Any]) -> None:
        self._exp_avg_sq = [
            self.add_variable_from_reference(v, name="exp_avg_sq") for v in var_list
        ]

    def _direction(self, grad: Any, variable: Any, k: Any) -> Any:
        v = self._exp_avg_sq[self._get_variable_index(variable)]
        v_new = v.value * self.beta_2 + (1.0 - self.beta_2) * grad * grad
        self.assign(v, v_new)
        beta_2 = ops.convert_to_tensor(self.beta_2, dtype=self._weight_sum.dtype)
        correction = 1.0 - ops.power(beta_2, k + 1.0)
        return grad / (ops.sqrt(v_new / ops.cast(correction, grad.dtype)) + self.epsilon)

    def get_config(self) -> dict[str, Any]:
        config = self._common_config()
        config.update(beta_1=self.beta_1, beta_2=self.beta_2, epsilon=self.epsilon)
        return config


@keras.saving.register_keras_serializable(package="lrkit")
class ScheduleFreeSGD(_ScheduleFree):
    """Schedule-free SGD (Defazio et al. 2024): ``schedulefree.SGDScheduleFree``'s iterates
    as a Keras 3 optimizer (``momentum`` is the interpolation ``beta``). See
    :class:`ScheduleFreeAdamW` for the evaluation point and the callback."""

    _where = "ScheduleFreeSGD"

    def __init__(
        self,
        learning_rate: Any = 1.0,
        momentum: float = 0.9,
        weight_decay: float = 0.0,
        warmup_steps: int = 0,
        r: float = 0.0,
        weight_lr_power: float = 2.0,
        name: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            learning_rate,
            beta=momentum,
            beta_name="momentum",
            weight_decay=weight_decay,
            warmup_steps=warmup_steps,
            r=r,
            weight_lr_power=weight_lr_power,
            name=name,
            **kwargs,
        )
        self.momentum = self._beta

    def _direction(self, grad: Any, variable: Any, k: Any) -> Any:
        return grad

    def get_config(self) -> dict[str, Any]:
        config = self._common_config()
        config.update(momentum=self.momentum)
        return config


# ---- switching the model between y (training) and x (evaluation) -------------------------


def _parts(optimizer: Any) -> tuple[list[Any], list[Any], float] | None:
    """(model variables, their z, beta) of a built schedule-free optimizer, else None."""
    opt = getattr(optimizer, "inner_optimizer", optimizer)  # LossScaleOptimizer
    if not getattr(opt, "built", False):
        return None
    if isinstance(opt, _ScheduleFree):
        return opt._evaluation_parts()
    keras_sf = getattr(keras.optimizers, "ScheduleFreeAdamW", None)  # Keras >= 3.11
    if keras_sf is not None and isinstance(opt, keras_sf):
        beta = opt.beta_1() if callable(opt.beta_1) else opt.beta_1
        return list(opt._trainable_variables), list(opt._momentums), float(beta)
    return None


def _optimizer(model: Any) -> Any:
    opt = getattr(model, "optimizer", None)
    return getattr(opt, "inner_optimizer", opt)


def _flag(opt: Any) -> Any:
    return getattr(opt, "_at_eval", None) if isinstance(opt, _ScheduleFree) else None


def to_evaluation(model: Any) -> bool:
    """Put the evaluation point ``x`` into the model's variables; keep ``y`` exactly (on the
    optimizer object) for :func:`to_training`. False (and nothing done) if the optimizer is
    not schedule-free, not built, has made no update yet (then ``x == y``), or ``x`` is
    already in."""
    opt = _optimizer(model)
    parts = _parts(opt)
    if parts is None or getattr(opt, "_lrkit_training_values", None) is not None:
        return False
    flag = _flag(opt)
    if flag is not None and float(ops.convert_to_numpy(flag)) != 0.0:
        return False  # loaded from a checkpoint written at x
    if int(ops.convert_to_numpy(opt.iterations)) == 0:
        return False
    _sync(model)
    variables, zs, beta = parts
    saved = [np.array(ops.convert_to_numpy(v), copy=True) for v in variables]
    for v, z in zip(variables, zs, strict=True):
        # x = y + (1 - 1/beta) (z - y), the reference's eval() as a lerp
        v.assign(v.value + (1.0 - 1.0 / beta) * (z.value - v.value))
    opt._lrkit_training_values = saved
    if flag is not None:
        flag.assign(1.0)
    return True


def to_training(model: Any) -> bool:
    """Put the training point ``y`` back: bit for bit from the copy :func:`to_evaluation`
    kept, or, for a model restored from a checkpoint written at ``x`` (lrkit's optimizers
    record it), as ``y = x + (1 - beta) (z - x)``. False if there was nothing to do."""
    opt = _optimizer(model)
    parts = _parts(opt)
    if parts is None:
        return False
    variables, zs, beta = parts
    saved = getattr(opt, "_lrkit_training_values", None)
    flag = _flag(opt)
    if saved is not None:
        for v, value in zip(variables, saved, strict=True):
            v.assign(value)
        opt._lrkit_training_values = None
    elif flag is not None and float(ops.convert_to_numpy(flag)) != 0.0:
        for v, z in zip(variables, zs, strict=True):
            v.assign(v.value + (1.0 - beta) * (z.value - v.value))
    else:
        return False
    if flag is not None:
        flag.assign(0.0)
    return True


def _sync(model: Any) -> None:
    sync = getattr(model, "jax_state_sync", None)  # JAX keeps live state outside variables
    if callable(sync):
        sync()


@contextlib.contextmanager
def evaluation_weights(model: Any) -> Iterator[None]:
    """Inside the block the model holds the evaluation point ``x`` of its schedule-free
    optimizer; afterwards the training weights are back bit for bit. A no-op for other
    optimizers. Use it for ``model.evaluate``, ``predict`` or ``save`` outside ``fit``."""
    swapped = to_evaluation(model)
    try:
        yield
    finally:
        if swapped:
            to_training(model)


class ScheduleFreeCallback(keras.callbacks.Callback):  # type: ignore[misc]
    """Validation, checkpoints and the model after ``fit`` at a schedule-free optimizer's
    evaluation point.

    Works with :class:`ScheduleFreeAdamW`, :class:`ScheduleFreeSGD` and Keras's own
    ``keras.optimizers.ScheduleFreeAdamW``; other optimizers are left alone. The design
    follows Keras's ``SwapEMAWeights``: the model's variables are switched to ``x`` when
    validation begins (``on_test_begin``) and back to the exact training weights when it
    ends; with ``swap_on_epoch=True`` (default) also at every epoch end, so callbacks that run
    after this one in ``on_epoch_end`` — **put it before** ``ModelCheckpoint`` — see ``x``, and
    back at the next epoch's start. With ``eval_at_end=True`` (default) the model holds ``x``
    after ``fit``, ready for ``evaluate``/``save``/export; the training weights are kept and
    come back, bit for bit, when a ``fit`` with a ``ScheduleFreeCallback`` starts. A checkpoint
    written at ``x`` by lrkit's optimizers records it (an optimizer variable), so training
    resumed from it starts at the right ``y``. BatchNorm statistics are not recomputed at ``x``.
    """

    def __init__(self, *, swap_on_epoch: bool = True, eval_at_end: bool = True) -> None:
        super().__init__()
        self.swap_on_epoch = check_bool("ScheduleFreeCallback", "swap_on_epoch", swap_on_epoch)
        self.eval_at_end = check_bool("ScheduleFreeCallback", "eval_at_end", eval_at_end)
        self._for_test = False
        self._training = False

    def on_train_begin(self, logs: dict[str, Any] | None = None) -> None:
        opt = _optimizer(self.model)
        if opt is None:
            raise ConfigError("ScheduleFreeCallback needs a compiled model: model.compile(...)")
        self._training = True
        to_training(self.model)

    def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        to_training(self.model)

    def on_test_begin(self, logs: dict[str, Any] | None = None) -> None:
        self._for_test = to_evaluation(self.model)

    def on_test_end(self, logs: dict[str, Any] | None = None) -> None:
        if self._for_test:
            self._for_test = False
            to_training(self.model)

    def on_epoch_end(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
        if self.swap_on_epoch:
            to_evaluation(self.model)

    def on_train_end(self, logs: dict[str, Any] | None = None) -> None:
        self._training = False
        if self.eval_at_end:
            to_evaluation(self.model)
        else:
            to_training(self.model)
