"""``find_lr`` for Lightning: lrkit's range test on a ``LightningModule``, in place of
``Tuner.lr_find``."""

from __future__ import annotations

import warnings
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.fabric.utilities.apply_func import move_data_to_device

from lrkit._distributed import is_active
from lrkit.errors import ConfigError
from lrkit.finder import FinderResult
from lrkit.integrations.torch._frontend import (
    Chain,
    MetricReader,
    ValSource,
    describe,
    find_lr_with,
)

__all__ = ["find_lr"]


def _first_optimizer(conf: Any) -> torch.optim.Optimizer:
    """The optimizer in any ``configure_optimizers`` return value Lightning accepts."""
    if isinstance(conf, torch.optim.Optimizer):
        return conf
    if isinstance(conf, dict) and "optimizer" in conf:
        return _first_optimizer(conf["optimizer"])
    if isinstance(conf, list | tuple) and conf:
        return _first_optimizer(conf[0])
    raise ConfigError(
        "find_lr needs configure_optimizers() to return an optimizer (alone, in a dict or a "
        f"list), but it returned {conf!r}"
    )


def _training_loss(out: Any) -> Any:
    if isinstance(out, dict):
        out = out.get("loss")
    if not isinstance(out, torch.Tensor):
        raise ConfigError(
            "find_lr needs training_step to return the loss (a tensor or {'loss': tensor}), "
            f"but it returned {type(out).__name__}"
        )
    return out


def _reader(model: pl.LightningModule, device: torch.device) -> MetricReader:
    """``val_metric`` on Lightning batches: ``"accuracy"`` is top-1 of ``model(x)`` against
    ``y`` for ``(x, y)`` batches (``"auto"`` reads the same ``model(x)``, ``y``); a callable
    gets the batch on the device."""
    from lightning.pytorch.utilities.model_helpers import is_overridden

    from lrkit.tasks import accuracy

    def unreadable(batch: Any) -> str | None:
        if not (isinstance(batch, tuple | list) and len(batch) == 2):
            return f"a batch was {describe(batch)}"
        if not isinstance(batch[1], torch.Tensor):
            return f"a batch's y was {type(batch[1]).__name__}"
        if not is_overridden("forward", model, parent=pl.LightningModule):
            return f"{type(model).__name__} has no forward() to compute the logits model(x)"
        return None

    def scores(module: Any, batch: Any) -> tuple[Any, Any]:
        # on the module's own device: before the sweep it may not be on the strategy's yet
        first = next(iter(module.parameters()), None)
        x, y = move_data_to_device(batch, device if first is None else first.device)
        return module(x), y

    def top1(module: Any, batch: Any) -> float:
        return accuracy(*scores(module, batch))

    return MetricReader(
        accuracy=top1,
        unreadable=unreadable,
        prepare=lambda batch: move_data_to_device(batch, device),
        batch_form="(x, y) batches (top-1 of model(x) against y)",
        scores=scores,
    )


def _loaders(
    trainer: pl.Trainer,
    model: pl.LightningModule,
    datamodule: pl.LightningDataModule | None,
    train_dataloaders: Any,
    val_dataloaders: Any,
) -> tuple[Any, ValSource]:
    """The training loader, and where ``fit`` would take its validation loaders from:
    ``val_dataloaders``, else the datamodule's ``val_dataloader``, else the model's."""
    if train_dataloaders is not None and datamodule is not None:
        raise ConfigError("pass train_dataloaders or datamodule to find_lr, not both")
    if isinstance(train_dataloaders, pl.LightningDataModule):
        datamodule, train_dataloaders = train_dataloaders, None
    if datamodule is not None:
        datamodule.prepare_data()
        datamodule.setup("fit")
        loader = datamodule.train_dataloader()
    elif train_dataloaders is not None:
        loader = train_dataloaders
    else:
        loader = model.train_dataloader()
    sharded = is_active() and trainer._accelerator_connector.use_distributed_sampler
    if sharded:
        loader = _shard(trainer, loader)

    def val_source() -> tuple[Any, str] | None:
        from lightning.pytorch.utilities.model_helpers import is_overridden

        if val_dataloaders is not None:
            found, where = val_dataloaders, "val_dataloaders"
        elif datamodule is not None and is_overridden("val_dataloader", datamodule):
            found, where = datamodule.val_dataloader(), "datamodule.val_dataloader()"
        elif is_overridden("val_dataloader", model):
            found, where = model.val_dataloader(), "model.val_dataloader()"
        else:
            return None
        many = list(found.values()) if isinstance(found, dict) else found
        many = list(many) if isinstance(many, list | tuple) else [many]
        if sharded:  # each rank scores its shard, as fit's validation does
            many = [_shard(trainer, v) for v in many]
        if len(many) > 1:
            where += f", {len(many)} loaders"
        return Chain(many), where

    return loader, val_source


