"""Adapters that apply lrkit schedules, the range test and the guard in training frameworks.

Each adapter lives in its own module and imports its framework only when imported itself:
``lrkit.integrations.torch`` (PyTorch :class:`Scheduler` and :class:`Guard`),
``lrkit.integrations.lightning`` (``configure_optimizers`` helper, LR logger, guard and
schedule-free callbacks, ``find_lr``), ``lrkit.integrations.keras`` (``KerasSchedule``, plateau
and guard callbacks, ``find_lr``), ``lrkit.integrations.optax`` (``to_optax``) and
``lrkit.integrations.transformers`` (scheduler, Trainer, plateau, guard and schedule-free
callbacks, ``find_lr`` for Hugging Face). Under ``torch.distributed`` their decisions are
collective (see ``docs/distributed.md``). Importing an adapter without its framework raises
:class:`lrkit.errors.DependencyError` with the install command.
"""
