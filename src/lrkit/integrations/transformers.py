"""Hugging Face adapter: lrkit schedules in a ``transformers.Trainer``.

The Trainer accepts any PyTorch ``LRScheduler`` and steps it once per optimizer update (after
gradient accumulation), saves its ``state_dict`` in each checkpoint and restores it on
``resume_from_checkpoint``; :class:`lrkit.integrations.torch.Scheduler` does the rest, so the
k-th update runs at ``s(k)``, also after a resume. Three ways in:

- ``Trainer(..., optimizers=(opt, lrkit_scheduler(opt, schedule)))``;
- :class:`ScheduleTrainer` (``Trainer`` with a ``schedule=`` argument; it builds the optimizer
  from ``TrainingArguments`` as usual and overrides ``create_scheduler``);
- a plateau rule with :class:`PlateauCallback`, fed the ``eval_*`` metric after each evaluation.

Also here: :func:`find_lr` (the range test on the Trainer's model, optimizer, collator and dict
batches) and :class:`GuardCallback` (NaN/inf and spike guard). The scheduler is exact under the
Trainer's accelerate path too: the Trainer steps it once per update itself (accelerate wraps it
only for DeepSpeed, where lrkit's ``Scheduler`` ignores accelerate's extra per-process steps).

Unlike ``get_scheduler``, the schedule brings its own length: ``num_training_steps`` is not used
(a warning says when the schedule's horizon differs from it). The Trainer logs
``learning_rate`` *after* stepping the scheduler, i.e. the LR of the next update.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any

from lrkit.control import ReduceOnPlateau
from lrkit.errors import ConfigError, require

require("torch", "torch")
require("transformers", "transformers")
require("accelerate", "transformers")

import torch  # noqa: E402
import transformers  # noqa: E402

from lrkit.finder import FinderResult  # noqa: E402
from lrkit.integrations._hf_guard import GuardCallback  # noqa: E402
from lrkit.integrations.torch import Scheduler  # noqa: E402
from lrkit.integrations.torch._frontend import (  # noqa: E402
    Chain,
    MetricReader,
    describe,
    find_lr_with,
)
from lrkit.integrations.torch._schedulefree import (  # noqa: E402
    evaluation_weights,
    is_schedule_free,
)
from lrkit.schedules import Schedule  # noqa: E402

__all__ = [
    "GuardCallback",
    "PlateauCallback",
    "ScheduleFreeCallback",
    "ScheduleTrainer",
    "find_lr",
    "lrkit_scheduler",
]


def lrkit_scheduler(
    optimizer: torch.optim.Optimizer,
    schedule: Schedule,
    *,
    plateau: ReduceOnPlateau | None = None,
    num_training_steps: int | None = None,
) -> Scheduler:
    """The scheduler to pass as ``Trainer(optimizers=(optimizer, scheduler))``.

    ``num_training_steps`` (optional) only checks that the schedule's horizon matches it.
    """
    if num_training_steps is not None:
        _check_horizon(schedule, num_training_steps)
    return Scheduler(optimizer, schedule, plateau)


def _check_horizon(schedule: Schedule, num_training_steps: int) -> None:
    horizon = schedule.horizon
    if horizon is not None and horizon != num_training_steps:
        warnings.warn(
            f"{schedule!r} is designed for {horizon} updates but the Trainer will run "
            f"{num_training_steps}; the schedule is used as is (it holds its end value after "
            "its horizon)",
            UserWarning,
            stacklevel=3,
        )


class PlateauCallback(transformers.TrainerCallback):  # type: ignore[misc]
    """Feed ``monitor`` (an ``eval_*`` metric) to the lrkit plateau rule after each evaluation.

    The Trainer's scheduler must be an lrkit :class:`Scheduler` built with ``plateau=``; the
    cut applies from the next update and is saved with the scheduler in each checkpoint.
    """

    def __init__(self, monitor: str = "eval_loss") -> None:
        self.monitor = monitor

    def on_evaluate(
        self,
        args: Any,
        state: Any,
        control: Any,
        metrics: dict[str, float] | None = None,
        **kwargs: Any,
    ) -> None:
        sched = kwargs.get("lr_scheduler")
        if not isinstance(sched, Scheduler) or sched.plateau is None:
            raise ConfigError(
                "PlateauCallback needs the Trainer's lr_scheduler to be an lrkit Scheduler with "
                f"a plateau rule, but it is {sched!r}"
            )
        metrics = metrics or {}
        if self.monitor not in metrics:
            raise ConfigError(
                f"PlateauCallback monitors {self.monitor!r}, which the evaluation did not "
                f"return (got {sorted(metrics)})"
            )
        sched.report(float(metrics[self.monitor]))


class ScheduleTrainer(transformers.Trainer):  # type: ignore[misc]
    """A ``transformers.Trainer`` whose LR follows an lrkit schedule.

    ``ScheduleTrainer(model, args, ..., schedule=s, plateau=None, plateau_monitor="eval_loss")``;
    everything else is the Trainer's. The LR in ``TrainingArguments`` only sets the optimizer's
    default LR (the ratio reference for param groups); ``lr_scheduler_type`` and the warmup
    arguments are ignored — put the warmup in the schedule (``lrkit.schedules.warmup``).
    """

    def __init__(
        self,
        *args: Any,
        schedule: Schedule,
        plateau: ReduceOnPlateau | None = None,
        plateau_monitor: str = "eval_loss",
        **kwargs: Any,
    ) -> None:
        if not isinstance(schedule, Schedule):
            raise ConfigError(
                f"schedule must be an lrkit Schedule (e.g. lrkit.schedules.cosine(...)), "
                f"but got schedule={schedule!r}"
            )
        self.lrkit_schedule = schedule
        self.lrkit_plateau = plateau
        super().__init__(*args, **kwargs)
        if plateau is not None:
            self.add_callback(PlateauCallback(plateau_monitor))

    def create_scheduler(
        self, num_training_steps: int, optimizer: torch.optim.Optimizer | None = None
    ) -> torch.optim.lr_scheduler.LRScheduler:
        if self.lr_scheduler is None:  # as the Trainer's: a scheduler passed in is kept
            _check_horizon(self.lrkit_schedule, num_training_steps)
            opt = self.optimizer if optimizer is None else optimizer
            if opt is None:
                raise ConfigError(
                    "create_scheduler needs an optimizer; call create_optimizer first"
                )
            sched = Scheduler(opt, self.lrkit_schedule, self.lrkit_plateau)
            self.lr_scheduler = sched  # type: ignore[assignment]
        return self.lr_scheduler  # type: ignore[return-value]


def find_lr(
    trainer: transformers.Trainer, *, val_metric: Any = "auto", **options: Any
) -> FinderResult:
    """LR range test on a ``transformers.Trainer``'s model, optimizer, collator and batches.

    Batches come from ``trainer.get_train_dataloader()`` (the Trainer's collator and, under
    ``torch.distributed``, its sharding), go through the Trainer's input preparation, and the
    loss is ``trainer.compute_loss`` (the model output's ``loss``, or ``compute_loss_func``).
    The optimizer is the Trainer's (created with ``create_optimizer`` and dropped again
    afterwards when the Trainer had none, so ``train()`` builds it as usual); gradient
    accumulation defaults to ``args.gradient_accumulation_steps``. ``options`` are those of
    :func:`lrkit.finder.find_lr` (``start_lr``, ``end_lr``, ``steps``, ``method``, ``regime``,
    ``val_data``, ...). The model, the optimizer state and the RNGs are restored exactly;
    under ``torch.distributed`` every rank averages the loss and returns the same
    :class:`~lrkit.finder.FinderResult`.

    Fine-tuning (a pretrained model, or ``regime="finetune"``): the trials are scored on
    ``val_data`` (batches in the Trainer's format) or, without it, on
    ``trainer.get_eval_dataloader()`` when ``trainer.eval_dataset`` is set (every dataset of a
    dict, one after the other), through ``compute_loss`` like the training batches; under
    ``torch.distributed`` each rank scores its shard and the loss is the mean over ranks.
    ``result.notes`` says which data was used. From scratch the eval dataset is not used.

    ``val_metric=`` scores the trials on a metric instead of the validation loss, with the same
    rule as :func:`lrkit.find_lr` (the geometric mean of the metric's peak, a parabola
    through the best trial and its neighbours, and the validation loss's peak half a decade
    lower;
    ``result.trials.val_metrics``): ``"accuracy"`` is the top-1 accuracy of
    ``model(**batch).logits`` (argmax over the last axis) against ``batch["labels"]``, over the
    positions whose label is not -100 (so token classification works; a causal LM, which
    shifts its labels inside ``forward``, needs a callable); a callable
    ``val_metric(model, batch) -> number`` gets ``trainer.model`` and a validation batch as
    the Trainer prepares it (on the device), in eval mode without gradients, and returns the
    batch's mean metric (the trials' metric is the mean over sequences, each batch weighted by
    its size: the leading size of its first tensor; the mean over ranks under several
    processes). ``val_metric_mode="max"`` (default) or ``"min"``. A batch ``"accuracy"`` cannot
    read raises a :class:`~lrkit.errors.ConfigError`, checked on the first validation batch
    before the sweep. ``val_metric=None``: the validation loss.

    ``val_metric="auto"`` (default), as in :func:`lrkit.find_lr`: when the trials will run,
    ``model(**batch).logits`` is computed on the first validation batch they will score (eval
    mode, no gradients, the RNGs and flags left as they were); where the logits are class
    scores for integer ``batch["labels"]`` (sequence or token classification) the trials are
    scored as with ``"accuracy"`` and ``result.notes`` says so; otherwise (a regression head's
    float labels, a causal LM, batches without ``"labels"``, an output without ``logits``,
    validation data that is a one-pass iterator) on the validation loss, silently and never an
    error. Under several processes every rank decides the same. Without the trials
    ``val_metric`` is not used and nothing is read, as in :func:`lrkit.find_lr`.

    Example::

        res = find_lr(trainer, val_metric="accuracy", val_metric_mode="max")
    """
    if not isinstance(trainer, transformers.Trainer):
        raise ConfigError(f"trainer must be a transformers.Trainer, but got trainer={trainer!r}")
    options.setdefault("accumulation_steps", int(trainer.args.gradient_accumulation_steps))
    created = trainer.optimizer is None
    optimizer = trainer.create_optimizer() if created else trainer.optimizer
    inner: Any = getattr(optimizer, "optimizer", optimizer)  # accelerate's wrapper, if any
    model: Any = trainer.model

    def loss_of(module: torch.nn.Module, batch: Any) -> Any:
        return trainer.compute_loss(module, trainer._prepare_inputs(batch))

    def val_source() -> tuple[Any, str] | None:
        data = trainer.eval_dataset
        if data is None:
            return None
        if isinstance(data, dict):
            loaders = [trainer.get_eval_dataloader(name) for name in data]
            return Chain(loaders), f"trainer.get_eval_dataloader() for {', '.join(map(str, data))}"
        return trainer.get_eval_dataloader(), "trainer.get_eval_dataloader(), trainer.eval_dataset"

    try:
        return find_lr_with(
            model,
            loss_of,
            trainer.get_train_dataloader(),
            inner,
            val_source=val_source,
            reader=_reader(trainer),
            val_metric=val_metric,
            **options,
        )
    finally:
        if created:
            trainer.optimizer = None


def _reader(trainer: transformers.Trainer) -> MetricReader:
    """``val_metric`` on the Trainer's dict batches: ``"accuracy"`` is top-1 of
    ``model(**batch).logits`` against ``batch["labels"]`` where the label is not -100."""
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    from lrkit.tasks import accuracy

    causal_lms = set(MODEL_FOR_CAUSAL_LM_MAPPING_NAMES.values())

    def unreadable(batch: Any) -> str | None:
        if not isinstance(batch, Mapping) or "labels" not in batch:
            return f"a batch was {describe(batch)}"
        name = type(trainer.model).__name__
        if name in causal_lms:
            return f"{name} is a causal LM (it shifts its labels inside forward)"
        return None

    def forward(model: Any, batch: Any) -> tuple[Any, Any, Any]:
        """``(model output, its logits or None, the labels)`` of a prepared ``batch``."""
        inputs = trainer._prepare_inputs(batch)
        out = model(**inputs)
        logits = out.get("logits") if isinstance(out, Mapping) else None
        return out, logits, inputs["labels"]

    def top1(model: Any, batch: Any) -> float:
        out, logits, labels = forward(model, batch)
        if not isinstance(logits, torch.Tensor):
            raise ConfigError(
                "find_lr: val_metric='accuracy' reads model(**batch).logits, but the model "
                f"returned {describe(out)}; pass val_metric=fn (model, batch) -> number"
            )
        if tuple(logits.shape[:-1]) != tuple(labels.shape):
            raise ConfigError(
                "find_lr: val_metric='accuracy' needs logits of shape labels.shape + "
                f"(classes,), but got logits {tuple(logits.shape)} and labels "
                f"{tuple(labels.shape)}; pass val_metric=fn (model, batch) -> number"
            )
        keep = labels != -100
        if not bool(keep.any()):
            raise ConfigError(
                "find_lr: val_metric='accuracy' found a validation batch whose labels are all "
                "-100 (ignored): it has nothing to score"
            )
        return accuracy(logits[keep], labels[keep])

    def scores(model: Any, batch: Any) -> tuple[Any, Any]:
        _, logits, labels = forward(model, batch)
        return logits, labels

    return MetricReader(
        accuracy=top1,
        unreadable=unreadable,
        prepare=trainer._prepare_inputs,
        scores=scores,
        batch_form="dict batches with 'labels' (top-1 of model(**batch).logits against them)",
    )


class ScheduleFreeCallback(transformers.TrainerCallback):  # type: ignore[misc]
    """Evaluation and checkpoints at the evaluation weights of a schedule-free optimizer.

    The Trainer's optimizer (``schedulefree.AdamWScheduleFree`` & co.) is put in train mode
    when training starts; when the Trainer is about to evaluate or save after a step
    (``control.should_evaluate`` / ``should_save``) it is switched to eval mode, so the
    evaluation and the checkpoint (weights and an optimizer state marked eval, which a resume
    turns back correctly) see the evaluation weights; after them the training weights come
    back bit for bit. With ``eval_at_end=True`` the model holds the evaluation weights after
    ``train()``. Other optimizers are left alone.
    """

    def __init__(self, *, eval_at_end: bool = True) -> None:
        self.eval_at_end = bool(eval_at_end)
        self._block: Any = None
        self._save_pending = False

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        opt = kwargs.get("optimizer")
        if opt is not None and is_schedule_free(opt):
            getattr(opt, "optimizer", opt).train()

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._enter_if_due(control, kwargs.get("optimizer"))

    def on_epoch_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._enter_if_due(control, kwargs.get("optimizer"))

    def _enter_if_due(self, control: Any, opt: Any) -> None:
        if opt is None or self._block is not None:
            return
        if control.should_evaluate or control.should_save:
            self._save_pending = bool(control.should_save)
            self._block = evaluation_weights([opt])
            self._block.__enter__()

    def _leave(self) -> None:
        if self._block is not None:
            block, self._block = self._block, None
            block.__exit__(None, None, None)

    def on_evaluate(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if not self._save_pending:
            self._leave()

    def on_save(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._save_pending = False
        self._leave()

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._leave()
        opt = kwargs.get("optimizer")
        if self.eval_at_end and opt is not None and is_schedule_free(opt):
            getattr(opt, "optimizer", opt).eval()