def _shard(trainer: pl.Trainer, loader: Any) -> Any:
    """A DistributedSampler for this rank, as ``trainer.fit`` would add."""
    from torch.utils.data import DataLoader, DistributedSampler, RandomSampler

    if not isinstance(loader, DataLoader) or isinstance(loader.sampler, DistributedSampler):
        return loader
    from lightning.pytorch.utilities.data import _update_dataloader

    kwargs = dict(getattr(trainer.strategy, "distributed_sampler_kwargs", None) or {})
    sampler: DistributedSampler[Any] = DistributedSampler(
        loader.dataset, shuffle=isinstance(loader.sampler, RandomSampler), **kwargs
    )
    return _update_dataloader(loader, sampler, mode=None)


def _launch(trainer: pl.Trainer) -> None:
    """Start the other ranks now, as ``trainer.fit`` would, if nobody has started them.

    Lightning's ``_SubprocessScriptLauncher`` (``strategy="ddp"`` from ``python script.py``)
    re-runs the script with ``LOCAL_RANK=1..N-1`` when ``fit`` starts; the children then reach
    this same ``find_lr`` call with their processes "created externally" and join the group.
    Launching sets ``LOCAL_RANK=0`` here, so the ``fit`` that follows finds the processes
    created and does not launch them again (read in lightning 2.6's
    ``strategies/launchers/subprocess_script.py`` and ``plugins/environments/lightning.py``).
    """
    env = getattr(trainer.strategy, "cluster_environment", None)
    if env is not None and env.creates_processes_externally:
        return  # torchrun, SLURM, ... or a child of the launcher
    from lightning.pytorch.strategies.launchers.subprocess_script import (
        _SubprocessScriptLauncher,
    )

    launcher = getattr(trainer.strategy, "launcher", None)
    if env is None or not isinstance(launcher, _SubprocessScriptLauncher):
        name = type(trainer.strategy).__name__
        method = getattr(trainer.strategy, "_start_method", None)
        if method is not None:  # strategy="ddp_spawn" / "ddp_fork" / "ddp_notebook"
            name += f"(start_method={method!r})"
        raise ConfigError(
            f"find_lr with {trainer.world_size} processes cannot run under strategy {name}: "
            "its processes exist only inside trainer.fit; use strategy='ddp' (from a script, "
            "or under torchrun --nproc_per_node N), or devices=1"
        )
    from lightning.fabric.strategies.launchers.subprocess_script import (
        _launch_process_observer,
    )
    from lightning.fabric.utilities.distributed import _set_num_threads_if_needed

    env.validate_settings(num_devices=launcher.num_processes, num_nodes=launcher.num_nodes)
    launcher._call_children_scripts()
    _launch_process_observer(launcher.procs)  # a dead child ends the others, as under fit
    _set_num_threads_if_needed(num_processes=launcher.num_processes)


