"""The base of the callbacks (Lightning, Hugging Face) that run a torch ``Guard`` of their own."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import torch

from lrkit.control import GuardEvent
from lrkit.control.adapter import GuardOptions
from lrkit.integrations.torch._guard import Guard

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["GuardHolder", "TorchGuardOptions"]


class TorchGuardOptions(GuardOptions, total=False):
    """:class:`~lrkit.integrations.torch.Guard`'s keyword arguments."""

    skip_spikes: bool


class GuardHolder:
    """Keeps a :class:`~lrkit.integrations.torch.Guard`'s options until training starts and
    the model and optimizer are known; reports the guard's events and summary."""

    guard: Guard | None

    def hold_guard(self, **options: Unpack[TorchGuardOptions]) -> None:
        """Check ``options`` now (a throwaway ``Guard``), so bad ones fail at construction."""
        self._kw: dict[str, Any] = dict(options)
        Guard(torch.nn.Linear(1, 1), torch.optim.SGD([torch.zeros(1)], lr=1.0), **self._kw)
        self.guard = None

    @property
    def events(self) -> list[GuardEvent]:
        """Everything the guard did, in order (empty before training starts)."""
        return [] if self.guard is None else self.guard.events

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary (see :meth:`lrkit.integrations.torch.Guard.to_dict`)."""
        return {} if self.guard is None else self.guard.to_dict()
