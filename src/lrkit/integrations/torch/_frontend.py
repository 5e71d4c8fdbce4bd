"""The range test behind the trainer front-ends (Lightning, Hugging Face): one core for all.

A trainer computes its loss its own way (``training_step``, ``compute_loss`` on dict batches);
:class:`LossModule` turns that into a module whose forward pass *is* the loss, so
:func:`lrkit.finder.find_lr` runs on it unchanged: the same sweep, suggestion rule, notes,
exact restore and, under ``torch.distributed``, the same collective agreement.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import torch

from lrkit._distributed import is_active
from lrkit.finder import FinderResult
from lrkit.finder import find_lr as _find_lr

__all__ = ["LossModule", "find_lr_with"]


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


def _identity_loss(loss: Any, _: Any) -> Any:
    return loss


def find_lr_with(
    inner: torch.nn.Module,
    loss_of: Callable[[Any, Any], Any],
    loader: Iterable[Any],
    optimizer: torch.optim.Optimizer,
    **options: Any,
) -> FinderResult:
    """:func:`lrkit.finder.find_lr` on ``loss_of(inner, batch)`` over ``loader``.

    Under ``torch.distributed`` the module is wrapped in ``DistributedDataParallel`` for the
    sweep (gradients averaged like the trainer's), unless it already is one; note that DDP
    copies rank 0's parameters to every rank when it wraps them, as the trainer will.
    ``val_data`` (in ``options``) holds batches in the loader's format, scored by ``loss_of``
    (the fine-tuning trials' validation loss).
    """
    module: torch.nn.Module = LossModule(inner, loss_of)
    if is_active() and not isinstance(inner, torch.nn.parallel.DistributedDataParallel):
        first = next(iter(inner.parameters()), None)
        ids = [first.device] if first is not None and first.device.type == "cuda" else None
        module = torch.nn.parallel.DistributedDataParallel(module, device_ids=ids)
    if options.get("val_data") is not None:  # batches of the trainer's own format, like loader's
        options["val_data"] = _Pairs(options["val_data"])
    return _find_lr(module, _Pairs(loader), loss_fn=_identity_loss, optimizer=optimizer, **options)
