"""``find_lr_on_task``: the range test on a fresh model of a :class:`lrkit.tasks.Task`."""

from __future__ import annotations

import warnings
from typing import Any

from lrkit.errors import LRKitWarning
from lrkit.finder._result import FinderResult
from lrkit.finder._torch import find_lr

__all__ = ["find_lr_on_task"]


def find_lr_on_task(
    task: Any,
    optimizer: str | None = None,
    *,
    lr: float | None = None,
    seed: int = 0,
    quiet: bool = False,
    val: bool = False,
    metric: bool = False,
    **kwargs: Any,
) -> FinderResult:
    """Run :func:`find_lr` on a fresh model of ``task`` (a :class:`lrkit.tasks.Task` or its name).

    The model is built with torch seeded by ``seed`` (the caller's RNG state is kept), the
    optimizer by :func:`lrkit.tasks.make_optimizer` (``optimizer`` default: the task's recipe)
    at ``lr`` (default: the task's LR; the range test overrides it anyway), and batches of the
    task's batch size come from its training set. ``kwargs`` go to :func:`find_lr` (``steps``,
    ``start_lr``, ``end_lr``, ``method``, ``repeats``, ``progress``, ...). ``quiet=True``
    silences the :class:`lrkit.errors.LRKitWarning` of the result's notes, for callers that
    show ``result.notes`` themselves. ``val=True`` passes the task's validation split as
    ``val_data`` when the fine-tuning rule applies (a pretrained model, or
    ``regime="finetune"``), where it scores the trials; from scratch nothing changes.
    ``metric=True`` also scores the trials on the task's metric (``val_metric``, in the
    direction of ``task.higher_is_better``) instead of its validation loss.
    """
    import torch

    from lrkit.finder._finetune_torch import finetune_rule_applies
    from lrkit.tasks import get_task, make_optimizer

    t = get_task(task)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = t.make_model()
    opt = make_optimizer(optimizer or t.optimizer, model.parameters(), lr if lr else t.lr)
    kwargs.setdefault("batch_size", t.batch_size)
    if val and "val_data" not in kwargs and finetune_rule_applies(model, kwargs):
        kwargs["val_data"] = t.val
    if not metric:
        kwargs.setdefault("val_metric", None)  # the validation loss, not find_lr's "auto"
    elif "val_metric" not in kwargs and finetune_rule_applies(model, kwargs):
        kwargs["val_metric"] = t.metric
        kwargs["val_metric_mode"] = "max" if t.higher_is_better else "min"
    with warnings.catch_warnings():
        if quiet:
            warnings.simplefilter("ignore", LRKitWarning)
        return find_lr(model, t.train, loss_fn=t.loss_fn, optimizer=opt, seed=seed, **kwargs)
