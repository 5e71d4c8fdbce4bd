"""The range test behind the trainer front-ends (Lightning, Hugging Face): one core for all.

A trainer computes its loss its own way (``training_step``, ``compute_loss`` on dict batches);
:class:`LossModule` turns that into a module whose forward pass *is* the loss, so
:func:`lrkit.finder.find_lr` runs on it unchanged: the same sweep, suggestion rule, notes,
exact restore and, under ``torch.distributed``, the same collective agreement.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any

import torch

from lrkit._distributed import is_active
from lrkit.errors import LRKitWarning
from lrkit.finder import FinderResult
from lrkit.finder import find_lr as _find_lr
from lrkit.finder._finetune_torch import finetune_rule_applies

__all__ = ["Chain", "LossModule", "ValSource", "find_lr_with"]

#: The trainer's own validation data, fetched only when the fine-tuning trials will use it:
#: ``() -> (loader, where it came from)``, or ``None`` when the trainer has none.
ValSource = Callable[[], tuple[Iterable[Any], str] | None]


class LossModule(torch.nn.Module):
    """``forward(batch) = loss_of(inner, batch)``: a trainer's loss as a module's output."""

    def __init__(self, inner: torch.nn.Module, loss_of: Callable[[Any, Any], Any]) -> None:
        super().__init__()
        self.inner = inner
        self._loss_of = loss_of

    def forward(self, batch: Any) -> Any:
        return self._loss_of(self.inner, batch)


class _Pairs:
    """Re-iterable ``(batch, None)`` pairs over a loader (find_lr re-iterates when exhausted)."""

    def __init__(self, loader: Iterable[Any]) -> None:
        self.loader = loader

    def __iter__(self) -> Iterator[tuple[Any, None]]:
        for batch in self.loader:
            yield batch, None


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
    mean over the ranks (every rank picks the same trial). ``val_metric`` is not taken here
    (these front-ends see the trainer's loss, not the model's outputs): a clear error.
    """
    if options.get("val_metric") is not None:
        from lrkit.errors import ConfigError

        raise ConfigError(
            "find_lr: val_metric is taken by lrkit.find_lr (PyTorch) and the Keras find_lr, not "
            "yet by the trainer front-ends (they see the trainer's loss, not the model's "
            f"outputs); got val_metric={options['val_metric']!r}"
        )
    where = None
    if (
        val_source is not None
        and options.get("val_data") is None
        and options.get("trial_steps") != 0
        and finetune_rule_applies(inner, options)
    ):
        found = val_source()
        if found is not None:
            options["val_data"], where = found
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
    return result
