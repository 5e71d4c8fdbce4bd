"""PyTorch adapter: :class:`Scheduler` applies any lrkit schedule to a ``torch.optim`` optimizer."""

from __future__ import annotations

from lrkit.errors import require

require("torch", "torch")

from lrkit.integrations.torch._scheduler import Scheduler  # noqa: E402

__all__ = ["Scheduler"]
