"""The range test behind the trainer front-ends (Lightning, Hugging Face): one core for all.

A trainer computes its loss its own way (``training_step``, ``compute_loss`` on dict batches);
:class:`LossModule` turns that into a module whose forward pass *is* the loss, so
:func:`lrkit.finder.find_lr` runs on it unchanged: the same sweep, suggestion rule, notes,
exact restore and, under ``torch.distributed``, the same collective agreement. Each batch
travels as a :class:`_Batch` that knows its sample count, so the core counts and weights
samples (the validation cap, each batch's share of the validation loss and metric) as it does
for ``(x, y)`` pairs; a :class:`MetricReader` lets ``val_metric`` read the trainer's batches.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import torch

from lrkit._distributed import agreed_value, is_active
from lrkit.errors import ConfigError, LRKitWarning
from lrkit.finder import FinderResult
from lrkit.finder import find_lr as _find_lr
from lrkit.finder._finetune import check_metric
from lrkit.finder._finetune_torch import TopOne, class_axis, finetune_rule_applies

__all__ = ["Chain", "LossModule", "MetricReader", "ValSource", "describe", "find_lr_with"]

#: The trainer's own validation data, fetched only when the fine-tuning trials will use it:
#: ``() -> (loader, where it came from)``, or ``None`` when the trainer has none.
ValSource = Callable[[], tuple[Iterable[Any], str] | None]


@dataclasses.dataclass(frozen=True)
class MetricReader:
    """How a front-end reads ``val_metric`` off its own batches.

    ``accuracy(model, batch)``: the batch's top-1 accuracy (via :func:`lrkit.tasks.accuracy`);
    ``unreadable(batch)``: why ``accuracy`` cannot read ``batch`` (one line), or ``None``;
    ``prepare(batch)``: the batch as a ``val_metric`` callable receives it (on the device);
    ``batch_form``: what a readable batch looks like, for the error message;
    ``scores(model, batch)``: ``(outputs, targets)`` of a readable batch, for
    ``val_metric="auto"`` to tell class scores (:func:`~lrkit.finder._finetune_torch.class_axis`)
    from anything else (called in eval mode without gradients; it may raise: then the loss).
    """

    accuracy: Callable[[Any, Any], Any]
    unreadable: Callable[[Any], str | None]
    prepare: Callable[[Any], Any]
    batch_form: str
    scores: Callable[[Any, Any], tuple[Any, Any]] | None = None


class _Batch:
    """A trainer batch and its sample count: ``len()`` is what the core counts and weights."""

    __slots__ = ("batch", "n")

    def __init__(self, batch: Any) -> None:
        self.batch = batch
        self.n = _samples(batch)

    def __len__(self) -> int:
        return self.n


def _samples(batch: Any) -> int:
    """The leading size of the first tensor in ``batch`` (depth first), else 1."""
    n = _leading(batch)
    return 1 if n is None else n


def _leading(batch: Any) -> int | None:
    if isinstance(batch, torch.Tensor):
        return int(batch.shape[0]) if batch.ndim else None
    if isinstance(batch, Mapping):
        batch = list(batch.values())
    if isinstance(batch, tuple | list):
        for item in batch:
            n = _leading(item)
            if n is not None:
                return n
    return None


def describe(batch: Any) -> str:
    """A batch's shape in a few words, for one-line errors."""
    if isinstance(batch, torch.Tensor):
        return f"a tensor of shape {tuple(batch.shape)}"
    if isinstance(batch, Mapping):
        return f"{type(batch).__name__} with keys {sorted(map(str, batch))}"
    if isinstance(batch, tuple | list):
        kinds = ", ".join(type(b).__name__ for b in batch[:4]) + (", ..." if len(batch) > 4 else "")
        return f"a {type(batch).__name__} of {len(batch)} ({kinds})"
    return f"{type(batch).__name__} {batch!r:.80}"


class LossModule(torch.nn.Module):
    """``forward(batch) = loss_of(inner, batch)``: a trainer's loss as a module's output."""

    def __init__(self, inner: torch.nn.Module, loss_of: Callable[[Any, Any], Any]) -> None:
        super().__init__()
        self.inner = inner
        self._loss_of = loss_of

    def forward(self, batch: Any) -> Any:
        return self._loss_of(self.inner, batch.batch if isinstance(batch, _Batch) else batch)


class _Pairs:
    """Re-iterable ``(batch, batch)`` pairs over a loader (find_lr re-iterates when exhausted):
    the module reads the first, ``val_metric`` the second (the loss ignores it)."""

    def __init__(self, loader: Iterable[Any]) -> None:
        self.loader = loader

    def __iter__(self) -> Iterator[tuple[_Batch, _Batch]]:
        for batch in self.loader:
            wrapped = _Batch(batch)
            yield wrapped, wrapped


class Chain:
    """Re-iterable batches of several loaders, one after the other (a trainer's list of
    validation loaders)."""

    def __init__(self, loaders: Sequence[Iterable[Any]]) -> None:
        self.loaders = list(loaders)

    def __iter__(self) -> Iterator[Any]:
        for loader in self.loaders:
            yield from loader


