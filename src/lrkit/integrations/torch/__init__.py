"""PyTorch adapter: :class:`Scheduler` applies any lrkit schedule to a ``torch.optim`` optimizer;
:class:`Guard` keeps a training loop alive through NaN losses and loss spikes."""

from __future__ import annotations

from lrkit.errors import require

require("torch", "torch")

from lrkit.integrations.torch._guard import Guard  # noqa: E402
from lrkit.integrations.torch._scheduler import Scheduler  # noqa: E402

__all__ = ["Guard", "Scheduler"]
