"""``find_lr`` for Keras 3: lrkit's range test on a compiled model (its loss and optimizer)."""

from __future__ import annotations

import random
from typing import Any

import keras
import numpy as np
from keras import ops

from lrkit._progress import ProgressBar
from lrkit._validate import check_bool, check_choice, check_int
from lrkit.errors import ConfigError
from lrkit.finder import FinderResult
from lrkit.finder._core import SWEEP_DEFAULTS, check_sweep, sweep_progress
from lrkit.finder._finetune import (
    MAX_VAL_SAMPLES,
    METRIC_MODES,
    TrialOutcome,
    capped_note,
    check_regime,
    check_trial_steps,
    default_trial_steps,
    detect_pretrained,
    finish,
    held_out_count,
    held_out_note,
    outcome_of,
    rule_applies,
    run_trials,
    spectra_numpy,
    trial_anchor,
)

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

    def assign(self) -> None:
        """The variables' and RNGs' values only (between trials: the sweep's LR stays)."""
        for var, value in (*self.model_vars, *self.opt_vars):
            var.assign(value)
        random.setstate(self.python)
        np.random.set_state(self.numpy)

    def restore(self) -> None:
        opt = self.model.optimizer
        if opt._learning_rate is not self.lr:
            object.__setattr__(opt, "_learning_rate", self.lr)
        self.assign()
        self.model.reset_metrics()
        # the compiled train step may hold the sweep's LR variable: rebuild it
        self.model.make_train_function(force=True)