def _identity_loss(loss: Any, _: Any) -> Any:
    return loss


def find_lr_with(
    inner: torch.nn.Module,
    loss_of: Callable[[Any, Any], Any],
    loader: Iterable[Any],
    optimizer: torch.optim.Optimizer,
    val_source: ValSource | None = None,
    reader: MetricReader | None = None,
    **options: Any,
) -> FinderResult:
    """:func:`lrkit.finder.find_lr` on ``loss_of(inner, batch)`` over ``loader``.

    Under ``torch.distributed`` the module is wrapped in ``DistributedDataParallel`` for the
    sweep (gradients averaged like the trainer's), unless it already is one; note that DDP
    copies rank 0's parameters to every rank when it wraps them, as the trainer will.
    ``val_data`` (in ``options``) holds batches in the loader's format, scored by ``loss_of``
    (the fine-tuning trials' validation loss). Without it, when the fine-tuning rule will
    run its trials (a pretrained ``inner`` or ``regime="finetune"``), ``val_source()`` supplies
    the trainer's own validation data and a note in ``result.notes`` names it. Under
    ``torch.distributed`` each rank scores its shard and the trials' validation loss is the
    mean over the ranks (every rank picks the same trial).

    ``val_metric`` (in ``options``): ``"auto"`` (default), ``"accuracy"`` (``reader.accuracy``),
    a callable ``(inner, batch) -> number`` (``batch`` through ``reader.prepare``) or ``None``
    (the validation loss). A metric is called on each validation batch in eval mode without
    gradients after its loss; the core averages it over the samples (a batch counts its
    leading size) and, under ``torch.distributed``, over the ranks. With ``"accuracy"`` the
    first validation batch is checked (``reader.unreadable``) before the sweep when the trials
    will run and the data can be read twice.

    ``"auto"``: when the trials will run, the first validation batch they will score is read
    (the RNGs left as they were); where ``reader.unreadable`` accepts it and
    ``reader.scores(inner, batch)`` are class scores for integer targets
    (:func:`~lrkit.finder._finetune_torch.class_axis`), the trials are scored as with
    ``"accuracy"`` (class scores on another axis than the last: top-1 along it) and a note in
    ``result.notes`` says so; otherwise (and for a one-pass iterator, which cannot be read
    twice) on the validation loss, silently. Under ``torch.distributed`` the ranks agree
    (accuracy only where every rank reads its batch so). Without the trials nothing is read.
    """
    val_metric = options.pop("val_metric", "auto")
    is_auto = isinstance(val_metric, str) and val_metric == "auto"
    if val_metric is not None and not is_auto and reader is None:
        raise ConfigError(f"find_lr: this front-end takes no val_metric; got {val_metric!r}")
    is_accuracy = isinstance(val_metric, str) and val_metric == "accuracy"
    if val_metric is not None and not (is_accuracy or is_auto) and not callable(val_metric):
        raise ConfigError(
            "find_lr: val_metric must be 'accuracy' or a callable (model, batch) -> number "
            "('auto', the default: accuracy for class scores, else the validation loss; None: "
            f"the validation loss), but got {type(val_metric).__name__} {val_metric!r}"
        )
    if is_auto:
        check_metric("auto", options.get("val_metric_mode", "max"))  # a bad mode fails now
    where = None
    auto_note = None
    trials: bool | None = None  # whether the fine-tuning trials will run, once asked

    def trials_run() -> bool:
        nonlocal trials
        if trials is None:
            trials = options.get("trial_steps") != 0 and finetune_rule_applies(inner, options)
        return trials

    if val_source is not None and options.get("val_data") is None and trials_run():
        found = val_source()
        if found is not None:
            options["val_data"], where = found
    if is_auto:
        val_metric = None  # the validation loss, unless the first batch reads as class scores
        if reader is not None and reader.scores is not None and trials_run():
            val = options.get("val_data")
            axis, auto_note = _auto_axis(inner, loader if val is None else val, reader)
            if axis is not None:
                val_metric = "accuracy" if axis == -1 else TopOne(axis)
                is_accuracy = axis == -1
                options["val_metric_mode"] = "max"
    if reader is not None and val_metric is not None:
        if is_accuracy and trials_run() and auto_note is None:
            val = options.get("val_data")
            _check_first(loader if val is None else val, reader)
        if isinstance(val_metric, TopOne):
            options["val_metric"] = _top_one_fn(inner, val_metric, reader)
        else:
            options["val_metric"] = _metric_fn(inner, val_metric, reader)
    else:
        options["val_metric"] = None  # the core's own "auto" would read LossModule's outputs
    module: torch.nn.Module = LossModule(inner, loss_of)
    if is_active() and not isinstance(inner, torch.nn.parallel.DistributedDataParallel):
        first = next(iter(inner.parameters()), None)
        ids = [first.device] if first is not None and first.device.type == "cuda" else None
        module = torch.nn.parallel.DistributedDataParallel(module, device_ids=ids)
    if options.get("val_data") is not None:  # batches of the trainer's own format, like loader's
        options["val_data"] = _Pairs(options["val_data"])
    result = _find_lr(
        module, _Pairs(loader), loss_fn=_identity_loss, optimizer=optimizer, **options
    )
    if where is not None and result.trials is not None:
        note = (
            f"no val_data was given: the trials were scored on the trainer's validation data "
            f"({where}), through the same loss as the training batches"
        )
        result = dataclasses.replace(result, notes=(*result.notes, note))
        warnings.warn(note, LRKitWarning, stacklevel=3)
    if auto_note is not None and result.trials is not None:
        result = dataclasses.replace(result, notes=(*result.notes, auto_note))
    return result


