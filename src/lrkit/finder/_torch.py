"""``find_lr``: the range test on a PyTorch model, leaving the model exactly as it was."""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from lrkit._progress import ProgressBar
from lrkit._validate import check_int
from lrkit.errors import ConfigError, FinderError, LRKitWarning, require
from lrkit.finder._core import Sweep, check_sweep, run_sweep, sweep_progress
from lrkit.finder._finetune import apply as apply_finetune
from lrkit.finder._finetune import (
    check_metric,
    check_regime,
    check_trial_steps,
    default_trial_steps,
    rule_applies,
)
from lrkit.finder._result import FinderResult
from lrkit.finder._state import RNGState, TrainingState
from lrkit.finder._suggest import plain_sgd_interval, suggest
from lrkit.finder._torch_step import (
    _batches,
    _group_ratios,
    _is_tensor_pair,
    _move_state,
    _seed_all,
    _StepFn,
)

__all__ = ["find_lr"]


def find_lr(
    model: Any,
    train_data: Any,
    *,
    loss_fn: Callable[[Any, Any], Any],
    optimizer: Any,
    start_lr: float = 1e-7,
    end_lr: float = 10.0,
    steps: int = 100,
    mode: str = "exp",
    smoothing: float = 0.98,
    diverge: float | None = 4.0,
    val_data: Any = None,
    accumulation_steps: int = 1,
    device: Any = None,
    amp: bool = False,
    method: str = "auto",
    repeats: int = 1,
    batch_size: int = 128,
    seed: int | None = None,
    progress: bool = False,
    regime: str = "auto",
    trial_steps: int | None = None,
    val_metric: Callable[[Any, Any], Any] | str | None = "auto",
    val_metric_mode: str = "max",
) -> FinderResult:
    """LR range test on a PyTorch model; the model and optimizer are left untouched.

    The LR grows from ``start_lr`` to ``end_lr`` over ``steps`` optimizer updates while the
    training loss is recorded; the sweep stops once the smoothed loss exceeds ``diverge``
    times its best. Afterwards parameters (and grads), buffers, train/eval flags, optimizer
    state and param groups (``lr``, ``initial_lr`` of an attached scheduler), and the Python,
    NumPy and torch RNG states are restored — also when the call raises or is interrupted.
    Copies are kept in host memory, never on the accelerator. Caveats about the result (plain
    SGD, a curve that barely fell) are in ``result.notes`` and issued as
    :class:`lrkit.errors.LRKitWarning`.

    Args:
        model: a ``torch.nn.Module``.
        train_data: an iterable of ``(x, y)`` batches (a DataLoader, a list, a generator), or
            a pair of tensors ``(x, y)`` which is cut into shuffled batches of ``batch_size``.
            It is re-iterated when exhausted.
        loss_fn: ``loss_fn(model(x), y) -> scalar tensor``.
        optimizer: the ``torch.optim.Optimizer`` that will train the model. Param groups keep
            their LR ratios; the reported LR is that of the group with the largest LR.
        start_lr, end_lr, steps, mode: the sweep (``"exp"`` or ``"linear"``).
        smoothing: EMA factor for the divergence stop and the EMA-based methods.
        diverge: stop when the smoothed loss exceeds this multiple of its best (``None``: never).
        val_data: your validation split (``(x, y)`` tensors or an iterable of batches). With
            the fine-tuning rule (see ``regime``) it scores the trials, and the range test
            reads the training loss; otherwise the loss recorded at each step is the mean
            loss on these batches (slower, less noisy).
        accumulation_steps: micro-batches whose gradients are summed into one update.
        device: where batches go (and the model, for the duration of the call); default: the
            device of the model's first parameter.
        amp: run forward passes under ``torch.autocast`` (with a GradScaler on CUDA).
        method: suggestion rule, see :func:`lrkit.finder.suggest`; ``"auto"`` = ``"lrkit"``.
        repeats: run the sweep this many times from the same starting state with different
            batch orders (and dropout masks); the recorded curve is the per-step median.
        batch_size: batch size when ``train_data`` is a tensor pair.
        seed: seeds the RNGs for the call (they are restored afterwards anyway).
        progress: show a progress bar on stderr.
        regime: ``"auto"`` (default) reads the model's weights for a pretrained start (weight
            matrices whose top singular value stands above a random matrix's) and, when it
            finds one, applies the fine-tuning rule (see :mod:`lrkit.finder._finetune`; the
            reason is in ``result.notes``); ``"finetune"`` always applies it; ``"scratch"``
            never does. The rule: trials of 40 updates from the model's weights at LRs half a
            decade apart below the range test's fitted minimum (4, more below while the
            lowest is the best, up to 2 above while the highest is the best), scored on
            ``val_data`` (at most 512 samples of it) or, without it, on training samples held
            out from the trials (a fifth, at most 512; weaker: pass your validation split);
            the suggestion is read off them as ``val_metric`` says.
        trial_steps: the trials' length in updates; ``None`` (default): 40; ``0``: no trials
            (the fitted minimum / 10 instead of / 3: weaker evidence; a note says so).
        val_metric: ``val_metric(model(x), y) -> number`` (accuracy, F1, ...; a batch's value
            counts its size) or ``"accuracy"`` (top-1 over the outputs' last axis), what you
            will judge the fine-tuning by: the trials are scored on it instead of the
            validation loss, and the suggestion is the geometric mean of the metric's peak (a
            parabola through the best trial and its neighbours) and the validation loss's peak
            half a decade lower (each score alone is noisy; plain SGD without momentum: the
            metric's peak alone). ``"auto"`` (default): top-1 accuracy when the model's outputs on the
            first validation batch look like class scores for integer targets (``(N, C)``,
            ``(N, T, C)`` or ``cross_entropy``'s ``(N, C, ...)``; targets < 0 left out), a note
            says so; else the validation loss. ``None``: the validation loss. Used only by the
            fine-tuning trials.
        val_metric_mode: ``"max"`` (default: higher is better) or ``"min"``.
    """
    torch = require("torch", "torch")
    import torch as _torch

    sweep = check_sweep("find_lr", start_lr, end_lr, steps, mode, smoothing, diverge, method)
    regime, trial_steps = check_regime(regime), check_trial_steps(trial_steps)
    val_metric_mode = check_metric(val_metric, val_metric_mode)
    if val_metric == "accuracy":
        from lrkit.tasks import accuracy

        val_metric = accuracy  # top-1 over the last axis
    accumulation_steps = check_int("find_lr", "accumulation_steps", accumulation_steps)
    repeats = check_int("find_lr", "repeats", repeats)
    batch_size = check_int("find_lr", "batch_size", batch_size)
    if not isinstance(model, _torch.nn.Module):
        raise ConfigError(f"model must be a torch.nn.Module, but got {type(model).__name__}")
    if not isinstance(optimizer, _torch.optim.Optimizer):
        raise ConfigError(
            f"optimizer must be a torch.optim.Optimizer, but got {type(optimizer).__name__}"
        )
    if _is_tensor_pair(train_data) and len(train_data[0]) == 0:
        raise ConfigError("train_data is empty: got an (x, y) pair with 0 samples")

    first = next(iter(model.parameters()), None)
    home = first.device if first is not None else _torch.device("cpu")
    dev = _torch.device(device) if device is not None else home
    lrs = sweep.lrs

    rng = RNGState(cuda=dev.type == "cuda" or home.type == "cuda")
    state = TrainingState(model, optimizer)
    moved = dev != home
    curves: list[list[float]] = []
    diverged: list[float | None] = []
    bar = ProgressBar("range test", steps * repeats, enabled=progress)
    detection = None
    if regime == "auto":  # read the weights before the range test moves them
        from lrkit.finder._finetune_torch import detect

        detection = detect(model)
    # With the fine-tuning rule, val_data scores the trials; the range test reads training loss.
    ft_rule = rule_applies(regime, method, detection)
    if trial_steps is None:
        trial_steps = default_trial_steps(ft_rule)
    range_val = None if ft_rule else val_data

    def restore() -> None:  # the starting state, on the sweep's device
        state.restore()
        if moved:
            model.to(dev)
            _move_state(optimizer, dev)

    try:
        if seed is not None:
            _seed_all(seed)
        base = int(torch.randint(0, 2**62, (1,)).item())  # type: ignore[attr-defined]
        if moved:
            model.to(dev)
            _move_state(optimizer, dev)
        ratios = _group_ratios(optimizer)
        data_iter: Iterator[Any] | None = None
        for r in range(repeats):
            if r > 0:
                restore()
            if _is_tensor_pair(train_data) or data_iter is None:
                # A tensor pair gets a fresh order per repeat; an iterable simply continues.
                data_iter = _batches(train_data, batch_size, base + r)
            step_fn = _StepFn(
                model,
                optimizer,
                loss_fn,
                data_iter,
                ratios,
                dev,
                accumulation_steps,
                amp,
                range_val,
                batch_size,
            )
            model.train()
            losses, div = run_sweep(
                step_fn,
                lrs,
                smoothing=smoothing,
                diverge=diverge,
                progress=sweep_progress(bar, r * steps),
            )
            curves.append(losses)
            diverged.append(div)

        # Fine-tuning (finder/_finetune.py): trials from the same start, restored bit for bit.
        from lrkit.finder._finetune_torch import finetune_stage

        detection, trials, trial_notes = finetune_stage(
            regime,
            lrs,
            curves,
            method=method,
            detection=detection,
            model=model,
            optimizer=optimizer,
            loss_fn=loss_fn,
            train_data=train_data,
            val_data=val_data,
            restore=restore,
            ratios=ratios,
            device=dev,
            accumulation_steps=accumulation_steps,
            amp=amp,
            batch_size=batch_size,
            seed=base,
            trial_steps=trial_steps,
            val_metric=val_metric,
            metric_mode=val_metric_mode,
        )
    finally:
        bar.close()
        if moved:
            model.to(home)
        state.restore()
        rng.restore()

    result = _combine(sweep, lrs, curves, diverged)
    result = apply_finetune(
        result,
        regime=regime,
        method=method,
        detection=detection,
        outcome=trials,
        notes=trial_notes,
    )
    if _plain_sgd(optimizer) and result.trials is None:
        lr_min = result.interval[1]  # the fitted minimum
        low, high = plain_sgd_interval(lr_min)
        note = PLAIN_SGD_NOTE.format(low=low, high=high)
        # The interval must hold plain SGD's best LR, which sits above [lr_min / 10, lr_min].
        result = dataclasses.replace(
            result,
            notes=(*result.notes, note),
            search_range=(low, high),
            interval=(min(low, result.suggestion), max(high, result.suggestion)),
        )
    for note in result.notes:
        warnings.warn(note, LRKitWarning, stacklevel=2)
    return result


