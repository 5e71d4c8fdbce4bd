"""PyTorch glue of the fine-tuning finder: held-out data, trial batches, validation loss.

Imported by :func:`lrkit.find_lr` only when it runs trials (torch is then in use anyway).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from lrkit._distributed import agreed_value
from lrkit.finder._finetune import (
    MAX_VAL_SAMPLES,
    MIN_SIDE,
    Detection,
    TrialOutcome,
    capped_note,
    check_regime,
    detect_pretrained,
    held_out_count,
    held_out_note,
    outcome_of,
    rule_applies,
    run_trials,
    trial_anchor,
)
from lrkit.finder._suggest import MIN_POINTS, lrkit_interval
from lrkit.finder._torch_step import _batches, _is_tensor_pair, _StepFn, _to, eval_loss_sum

__all__ = [
    "TopOne",
    "auto_metric",
    "class_axis",
    "detect",
    "finetune_rule_applies",
    "finetune_stage",
    "finetune_trials",
    "spectra",
]

#: An iterable ``train_data`` without ``len()`` gives at most this many batches to score the
#: trials when no val_data is given (with ``len()``: at most a fifth of its batches).
_VAL_BATCHES = 8


def _split(
    train_data: Any, val_data: Any, batch_size: int, seed: int, per_trial: int
) -> tuple[Any, list[Any], str | None]:
    """``(train part, validation batches, note)``.

    ``val_data`` is capped at :data:`MAX_VAL_SAMPLES` (a seeded subset of a tensor pair, the
    first batches of an iterable). Without it a fifth of a tensor pair (at most
    MAX_VAL_SAMPLES) is held out, or the first batches of an iterable (at most a fifth of
    them: the train part is then the rest of that same pass, at most ``per_trial`` batches);
    the trials never train on what scores them.
    """
    import torch

    gen = torch.Generator().manual_seed(seed % 2**62)

    def cut(x: Any, y: Any) -> list[Any]:
        return [
            (x[i : i + batch_size], y[i : i + batch_size]) for i in range(0, len(x), batch_size)
        ]

    def head(batches: Iterator[Any], max_batches: int) -> list[Any]:
        out: list[Any] = []
        n = 0
        while n < MAX_VAL_SAMPLES and len(out) < max_batches:
            batch = next(batches, None)
            if batch is None:
                break
            out.append(batch)
            n += len(batch[0]) if isinstance(batch, tuple | list) and batch else 1
        return out

    if val_data is not None:
        if not _is_tensor_pair(val_data):
            return train_data, head(iter(val_data), 2**62), None
        x, y = val_data
        if len(x) <= MAX_VAL_SAMPLES:
            return train_data, cut(x, y), None
        keep = torch.randperm(len(x), generator=gen)[:MAX_VAL_SAMPLES].to(x.device)
        return train_data, cut(x[keep], y[keep]), capped_note(len(x))
    if _is_tensor_pair(train_data):
        x, y = train_data
        n_val = held_out_count(len(x))
        if len(x) - n_val < 1:
            return train_data, cut(x, y), "with one sample the trials are scored on it"
        perm = torch.randperm(len(x), generator=gen)
        v, t = perm[:n_val].to(x.device), perm[n_val:].to(x.device)
        note = held_out_note(
            f"{n_val} held-out training samples (left out of their training)", "val_data"
        )
        return (x[t], y[t]), cut(x[v], y[v]), note
    try:
        limit = max(1, len(train_data) // 5)
    except TypeError:
        limit = _VAL_BATCHES
    # One pass: the held-out batches first, the trials train on what follows in the same pass
    # (a shuffling loader's next pass would mix the held-out samples back in). A pass that ends
    # early (no len()) gives up at most a fifth of its batches.
    buf = list(itertools.islice(iter(train_data), limit + per_trial))
    if len(buf) < limit + per_trial:
        limit = min(limit, max(1, len(buf) // 5))
    val = head(iter(buf), limit)
    rest = buf[len(val) :]
    if not rest:
        return _Batches(val), val, "with one training batch the trials are scored on it"
    scored = f"the first {len(val)} training batches, held out from their training"
    return _Batches(rest), val, held_out_note(scored, "val_data")


class _Batches(list):  # type: ignore[type-arg]
    """The training batches of the pass that gave the held-out ones (the trials cycle them)."""


def finetune_trials(
    *,
    model: Any,
    optimizer: Any,
    loss_fn: Callable[[Any, Any], Any],
    train_data: Any,
    val_data: Any,
    lr_min: float,
    restore: Callable[[], None],
    ratios: list[float],
    device: Any,
    accumulation_steps: int,
    amp: bool,
    batch_size: int,
    seed: int,
    trial_steps: int,
    progress: Callable[[int], None] | None = None,
    val_metric: Callable[[Any, Any], Any] | str | None = None,
    metric_mode: str = "max",
) -> tuple[TrialOutcome, tuple[str, ...]]:
    """Short trainings from the caller's start at LRs below ``lr_min``, scored on held-out data
    (on ``val_metric(outputs, targets)``, averaged over samples, when given)."""
    import torch

    per_trial = trial_steps * accumulation_steps
    train_part, val_batches, note = _split(train_data, val_data, batch_size, seed, per_trial)
    if not val_batches:
        from lrkit.errors import ConfigError

        raise ConfigError("val_data is empty: it yielded no batch")
    notes = () if note is None else (note,)
    if isinstance(val_metric, str):  # "auto": top-1 accuracy where the outputs are class scores
        val_metric, auto_note = auto_metric(model, next(iter(val_batches)), device, amp)
        if auto_note is not None:
            notes, metric_mode = (*notes, auto_note), "max"
    cached: list[Any] | None = None
    if not _is_tensor_pair(train_part):
        # An iterable: the same batches for every trial, read once (skipping the held-out ones).
        if isinstance(train_part, _Batches):  # the rest of the pass that gave the held-out ones
            cached = list(itertools.islice(itertools.cycle(train_part), per_trial))
        else:
            cached = list(itertools.islice(_batches(train_part, batch_size, seed), per_trial))

    feed = _Feed()

    def start_trial() -> None:
        torch.manual_seed(seed)  # the same dropout masks in every trial
        feed.it = iter(cached) if cached is not None else _batches(train_part, batch_size, seed)

    step = _StepFn(
        model, optimizer, loss_fn, feed, ratios, device, accumulation_steps, amp, None, batch_size
    )

    last_metric = [math.nan]

    def val_loss() -> float:
        def local() -> tuple[float, float]:
            total, count, metric = eval_loss_sum(
                model, loss_fn, val_batches, device, amp, val_metric
            )
            return (metric / count if count else math.nan), (total / count if count else math.nan)

        # distributed: the mean over ranks, so every rank picks the same trial
        metric, loss = agreed_value(local, "find_lr")
        if val_metric is not None:
            last_metric[0] = agreed_value(lambda: (None, metric), "find_lr")[1]
        return loss

    sgd = plain_sgd(optimizer)
    lrs, losses, start, metrics, start_metric = run_trials(
        lr_min,
        start_trial=start_trial,
        train_step=step,
        val_loss=val_loss,
        restore=restore,
        trial_steps=trial_steps,
        progress=progress,
        val_metric=None if val_metric is None else (lambda: last_metric[0]),
        metric_mode=metric_mode,
        plain_sgd=sgd,
    )
    outcome = outcome_of(
        lrs, losses, start, trial_steps, metrics, start_metric, metric_mode,
        plain_sgd=sgd,
    )  # fmt: skip
    return outcome, notes


def plain_sgd(optimizer: Any) -> bool:
    """Whether ``optimizer`` (or the one a Lightning / accelerate wrapper holds) is
    ``torch.optim.SGD`` without momentum in every parameter group."""
    import torch

    for attr in ("_optimizer", "optimizer"):  # LightningOptimizer, AcceleratedOptimizer
        inner = getattr(optimizer, attr, None)
        if isinstance(inner, torch.optim.Optimizer):
            optimizer = inner
    return isinstance(optimizer, torch.optim.SGD) and all(
        not g.get("momentum", 0) for g in optimizer.param_groups
    )


class TopOne:
    """Top-1 accuracy of class scores along ``axis`` against integer targets; targets below 0
    (``ignore_index=-100``, padding) are left out. A batch with none to score counts 0."""

    def __init__(self, axis: int) -> None:
        self.axis = axis

    def __call__(self, outputs: Any, targets: Any) -> float:
        keep = targets >= 0
        n = int(keep.sum())
        hits = (outputs.argmax(dim=self.axis) == targets) & keep
        return float(hits.sum()) / n if n else 0.0


def class_axis(outputs: Any, targets: Any) -> int | None:
    """The axis of ``outputs`` that holds class scores for the integer ``targets`` (``-1``:
    ``(N, C)``, ``(N, T, C)``; ``1``: ``cross_entropy``'s ``(N, C, d1, ...)``), or ``None`` when
    they do not look like that (regression, float or boolean targets, one output)."""
    import torch

    if not (
        isinstance(outputs, torch.Tensor)
        and isinstance(targets, torch.Tensor)
        and outputs.is_floating_point()
        and not (targets.is_floating_point() or targets.is_complex())
        and targets.dtype != torch.bool
        and outputs.ndim == targets.ndim + 1
    ):
        return None
    if outputs.shape[-1] >= 2 and outputs.shape[:-1] == targets.shape:
        return -1
    shape = outputs.shape[:1] + outputs.shape[2:]
    if outputs.ndim >= 3 and outputs.shape[1] >= 2 and shape == targets.shape:
        return 1
    return None


def auto_metric(
    model: Any, batch: Any, device: Any, amp: bool
) -> tuple[Callable[[Any, Any], Any] | None, str | None]:
    """``val_metric="auto"``: :class:`TopOne` accuracy when ``model``'s outputs on ``batch``
    look like class scores for its targets, else ``None`` (the trials are scored on the
    validation loss), and the note saying which.

    Class scores: floating outputs with one axis more than integer targets, that axis of size
    >= 2 and either last (``(N, C)``, ``(N, T, C)``) or second (``(N, C, d1, ...)``, the layout
    ``cross_entropy`` takes), the other axes the targets' shape. Under ``torch.distributed``
    the ranks agree (accuracy only where every rank reads its batch so).
    """
    import torch

    x, y = _to(batch, device)
    model.eval()
    with torch.no_grad(), torch.autocast(device.type, enabled=amp):
        out = model(x)
    model.train()
    axis = class_axis(out, y)
    agreed = agreed_value(lambda: (None, 0.0 if axis is None else 1.0), "find_lr")[1]
    if axis is None or agreed != 1.0:
        return None, None
    classes = out.shape[axis]
    note = (
        f"val_metric='auto': the trials were scored on top-1 accuracy, since the model's "
        f"outputs look like scores over {classes} classes (axis {axis}) for integer targets; "
        "pass val_metric=None to score them on the validation loss, or your own val_metric="
    )
    return TopOne(axis), note


class _Feed:
    """The batch iterator a trial's ``_StepFn`` reads; ``start_trial`` swaps in a fresh one."""

    def __init__(self) -> None:
        self.it: Iterator[Any] = iter(())

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        return next(self.it)


def finetune_stage(
    regime: str,
    lrs: np.ndarray,
    curves: list[list[float]],
    *,
    method: str,
    detection: Detection | None,
    **kw: Any,
) -> tuple[Detection | None, TrialOutcome | None, tuple[str, ...]]:
    """After the range test: run the trials if ``regime="finetune"`` or ``detection`` says so.

    Returns the detection, the trials (``None`` when they did not run) and notes about the
    data they used. ``kw`` goes to :func:`finetune_trials`.
    """
    if regime == "scratch":
        return None, None, ()
    n = min(len(c) for c in curves)
    if n < MIN_POINTS:
        return None, None, ()  # make_result() raises the explanatory FinderError
    curve = np.median(np.array([c[:n] for c in curves]), axis=0)
    if detection is not None and not detection.pretrained:
        return detection, None, ()
    if method.lower() not in ("auto", "lrkit") or kw["trial_steps"] == 0:
        return detection, None, ()  # apply() uses the fitted-minimum rule, or says why not
    lr_min = trial_anchor(
        lrkit_interval(lrs[:n], curve)[1], lrs[:n], curve, plain_sgd=plain_sgd(kw["optimizer"])
    )
    outcome, notes = finetune_trials(lr_min=lr_min, **kw)
    return detection, outcome, notes


def finetune_rule_applies(model: Any, options: dict[str, Any]) -> bool:
    """Whether :func:`lrkit.find_lr` will apply the fine-tuning rule to ``model`` called with
    ``options`` (its keyword arguments): for callers that fetch validation data only then."""
    regime = check_regime(options.get("regime", "auto"))
    method = str(options.get("method", "auto"))
    if regime == "scratch" or not rule_applies("finetune", method, None):
        return False  # decided without reading the weights
    return rule_applies(regime, method, detect(model) if regime == "auto" else None)


def detect(model: Any) -> Detection:
    """:func:`~lrkit.finder._finetune.detect_pretrained` on ``model``'s weights as they are now."""
    return detect_pretrained(spectra(model))


def spectra(model: Any, iters: int = 30) -> list[tuple[int, int, float, float]]:
    """``(rows, cols, top singular value, Frobenius norm)`` of every weight matrix of ``model``.

    Power iteration from a fixed seed on the parameter's own device (no copy of the model, the
    global RNGs untouched); it approaches the top singular value from below, which errs
    towards "not pretrained".
    """
    import torch

    out: list[tuple[int, int, float, float]] = []
    with torch.no_grad():
        for p in model.parameters():
            if p.ndim < 2 or min(p.shape[0], p[0].numel()) < MIN_SIDE:
                continue
            w = p.detach().reshape(p.shape[0], -1).float()
            gen = torch.Generator(device=w.device).manual_seed(0)
            v = torch.randn(w.shape[1], generator=gen, device=w.device)
            top = 0.0
            for _ in range(iters):
                u = w @ v
                u = u / (u.norm() + 1e-30)
                v = w.T @ u
                top = float(v.norm())
                v = v / (top + 1e-30)
            out.append((w.shape[0], w.shape[1], top, float(w.norm())))
    return out