class _Order:
    """Batch indices: shuffled passes over ``n`` samples (``shuffle``), from ``rng``; with
    ``pool``, those samples' indices into the data."""

    def __init__(
        self,
        n: int,
        batch_size: int,
        shuffle: bool,
        rng: np.random.Generator,
        pool: np.ndarray | None = None,
    ) -> None:
        self.n, self.batch_size, self.shuffle, self.rng = n, batch_size, shuffle, rng
        self.pool = pool  # the indices the batches are drawn from (default: 0 .. n-1)
        self.left: list[int] = []

    def next(self) -> np.ndarray:
        if len(self.left) < self.batch_size and len(self.left) < self.n:
            fresh = self.rng.permutation(self.n) if self.shuffle else np.arange(self.n)
            self.left = [*self.left, *fresh.tolist()]
        take, self.left = self.left[: self.batch_size], self.left[self.batch_size :]
        return np.asarray(take) if self.pool is None else self.pool[np.asarray(take, dtype=int)]


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
    validation_data: Any = None,
    val_data: Any = None,
    trial_steps: int | None = None,
    val_metric: str | None = "auto",
    val_metric_mode: str = "max",
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
    ``diverge`` and ``method`` and their defaults.

    ``regime`` as in :func:`lrkit.find_lr`: a pretrained model (read off its trainable
    weights) or ``regime="finetune"`` gets the fine-tuning rule. With ``validation_data=(x_val,
    y_val)`` (``val_data`` is the same argument under :func:`lrkit.find_lr`'s name) that is 6
    trials of ``trial_steps`` (default 40) updates at LRs below the range test's fitted
    minimum, each from the model's exact starting state (variables, optimizer variables,
    ``iterations``, RNGs) and on the same batches, scored by ``model.evaluate`` (the compiled
    loss) on the validation data (a random 512 samples of a larger one); the suggestion is
    a quarter of a decade below the validation loss's peak (a parabola through the best trial
    and its neighbours; with plain SGD the peak itself; ``result.trials``). Without it the
    trials are scored on training samples held out from them (a fifth of ``x``, at most 512),
    with a note.
    ``trial_steps=0``: no trials (the fitted minimum / 10, with a note). From scratch the
    validation data is not used. ``val_metric``: the name of a compiled metric (``"accuracy"``,
    as ``model.evaluate(return_dict=True)`` names it) to score the trials on instead of the
    loss, with ``val_metric_mode`` ``"max"`` (default) or ``"min"``; the suggestion is then the
    geometric mean of the metric's peak (a parabola through the best trial and its
    neighbours) and the validation loss's peak half a decade lower (plain SGD: the metric's
    peak alone), as in :func:`lrkit.find_lr`.
    ``"auto"`` (default): the first compiled accuracy metric (:data:`AUTO_METRICS`; a note
    says which), else the loss; ``None``: the loss.
    """
    if not isinstance(model, keras.Model):
        raise ConfigError(f"model must be a keras.Model, but got model={model!r}")
    if getattr(model, "optimizer", None) is None or not getattr(model, "compiled", False):
        raise ConfigError("model must be compiled with a loss and an optimizer: model.compile(...)")
    batch_size, regime = check_int("find_lr", "batch_size", batch_size), check_regime(regime)
    trial_steps = check_trial_steps(trial_steps)
    if val_metric is not None and not isinstance(val_metric, str):
        raise ConfigError(
            "find_lr: val_metric must be the name of a compiled metric (e.g. 'accuracy'), "
            f"but got val_metric={val_metric!r}"
        )
    val_metric_mode = check_choice("find_lr", "val_metric_mode", val_metric_mode, METRIC_MODES)
    val = _validation(validation_data, val_data)
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
    detection = None
    if regime == "auto":  # the weights as given
        weights = [ops.convert_to_numpy(w) for w in model.trainable_weights]
        detection = detect_pretrained(spectra_numpy(weights))
    ft_rule = rule_applies(regime, plan.method, detection)
    if trial_steps is None:
        trial_steps = default_trial_steps(ft_rule)
    state = _State(model)
    rng = np.random.default_rng(seed)
    feed = _Order(n, batch_size, shuffle, rng)
    outcome: TrialOutcome | None = None
    notes: tuple[str, ...] = ()

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
            idx = feed.next()
            xb = _take(x, idx)
            yb = None if y is None else _take(y, idx)
            logs = model.train_on_batch(xb, yb, return_dict=True)
            return float(logs["loss"])

        result = plan.test(step_fn, sweep_progress(bar))
        if ft_rule and trial_steps > 0:
            # the same batches in every trial (common random numbers): a fixed order seed
            trial_seed = int(rng.integers(2**62))
            pool, scored, notes = _trial_split(x, y, val, np.random.default_rng(trial_seed))

            def start_trial() -> None:
                nonlocal feed
                rng_t = np.random.default_rng(trial_seed)
                feed = _Order(len(pool), batch_size, shuffle, rng_t, pool)

            last_metric = [float("nan")]
            if val_metric == "auto":  # a compiled accuracy, else the loss
                val_metric, note = _auto_metric(
                    model.evaluate(
                        scored[0], scored[1], batch_size=batch_size, verbose=0, return_dict=True
                    )
                )
                if note is not None:
                    notes, val_metric_mode = (*notes, note), "max"

            def val_loss() -> float:
                logs = model.evaluate(
                    scored[0], scored[1], batch_size=batch_size, verbose=0, return_dict=True
                )
                if val_metric is not None:
                    if val_metric not in logs:
                        raise ConfigError(
                            f"find_lr: val_metric={val_metric!r} is not a compiled metric of "
                            f"this model; model.evaluate() gives {sorted(logs)}"
                        )
                    last_metric[0] = float(logs[val_metric])
                return float(logs["loss"])

            sgd = _plain_sgd(opt)
            lrs, losses, start, metrics, start_metric = run_trials(
                # below the range test's fitted minimum (plain SGD: not far below its top)
                trial_anchor(result.interval[1], result.lrs, result.losses, plain_sgd=sgd),
                start_trial=start_trial,
                train_step=step_fn,
                val_loss=val_loss,
                restore=state.assign,
                trial_steps=trial_steps,
                val_metric=None if val_metric is None else (lambda: last_metric[0]),
                metric_mode=val_metric_mode,
                plain_sgd=sgd,
            )
            outcome = outcome_of(
                lrs, losses, start, trial_steps, metrics, start_metric, val_metric_mode,
                plain_sgd=sgd,
            )  # fmt: skip
    finally:
        bar.close()
        _sync(model)
        if swapped is not None:
            _drop_sweep_variable(opt, swapped)
        state.restore()
    return finish(
        result, regime=regime, method=plan.method, detection=detection, outcome=outcome,
        notes=notes, val_arg="validation_data",
    )  # fmt: skip


def _plain_sgd(opt: Any) -> bool:
    """Whether the Keras optimizer is SGD without momentum."""
    return type(opt).__name__ == "SGD" and not float(getattr(opt, "momentum", 0.0) or 0.0)


#: Compiled metrics that ``val_metric="auto"`` scores the trials on, first found first.
AUTO_METRICS = (
    "accuracy",
    "acc",
    "sparse_categorical_accuracy",
    "categorical_accuracy",
    "binary_accuracy",
)


def _auto_metric(logs: dict[str, Any]) -> tuple[str | None, str | None]:
    """``val_metric="auto"``: the first compiled accuracy metric in ``model.evaluate``'s
    ``logs`` (:data:`AUTO_METRICS`) and the note saying so, else ``(None, None)`` (the loss)."""
    name = next((m for m in AUTO_METRICS if m in logs), None)
    if name is None:
        return None, None
    return name, (
        f"val_metric='auto': the trials were scored on the compiled metric {name!r} (higher is "
        "better); pass val_metric=None to score them on the validation loss, or another "
        "compiled metric's name"
    )


def _trial_split(
    x: Any, y: Any, val: tuple[Any, Any] | None, rng: np.random.Generator
) -> tuple[np.ndarray, tuple[Any, Any], tuple[str, ...]]:
    """``(indices of x the trials train on, (x, y) that scores them, notes)``.

    The validation data, at most :data:`MAX_VAL_SAMPLES` of it (a random subset); without it a
    fifth of ``x`` (at most MAX_VAL_SAMPLES) held out from the trials' training.
    """
    n = _length(x)
    if val is not None:
        n_val = _length(val[0])
        if n_val <= MAX_VAL_SAMPLES:
            return np.arange(n), val, ()
        keep = np.sort(rng.permutation(n_val)[:MAX_VAL_SAMPLES])
        scored = (_take(val[0], keep), None if val[1] is None else _take(val[1], keep))
        return np.arange(n), scored, (capped_note(n_val),)
    held = held_out_count(n)
    if n - held < 1:
        return np.arange(n), (x, y), ("with one sample the trials are scored on it",)
    perm = rng.permutation(n)
    v = np.sort(perm[:held])
    scored = (_take(x, v), None if y is None else _take(y, v))
    note = held_out_note(
        f"{held} held-out training samples (left out of their training)", "validation_data"
    )
    return np.sort(perm[held:]), scored, (note,)


def _validation(validation_data: Any, val_data: Any) -> tuple[Any, Any] | None:
    """``(x_val, y_val)`` from either argument, checked; ``None`` when neither is given."""
    if validation_data is not None and val_data is not None:
        raise ConfigError("pass validation_data or val_data to find_lr, not both (the same thing)")
    val = validation_data if validation_data is not None else val_data
    if val is None:
        return None
    if not isinstance(val, tuple | list) or len(val) != 2:
        got = f"{type(val).__name__}" + (
            f" of length {len(val)}" if hasattr(val, "__len__") else ""
        )
        raise ConfigError(f"validation_data must be a pair (x_val, y_val), but got a {got}")
    xv, yv = val
    n = _length(xv)
    if n == 0:
        raise ConfigError("validation_data is empty: got 0 samples")
    if yv is not None and _length(yv) != n:
        raise ConfigError(
            f"validation_data's x_val and y_val must have the same length, but got {n} and "
            f"{_length(yv)}"
        )
    return xv, yv


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
