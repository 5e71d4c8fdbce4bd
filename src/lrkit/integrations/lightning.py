"""Lightning adapter: :func:`configure_optimizers`, the :class:`LearningRateLogger` and the
:class:`GuardCallback` callbacks, and :func:`find_lr` (lrkit's range test in place of
``Tuner.lr_find``).

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

import math
from typing import TYPE_CHECKING, Any, Literal

from lrkit._validate import check_choice, check_int
from lrkit.control import ReduceOnPlateau
from lrkit.errors import ConfigError, require

if TYPE_CHECKING:
    from typing_extensions import Unpack

require("torch", "torch")
require("lightning", "lightning")

import lightning.pytorch as pl  # noqa: E402
import torch  # noqa: E402
from torch.optim.lr_scheduler import LRScheduler  # noqa: E402

from lrkit.integrations._lightning_finder import find_lr  # noqa: E402
from lrkit.integrations.torch import Guard, Scheduler  # noqa: E402
from lrkit.integrations.torch._guard import agreed_loss, grads_finite  # noqa: E402
from lrkit.integrations.torch._guard_holder import (  # noqa: E402
    GuardHolder,
    TorchGuardOptions,
)
from lrkit.integrations.torch._schedulefree import (  # noqa: E402
    evaluation_weights,
    is_schedule_free,
)
from lrkit.schedules import Schedule  # noqa: E402

__all__ = [
    "GuardCallback",
    "LearningRateLogger",
    "ScheduleFreeCallback",
    "configure_optimizers",
    "find_lr",
]


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
    where = "configure_optimizers"
    check_choice(where, "plateau_interval", plateau_interval, ("epoch", "step"))
    plateau_frequency = check_int(where, "plateau_frequency", plateau_frequency)
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


class GuardCallback(pl.Callback, GuardHolder):
    """The :class:`lrkit.integrations.torch.Guard` as a Lightning callback.

    Every training batch's loss is judged in ``on_before_backward``, before it reaches the
    weights. A good state is snapshotted there (to host memory, at most ``max_snapshots``);
    for a suspected spike or a NaN/inf loss the update is withheld — the gradients are
    dropped in ``on_before_optimizer_step``, so ``optimizer.step()`` changes nothing — and a
    rollback restores the module, the optimizer and the LR scheduler in ``on_train_batch_end``
    (after Lightning stepped the scheduler), then cuts the LR (through
    :attr:`Scheduler.guard_scale <lrkit.integrations.torch.Scheduler.guard_scale>` for lrkit's
    scheduler, see :class:`~lrkit.integrations.torch.Guard` for others). A first NaN/inf loss
    in ``patience`` batches is only withheld (a bad batch: no rollback, no cut; the policy's
    ``skip_first``), and a cut is given back after the policy's ``recover_after`` clean steps.
    With ``check_grads=True`` non-finite gradients count as a NaN loss. After ``max_rollbacks``
    rollbacks :class:`lrkit.errors.GuardError` ends ``trainer.fit``.

    Steps are the training batches this callback has seen (with gradient accumulation a
    withheld micro-batch withholds its whole update). Automatic optimization with one optimizer
    is supported. The policy state and the events are saved in Lightning checkpoints.

    Keyword arguments as :class:`~lrkit.integrations.torch.Guard`, plus ``check_grads``. The
    current LR multiplier is logged as ``guard_scale`` when ``log_scale=True``.
    """

    def __init__(
        self,
        *,
        check_grads: bool = True,
        log_scale: bool = False,
        **options: Unpack[TorchGuardOptions],
    ) -> None:
        super().__init__()
        self.hold_guard(**options)
        self.check_grads = bool(check_grads)
        self.log_scale = bool(log_scale)
        self._step = 0
        self._pending: tuple[int, float, float, str] | None = None  # a rollback to run
        self._withhold = False
        self._sched_state: dict[str, Any] | None = None
        self._loaded: dict[str, Any] | None = None

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not pl_module.automatic_optimization or len(trainer.optimizers) != 1:
            raise ConfigError(
                "GuardCallback supports automatic optimization with one optimizer, but got "
                f"automatic_optimization={pl_module.automatic_optimization}, "
                f"{len(trainer.optimizers)} optimizers"
            )
        scheds = [
            c.scheduler
            for c in trainer.lr_scheduler_configs
            if not isinstance(c.scheduler, _PlateauFeed)
        ]
        opt, sched = trainer.optimizers[0], (scheds[0] if scheds else None)
        guard = old = self.guard
        if guard is None or guard.optimizer is not opt or guard.model is not pl_module:
            guard = self.guard = Guard(pl_module, opt, sched, **self._kw)
            if old is not None and old.model is pl_module and self._loaded is None:
                # fit() again on the same module: new optimizers, same run; keep the state
                self._loaded = {**old.state_dict(), "step": self._step}
            elif old is not None and old.model is not pl_module:
                guard.policy.reset()  # another module: a fresh run (a given policy is reused)
                self._step = 0
        if self._loaded is not None:
            guard.load_state_dict(self._loaded)
            self._step = int(self._loaded.get("step", 0))
            self._loaded = None

    def on_before_backward(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, loss: torch.Tensor
    ) -> None:
        assert self.guard is not None
        step, self._step = self._step, self._step + 1
        # under DDP every rank judges the same (largest) loss: one decision for all ranks
        self._judge(step, agreed_loss(float(loss.detach().item())))

    def _judge(self, step: int, value: float) -> None:
        assert self.guard is not None
        action = self.guard._decide(step, value)
        if action.kind == "rollback":
            # restoring now would modify tensors autograd saved for this backward: wait until
            # the (withheld) optimizer step and Lightning's scheduler step are done
            self._pending = (step, value, action.scale, action.reason)
            self._withhold = True
        elif action.kind == "continue" and action.reason and self.guard.skip_spikes:
            self._withhold = True

    def on_before_optimizer_step(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer: Any
    ) -> None:
        if not self._withhold and self.check_grads:
            grads = [p.grad for g in optimizer.param_groups for p in g["params"]]
            grads = [g for g in grads if g is not None]
            if math.isnan(agreed_loss(0.0 if not grads or grads_finite(grads) else math.nan)):
                self._judge(self._step - 1, math.nan)
        if self._withhold:
            optimizer.zero_grad(set_to_none=True)  # torch optimizers skip params without grad
            self._withhold = False
            sched = self.guard.scheduler if self.guard is not None else None
            if sched is not None:  # Lightning steps it next: undo that in on_train_batch_end
                self._sched_state = sched.state_dict()

    def on_train_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        guard = self.guard
        assert guard is not None
        if self._pending is not None:
            guard._rollback(*self._pending)  # also clears the gradients of a partial window
            self._withhold = False
        elif self._sched_state is not None and guard.scheduler is not None:
            guard.scheduler.load_state_dict(self._sched_state)
        self._pending = None
        self._sched_state = None
        if self.log_scale:
            pl_module.log("guard_scale", guard.scale, on_step=True, on_epoch=False)

    def state_dict(self) -> dict[str, Any]:
        if self.guard is None:
            return dict(self._loaded or {})
        return {**self.guard.state_dict(), "step": self._step}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._loaded = dict(state_dict)


class ScheduleFreeCallback(pl.Callback):
    """Validation and checkpoints at the evaluation weights of schedule-free optimizers.

    Schedule-free optimizers (``schedulefree.AdamWScheduleFree`` & co., see
    :func:`lrkit.optim.make_optimizer`) train at one point and evaluate at another
    (Lightning #20441): this callback puts them in train mode when training starts, in eval
    mode for each validation inside ``fit`` (the training weights come back bit for bit
    afterwards), and writes every checkpoint in eval mode — the evaluation weights and an
    optimizer state that says so, which the next ``fit`` resumes from correctly. With
    ``eval_at_end=True`` (default) the module holds the evaluation weights after ``fit``, ready
    for ``trainer.test`` or export. Optimizers without the switch are left alone. BatchNorm
    statistics are not recomputed at the evaluation weights.
    """

    def __init__(self, *, eval_at_end: bool = True) -> None:
        super().__init__()
        self.eval_at_end = bool(eval_at_end)
        self._block: Any = None

    def _schedule_free(self, trainer: pl.Trainer) -> list[Any]:
        return [o for o in trainer.optimizers if is_schedule_free(o)]

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        for opt in self._schedule_free(trainer):
            getattr(opt, "optimizer", opt).train()

    def on_validation_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if trainer.training or trainer.state.fn == "fit":
            self._block = evaluation_weights(self._schedule_free(trainer))
            self._block.__enter__()

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._block is not None:
            block, self._block = self._block, None
            block.__exit__(None, None, None)

    def on_save_checkpoint(
        self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        opts = self._schedule_free(trainer)
        if not opts:
            return
        with evaluation_weights(opts):
            checkpoint["state_dict"] = {
                k: v.detach().clone() for k, v in pl_module.state_dict().items()
            }
            if "optimizer_states" in checkpoint:
                checkpoint["optimizer_states"] = [
                    trainer.strategy.optimizer_state(o) for o in trainer.optimizers
                ]

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.eval_at_end:
            for opt in self._schedule_free(trainer):
                getattr(opt, "optimizer", opt).eval()
