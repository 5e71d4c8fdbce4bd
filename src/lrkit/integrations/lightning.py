"""Lightning adapter: :func:`configure_optimizers` and the :class:`LearningRateLogger` callback.

:func:`configure_optimizers` wraps an optimizer and an lrkit schedule into the value
``LightningModule.configure_optimizers`` returns, with an
:class:`lrkit.integrations.torch.Scheduler` stepped at ``interval="step"``: Lightning steps it
after every optimizer update (not every batch), so with ``accumulate_grad_batches`` the k-th
*update* runs at ``s(k)``, and Lightning's checkpoints restore it exactly. An optional plateau
rule is fed the ``monitor`` metric after validation and multiplies the schedule.

>>> import torch
>>> from lrkit.schedules import cosine, warmup
>>> opt = torch.optim.AdamW(torch.nn.Linear(2, 1).parameters(), lr=1e-3)
>>> conf = configure_optimizers(opt, warmup(cosine(lr=1e-3, steps=100), steps=10))
>>> conf["lr_scheduler"]["interval"], type(conf["lr_scheduler"]["scheduler"]).__name__
('step', 'Scheduler')
"""

from __future__ import annotations

from typing import Any, Literal

from lrkit.control import ReduceOnPlateau
from lrkit.errors import ConfigError, require

require("torch", "torch")
require("lightning", "lightning")

import lightning.pytorch as pl  # noqa: E402
import torch  # noqa: E402
from torch.optim.lr_scheduler import LRScheduler  # noqa: E402

from lrkit.integrations.torch import Scheduler  # noqa: E402
from lrkit.schedules import Schedule  # noqa: E402

__all__ = ["LearningRateLogger", "configure_optimizers"]


class _PlateauFeed(LRScheduler):
    """What Lightning steps with the monitored metric: it forwards it to ``Scheduler.report``.

    Lightning calls ``step(metric)`` only on schedulers flagged ``reduce_on_plateau``, and those
    are never stepped per update, so the plateau needs a second scheduler entry; this one holds
    no state of its own (the plateau state is saved by the :class:`Scheduler`).
    """

    def __init__(self, scheduler: Scheduler) -> None:  # no super().__init__: it owns no LRs
        self.scheduler = scheduler
        self.optimizer = scheduler.optimizer

    def step(self, metrics: Any = None) -> None:  # type: ignore[override]
        if metrics is None:
            raise ConfigError("the plateau rule needs the monitored metric; got None")
        value = metrics.item() if isinstance(metrics, torch.Tensor) else metrics
        self.scheduler.report(float(value))

    def get_last_lr(self) -> list[float | torch.Tensor]:
        return self.scheduler.get_last_lr()

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        return None


def configure_optimizers(
    optimizer: torch.optim.Optimizer,
    schedule: Schedule,
    *,
    plateau: ReduceOnPlateau | None = None,
    monitor: str | None = None,
    plateau_interval: Literal["epoch", "step"] = "epoch",
    plateau_frequency: int = 1,
    strict: bool = True,
    name: str | None = None,
) -> Any:
    """The ``configure_optimizers`` return value that applies ``schedule`` to ``optimizer``.

    Without a plateau rule this is the dict ``{"optimizer": optimizer, "lr_scheduler":
    {"scheduler": Scheduler(optimizer, schedule), "interval": "step", "frequency": 1}}``.

    With ``plateau`` (and the ``monitor`` key it watches, e.g. ``"val_loss"``), Lightning needs
    two scheduler entries — one stepped per update, one fed the metric — and only its two-list
    form holds two, so the return value is ``([optimizer], [step_entry, plateau_entry])``. The
    plateau entry is updated after validation every ``plateau_frequency`` epochs (or steps, with
    ``plateau_interval="step"``, for ``val_check_interval`` runs); ``strict=False`` skips an update
    when the metric is missing instead of raising. The cut applies from the next update. Like
    Lightning's own ``ReduceLROnPlateau`` handling, the metric of the epoch a run was resumed
    after is not replayed.

    Args:
        optimizer: a ``torch.optim`` optimizer; its param groups keep their LR ratios.
        schedule: the lrkit schedule; update ``k`` (counted in optimizer updates) runs at
            ``s(k)`` times the plateau multiplier.
        name: the key Lightning's ``LearningRateMonitor`` logs the LR under.
    """
    if plateau is not None and monitor is None:
        raise ConfigError(
            "a plateau rule needs the metric to watch: configure_optimizers(..., "
            "plateau=ReduceOnPlateau(...), monitor='val_loss')"
        )
    if plateau is None and monitor is not None:
        raise ConfigError(
            f"monitor={monitor!r} is only used with a plateau rule; pass plateau=ReduceOnPlateau()"
        )
    if plateau_interval not in ("epoch", "step"):
        raise ConfigError(
            f"plateau_interval must be 'epoch' or 'step', but got {plateau_interval=!r}"
        )
    if isinstance(plateau_frequency, bool) or not isinstance(plateau_frequency, int):
        raise ConfigError(
            f"plateau_frequency must be an integer >= 1, but got {plateau_frequency=!r}"
        )
    if plateau_frequency < 1:
        raise ConfigError(
            f"plateau_frequency must be an integer >= 1, but got {plateau_frequency=!r}"
        )
    scheduler = Scheduler(optimizer, schedule, plateau)
    step_entry: dict[str, Any] = {"scheduler": scheduler, "interval": "step", "frequency": 1}
    if name is not None:
        step_entry["name"] = name
    if plateau is None:
        return {"optimizer": optimizer, "lr_scheduler": step_entry}
    plateau_entry = {
        "scheduler": _PlateauFeed(scheduler),
        "interval": plateau_interval,
        "frequency": plateau_frequency,
        "reduce_on_plateau": True,
        "monitor": monitor,
        "strict": strict,
        "name": f"{name or 'lr'}-plateau",
    }
    return [optimizer], [step_entry, plateau_entry]


class LearningRateLogger(pl.Callback):
    """Log the LR of every optimizer update, at the update's index.

    Just before each ``optimizer.step()`` (after gradient accumulation) it logs the LR of the
    first param group as ``name`` (all groups as ``name/group{i}`` with ``groups=True``), through
    ``LightningModule.log``, so it reaches every logger (at the trainer's ``log_every_n_steps``),
    the progress bar (``prog_bar=True``) and ``trainer.callback_metrics``. The logged step is the
    number of updates done so far, i.e. ``k``: the value logged at step ``k`` is ``s(k)`` times the
    plateau multiplier, which is logged as ``{name}_scale`` when an lrkit plateau rule is set.
    """

    def __init__(self, name: str = "lr", *, groups: bool = False, prog_bar: bool = False) -> None:
        super().__init__()
        self.name = name
        self.groups = groups
        self.prog_bar = prog_bar

    def on_before_optimizer_step(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer: Any
    ) -> None:
        lrs = [float(g["lr"]) for g in optimizer.param_groups]
        log = pl_module.log
        log(self.name, lrs[0], on_step=True, on_epoch=False, prog_bar=self.prog_bar)
        if self.groups:
            for i, lr in enumerate(lrs):
                log(f"{self.name}/group{i}", lr, on_step=True, on_epoch=False)
        for config in trainer.lr_scheduler_configs:
            sched = config.scheduler
            if isinstance(sched, Scheduler) and sched.plateau is not None:
                log(f"{self.name}_scale", float(sched.scale), on_step=True, on_epoch=False)
                break