PLAIN_SGD_NOTE = (
    "plain SGD (no momentum): the suggestion is least reliable for it. In lrkit's benchmark "
    "(benchmarks/finder_regret.py) plain SGD's best LR for a full training lay between 0.3x "
    "and 4x the LR at the range test's fitted minimum, and the suggestion (that LR / 3) "
    "cost up to 10 accuracy points; with Adam and SGD+momentum it stayed within 1.5. The "
    "interval is {low:.3g} to {high:.3g} (the fitted minimum / 3.5 to 3.5x it): search it "
    "(e.g. lrkit.tune), or add momentum."
)


def _plain_sgd(optimizer: Any) -> bool:
    """``torch.optim.SGD`` with no momentum in any group (see :data:`PLAIN_SGD_NOTE`)."""
    import torch

    return type(optimizer) is torch.optim.SGD and all(
        not g.get("momentum") for g in optimizer.param_groups
    )


def _combine(
    sweep: Sweep,
    lrs: np.ndarray,
    curves: list[list[float]],
    diverged: list[float | None],
) -> FinderResult:
    n = min(len(c) for c in curves)
    if n == 0:
        raise FinderError("train_data yielded no batch: it is empty or an exhausted iterator")
    per_repeat: list[float] = []
    for c in curves:
        try:
            per_repeat.append(suggest(lrs[: len(c)], c, "lrkit"))
        except FinderError:
            per_repeat.append(math.nan)
    # Cut every repeat to the shortest one: past that point at least one repeat diverged.
    losses = np.median(np.array([c[:n] for c in curves]), axis=0)
    stops = [d for d in diverged if d is not None]
    return sweep.result(
        lrs[:n],
        losses,
        diverged_at=min(stops) if stops else None,
        repeats=len(curves),
        repeat_suggestions=tuple(per_repeat),
    )