def find_lr(
    trainer: pl.Trainer,
    model: pl.LightningModule,
    *,
    datamodule: pl.LightningDataModule | None = None,
    train_dataloaders: Any = None,
    val_dataloaders: Any = None,
    val_metric: Any = "auto",
    **options: Any,
) -> FinderResult:
    """lrkit's range test on a ``LightningModule``: a drop-in for ``Tuner(trainer).lr_find``.

    Each sweep step runs ``model.training_step`` on the next training batch (from
    ``train_dataloaders``, the ``datamodule``, or the model's ``train_dataloader``) and one
    update of the optimizer from ``model.configure_optimizers()``, accumulating
    ``trainer.accumulate_grad_batches`` batches per update. ``options`` are those of
    :func:`lrkit.finder.find_lr` (``start_lr``, ``end_lr``, ``steps``, ``method``, ``regime``,
    ``val_data``, ...).

    Fine-tuning (a pretrained model, or ``regime="finetune"``): the trials are scored on
    ``val_data`` (batches in the loaders' format) or, without it, on the validation loaders
    ``fit`` would use: ``val_dataloaders``, else ``datamodule.val_dataloader()``, else the
    model's ``val_dataloader()`` (all of them, one after the other, when it returns several);
    ``result.notes`` says which. Validation batches are scored by ``training_step`` in eval
    mode without gradients, as the training batches' loss is read; validation data is not used
    from scratch.

    ``val_metric=`` scores the trials on a metric instead of the validation loss, with the same
    rule as :func:`lrkit.find_lr` (the lowest trial LR within 5% of the best trial's metric and
    half its gain over the start, shaded
    toward the parabola's peak through the best trial and its neighbours;
    ``result.trials.val_metrics``): ``"accuracy"`` for ``(x, y)`` (or ``[x, y]``) batches is the
    top-1 accuracy of ``model(x)`` (the module's ``forward``) against ``y``; a callable
    ``val_metric(model, batch) -> number`` gets the module and a validation batch on the
    device, in eval mode without gradients, and returns the batch's mean metric (the trials'
    metric is the mean over samples, each batch weighted by its size: the leading size of its
    first tensor; the mean over ranks under DDP). ``val_metric_mode="max"`` (default) or
    ``"min"``. A batch ``"accuracy"`` cannot read raises a :class:`~lrkit.errors.ConfigError`,
    checked on the first validation batch before the sweep. ``val_metric=None``: the
    validation loss.

    ``val_metric="auto"`` (default), as in :func:`lrkit.find_lr`: when the trials will run,
    ``model(x)`` is computed on the first validation batch they will score (eval mode, no
    gradients, the RNGs and flags left as they were); where it gives class scores for integer
    ``y`` (``(N, C)``, ``(N, T, C)``, or ``(N, C, d1, ...)``: top-1 along ``C``) the trials are
    scored as with ``"accuracy"`` and ``result.notes`` says so; otherwise (a regression
    module, float targets, a module without ``forward``, batches that are not ``(x, y)``,
    validation data that is a one-pass iterator) on the validation loss, silently and never an
    error. Under DDP every rank decides the same (accuracy only where every rank reads class
    scores). Without the trials ``val_metric`` is not used and nothing is read, as in
    :func:`lrkit.find_lr`.

    Example::

        res = find_lr(trainer, model, datamodule=dm, val_metric="accuracy")

    The sweep runs outside ``trainer.fit``: the trainer's progress, loops and callbacks are
    never touched, so ``trainer.fit`` afterwards starts fresh; the module's parameters,
    buffers and train/eval flags and the RNGs are restored exactly (the optimizer was built
    for the sweep only). ``self.log`` calls in ``training_step`` are ignored during the sweep.

    Under DDP (``strategy="ddp"``), from ``python script.py`` (Lightning's own launcher: the
    other ranks are started here, as ``fit`` would, re-running the script, and ``fit`` later
    reuses them) or under ``torchrun``: the process group is set up here, batches are sharded
    with a ``DistributedSampler`` as ``fit`` would, the loss is averaged over the ranks, every
    rank stops at the same step and returns the same :class:`~lrkit.finder.FinderResult`;
    validation loaders are sharded too and the trials' validation loss is the mean over ranks.
    ``ddp_spawn`` / ``ddp_notebook`` create their processes inside ``fit`` only: a
    :class:`~lrkit.errors.ConfigError` says so.
    """
    if not isinstance(trainer, pl.Trainer):
        raise ConfigError(f"trainer must be a lightning Trainer, but got trainer={trainer!r}")
    if not isinstance(model, pl.LightningModule):
        raise ConfigError(f"model must be a LightningModule, but got model={model!r}")
    if val_dataloaders is not None and options.get("val_data") is not None:
        raise ConfigError("pass val_dataloaders or val_data to find_lr, not both")
    if trainer.world_size > 1 and not torch.distributed.is_initialized():
        _launch(trainer)
        trainer.strategy.setup_environment()  # joins the process group; fit reuses it
    options.setdefault("accumulation_steps", int(trainer.accumulate_grad_batches))
    device = trainer.strategy.root_device
    options.setdefault("device", device)  # find_lr moves the module there and back
    optimizer = _first_optimizer(model.configure_optimizers())
    counter = iter(range(1 << 62))

    def loss_of(module: pl.LightningModule, batch: Any) -> Any:
        batch = move_data_to_device(batch, device)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*self.log.*")
            return _training_loss(module.training_step(batch, next(counter)))

    loader, val_source = _loaders(trainer, model, datamodule, train_dataloaders, val_dataloaders)
    return find_lr_with(
        model,
        loss_of,
        loader,
        optimizer,
        val_source=val_source,
        reader=_reader(model, device),
        val_metric=val_metric,
        **options,
    )
