"""Errors raised by lrkit.

Every error lrkit raises on purpose derives from :class:`LRKitError`, so callers can catch
them all at once, and the CLI turns them into a one-line message with exit code 2. Bad
arguments raise subclasses of both :class:`LRKitError` and :class:`ValueError`, and the
message names the argument and the value that was given.
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DependencyError",
    "FinderError",
    "GuardError",
    "LRKitError",
    "LRKitWarning",
    "LogFormatError",
    "PeerFailure",
    "ScheduleError",
    "TaskError",
    "TuneError",
]


class LRKitError(Exception):
    """Root of every error lrkit raises on purpose."""


class LRKitWarning(UserWarning):
    """A caveat about a result (e.g. the finder's notes); filter it with this category."""


class ConfigError(LRKitError, ValueError):
    """An argument or option has a value lrkit cannot use."""


class ScheduleError(ConfigError):
    """A schedule was built, parsed or deserialised with invalid arguments."""


class FinderError(LRKitError):
    """The LR range test could not run or could not produce a suggestion."""


class LogFormatError(LRKitError, ValueError):
    """A training log could not be read (empty, truncated, no loss column, ...)."""


class TaskError(LRKitError, ValueError):
    """A task name or task file could not be resolved or loaded."""


class TuneError(LRKitError):
    """An LR search could not run (bad bounds, unreachable storage, ...)."""


class GuardError(LRKitError):
    """A ``Guard`` gave up: the loss kept failing after the allowed rollbacks and LR cuts.

    ``step``, ``loss`` and ``rollbacks`` are kept as attributes for programmatic handling.
    """

    def __init__(
        self,
        message: str,
        *,
        step: int | None = None,
        loss: float | None = None,
        rollbacks: int = 0,
    ) -> None:
        super().__init__(message)
        self.step = step
        self.loss = loss
        self.rollbacks = rollbacks


class DependencyError(LRKitError, ImportError):
    """An optional dependency is missing; the message carries the install command."""


def require(module: str, extra: str) -> object:
    """Import ``module`` or raise :class:`DependencyError` with the ``pip install`` hint.

    >>> require("math", "core").__name__
    'math'
    """
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise DependencyError(
            f"{module} is required for this feature: pip install 'lrkit[{extra}]'"
        ) from exc


class PeerFailure(LRKitError):
    """Under ``torch.distributed``: another rank failed at a collective decision point (the range
    test's or a guard's), so this rank stops with it instead of waiting forever."""