def _auto_axis(
    inner: torch.nn.Module, data: Iterable[Any], reader: MetricReader
) -> tuple[int | None, str | None]:
    """``val_metric="auto"``: the class axis of ``reader.scores`` on the first batch of
    ``data`` and the note saying so, or ``(None, None)`` (the validation loss). ``inner``'s
    train/eval flags and the RNGs are left as they were; under ``torch.distributed`` every
    rank gets the same answer (an axis only where every rank found the same one)."""
    found = _read_scores(inner, data, reader)
    mine = 0.0 if found is None else float(found[0])  # class_axis gives -1 or 1
    # the mean over the ranks is -1 (or 1) only where every rank found that axis
    agreed = agreed_value(lambda: (None, mine), "find_lr")[1]
    if found is None or agreed != mine:
        return None, None
    axis, classes = found
    note = (
        f"val_metric='auto': the trials were scored on top-1 accuracy, since the model's "
        f"outputs look like scores over {classes} classes (axis {axis}) for integer targets; "
        "pass val_metric=None to score them on the validation loss, or your own val_metric="
    )
    return axis, note


def _read_scores(
    inner: torch.nn.Module, data: Iterable[Any], reader: MetricReader
) -> tuple[int, int] | None:
    """``(class axis, classes)`` of ``reader.scores`` on the first batch of ``data``, else
    ``None`` (a one-pass iterator, no batch, an unreadable batch, anything raised)."""
    from lrkit.finder._state import RNGState

    if isinstance(data, Iterator) or reader.scores is None:
        return None
    rng = RNGState(cuda=False)  # CUDA's RNG only where CUDA is already in use
    flags = [(m, m.training) for m in inner.modules()]
    try:
        batch = _first(data)
        if batch is None or reader.unreadable(batch) is not None:
            return None
        inner.eval()
        with torch.no_grad():
            outputs, targets = reader.scores(inner, batch)
        axis = class_axis(outputs, targets)
        return None if axis is None else (axis, int(outputs.shape[axis]))
    except Exception:  # "auto" never fails: the validation loss then
        return None
    finally:
        for m, training in flags:
            m.training = training
        rng.restore()


def _first(data: Iterable[Any]) -> Any:
    """The first batch of a re-iterable ``data`` (``None`` when it has none); the iterator
    is closed again."""
    it = iter(data)
    try:
        return next(it, None)
    finally:
        close = getattr(it, "close", None)
        if close is not None:
            close()


def _top_one_fn(inner: torch.nn.Module, top: TopOne, reader: MetricReader) -> Any:
    """The core's ``metric_fn`` for class scores along another axis than the last."""
    scores = reader.scores
    assert scores is not None

    def metric(_loss: Any, wrapped: _Batch) -> Any:
        return top(*scores(inner, wrapped.batch))

    return metric


def _metric_fn(inner: torch.nn.Module, val_metric: Any, reader: MetricReader) -> Any:
    """The core's ``metric_fn(outputs, targets)``: here ``outputs`` is the batch's loss and
    ``targets`` the :class:`_Batch` that gave it."""

    def accuracy(_loss: Any, wrapped: _Batch) -> Any:
        why = reader.unreadable(wrapped.batch)
        if why is not None:
            raise ConfigError(_unreadable_message(reader, why))
        return reader.accuracy(inner, wrapped.batch)

    def custom(_loss: Any, wrapped: _Batch) -> Any:
        return val_metric(inner, reader.prepare(wrapped.batch))

    return accuracy if isinstance(val_metric, str) else custom


def _unreadable_message(reader: MetricReader, why: str) -> str:
    return (
        f"find_lr: val_metric='accuracy' needs {reader.batch_form}, but {why}; pass "
        "val_metric=fn (model, batch) -> number to read your batches"
    )


def _check_first(data: Iterable[Any], reader: MetricReader) -> None:
    """Read the first batch of ``data`` and raise if ``val_metric='accuracy'`` cannot read it;
    the RNGs are left as they were (a shuffling loader draws a seed). A one-pass iterator is
    not read here (its first use checks it)."""
    if isinstance(data, Iterator):
        return
    from lrkit.finder._state import RNGState

    rng = RNGState(cuda=False)  # CUDA's RNG only where CUDA is already in use
    try:
        batch = _first(data)
    finally:
        rng.restore()
    if batch is not None:
        why = reader.unreadable(batch)
        if why is not None:
            raise ConfigError(_unreadable_message(reader, why))
