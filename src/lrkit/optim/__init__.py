"""Optimizers that adapt their own learning rate, and optimizers by name.

- :class:`HDSGD`, :class:`HDAdam`: hypergradient descent (Baydin et al., ICLR 2018), the LR is
  learned online and readable after every step (``optimizer.param_groups[0]["lr"]``).
- :func:`make`: ``"sgd"``, ``"sgd_momentum"``, ``"adam"``, ``"adamw"``, ``"hdsgd"``,
  ``"hdadam"``, and the LR-free methods from their own packages (``"schedulefree_adamw"``,
  ``"prodigy"``, ``"dadapt_adam"``; ``pip install 'lrkit[lrfree]'``).
- :func:`evaluating`: eval/train mode switch that schedule-free optimizers need.
"""

from __future__ import annotations

from lrkit.errors import require

require("torch", "torch")

from lrkit.optim._hypergrad import HDSGD, HDAdam  # noqa: E402
from lrkit.optim._registry import available, effective_lr, evaluating, make  # noqa: E402

# the names make() knows are available(); the tuple itself is lrkit.optim._registry.OPTIMIZERS
__all__ = ["HDSGD", "HDAdam", "available", "effective_lr", "evaluating", "make"]
