"""Adapters that apply lrkit schedules in training frameworks.

Each adapter lives in its own module and imports its framework only when imported itself:
``lrkit.integrations.torch`` (PyTorch). Importing an adapter without its framework raises
:class:`lrkit.errors.DependencyError` with the install command.
"""
