"""``find_lr`` for Keras 3: lrkit's range test on a compiled model (its loss and optimizer)."""

from __future__ import annotations

import random
from typing import Any

import keras
import numpy as np
from keras import ops

from lrkit._progress import ProgressBar
from lrkit._validate import check_bool, check_int
from lrkit.errors import ConfigError
from lrkit.finder import FinderResult
from lrkit.finder._core import SWEEP_DEFAULTS, check_sweep, sweep_progress
from lrkit.finder._finetune import check_regime, finetune_without_trials

__all__ = ["find_lr"]


class _State:
    """Model variables (weights, non-trainable state, seed generators), optimizer variables
    (moments, ``iterations``, a float LR), the LR object, and the Python/NumPy RNGs."""

    def __init__(self, model: Any) -> None:
        self.model = model
        opt = model.optimizer
        self.model_vars = [
            (v, np.array(ops.convert_to_numpy(v), copy=True)) for v in model.variables
        ]
        self.opt_vars = [(v, np.array(ops.convert_to_numpy(v), copy=True)) for v in opt.variables]
        self.lr = opt._learning_rate
        self.python = random.getstate()
        self.numpy = np.random.get_state()

    def restore(self) -> None:
        opt = self.model.optimizer
        if opt._learning_rate is not self.lr:
            object.__setattr__(opt, "_learning_rate", self.lr)
        for var, value in (*self.model_vars, *self.opt_vars):
            var.assign(value)
        self.model.reset_metrics()
        # the compiled train step may hold the sweep's LR variable: rebuild it
        self.model.make_train_function(force=True)
        random.setstate(self.python)
        np.random.set_state(self.numpy)


def _sweep_variable(opt: Any) -> Any:
    """A float LR variable standing in for the optimizer's schedule during the sweep.

    It is appended to the optimizer's variables, so the backends hand it to the compiled
    train step as state (JAX passes ``optimizer.variables`` into its jitted step; a variable
    outside them would be baked in as a constant): one compiled step serves every sweep LR.
    """
    var = keras.Variable(0.0, dtype=keras.config.floatx(), trainable=False, name="lrkit_sweep_lr")
    opt._variables.append(var)
    object.__setattr__(opt, "_learning_rate", var)  # untracked: nothing left behind
    return var


def _drop_sweep_variable(opt: Any, var: Any) -> None:
    opt._variables[:] = [v for v in opt._variables if v is not var]


def _is_variable(lr: Any) -> bool:
    return hasattr(lr, "assign") and not isinstance(
        lr, keras.optimizers.schedules.LearningRateSchedule
    )


def _sync(model: Any) -> None:
    sync = getattr(model, "jax_state_sync", None)  # JAX keeps live state outside variables
    if callable(sync):
        sync()


def find_lr(
    model: Any,
    x: Any,
    y: Any = None,
    *,
    batch_size: int = 32,
    shuffle: bool = True,
    seed: int | None = None,
    progress: bool = False,
    regime: str = "auto",
    **options: Any,
) -> FinderResult:
    """LR range test on a compiled Keras 3 model, with its own loss and optimizer.

    Each sweep step is one ``model.train_on_batch`` on the next batch of ``x`` (and ``y``;
    arrays, or dicts/lists of arrays for multi-input models), cut into batches of
    ``batch_size`` and reshuffled every pass (``shuffle``, with its own generator seeded by
    ``seed``). The optimizer's LR follows the sweep (a :class:`KerasSchedule` or any other LR
    schedule is swapped for a float LR variable during the sweep, so a jit-compiled train step
    is built once). Afterwards the model's variables (weights,
    non-trainable state, seed generators), the optimizer's variables (moments,
    ``iterations``), its LR (or schedule) and the Python and NumPy RNGs are restored, also when
    the call raises; the metrics are reset. The sweep, smoothing, divergence stop, suggestion
    rule and notes are lrkit's range-test core (:func:`lrkit.finder.range_test`), which also
    gives the keyword arguments ``start_lr``, ``end_lr``, ``steps``, ``mode``, ``smoothing``,
    ``diverge`` and ``method`` and their defaults. ``regime`` as in :func:`lrkit.find_lr`:
    a pretrained model (read off its trainable weights) gets the fitted minimum / 10, with a
    note (no validation-scored trials here yet).
    """
    if not isinstance(model, keras.Model):
        raise ConfigError(f"model must be a keras.Model, but got model={model!r}")
    if getattr(model, "optimizer", None) is None or not getattr(model, "compiled", False):
        raise ConfigError("model must be compiled with a loss and an optimizer: model.compile(...)")
    batch_size, regime = check_int("find_lr", "batch_size", batch_size), check_regime(regime)
    shuffle = check_bool("find_lr", "shuffle", shuffle)
    plan = check_sweep("find_lr", **{**SWEEP_DEFAULTS, **options})
    n = _length(x)
    if n == 0:
        raise ConfigError("x is empty: got 0 samples")
    if y is not None and _length(y) != n:
        raise ConfigError(f"x and y must have the same length, but got {n} and {_length(y)}")
    opt = model.optimizer
    if not opt.built:
        opt.build(model.trainable_variables)  # an unbuilt optimizer is a zero state
    _sync(model)
    state = _State(model)
    rng = np.random.default_rng(seed)
    order: list[int] = []

    def next_index() -> np.ndarray:
        nonlocal order
        if len(order) < batch_size and len(order) < n:
            fresh = rng.permutation(n) if shuffle else np.arange(n)
            order = [*order, *fresh.tolist()]
        take, order = order[:batch_size], order[batch_size:]
        return np.asarray(take)

    bar = ProgressBar("range test", plan.steps, enabled=progress)

    current = opt._learning_rate
    # a float LR is an optimizer variable: assign it (restored with the others); a schedule
    # is swapped for such a variable for the sweep, so the train step compiles once
    swapped = None
    try:
        if not _is_variable(current):
            swapped = current = _sweep_variable(opt)
            model.make_train_function(force=True)  # a step traced with the schedule is stale

        def set_lr(lr: float) -> None:
            current.assign(lr)

        def step_fn(lr: float) -> float:
            set_lr(lr)
            idx = next_index()
            xb = _take(x, idx)
            yb = None if y is None else _take(y, idx)
            logs = model.train_on_batch(xb, yb, return_dict=True)
            return float(logs["loss"])

        result = plan.test(step_fn, sweep_progress(bar))
    finally:
        bar.close()
        _sync(model)
        if swapped is not None:
            _drop_sweep_variable(opt, swapped)
        state.restore()
    weights = [ops.convert_to_numpy(w) for w in model.trainable_weights]  # restored: as given
    return finetune_without_trials(result, regime=regime, method=plan.method, weights=weights)


def _length(data: Any) -> int:
    if isinstance(data, dict):
        data = next(iter(data.values()), [])
    elif isinstance(data, list | tuple) and data and not np.isscalar(data[0]):
        data = data[0]
    return len(data)


def _take(data: Any, idx: np.ndarray) -> Any:
    if isinstance(data, dict):
        return {k: _take(v, idx) for k, v in data.items()}
    if isinstance(data, list | tuple) and data and not np.isscalar(data[0]):
        return type(data)(_take(d, idx) for d in data)
    return np.asarray(data)[idx]
