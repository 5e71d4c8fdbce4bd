"""Adapters that apply lrkit schedules in training frameworks.

Each adapter lives in its own module and imports its framework only when imported itself:
``lrkit.integrations.torch`` (PyTorch :class:`Scheduler`), ``lrkit.integrations.lightning``
(``configure_optimizers`` helper, LR logger), ``lrkit.integrations.keras`` (``KerasSchedule``,
plateau callback), ``lrkit.integrations.optax`` (``to_optax``) and
``lrkit.integrations.transformers`` (a scheduler and Trainer for Hugging Face). Importing an adapter without its framework raises
:class:`lrkit.errors.DependencyError` with the install command.
"""
