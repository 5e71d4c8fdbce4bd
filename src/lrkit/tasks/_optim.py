"""Build a torch optimizer by name (shared by tasks, sweep and tune); see :func:`lrkit.optim.make`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from lrkit.optim._registry import OPTIMIZERS, make

__all__ = ["OPTIMIZERS", "make_optimizer"]


def make_optimizer(name: str, params: Iterable[Any], lr: float, **kw: Any) -> Any:
    """Return the optimizer called ``name`` (see :func:`lrkit.optim.make` for the names).

    ``"sgd"`` is plain SGD, ``"sgd_momentum"`` SGD with momentum 0.9, ``"adam"``/``"adamw"``
    torch's defaults, ``"hdsgd"``/``"hdadam"`` hypergradient descent, and
    ``"schedulefree_adamw"``, ``"prodigy"``, ``"dadapt_adam"`` the LR-free methods from their
    own packages (``pip install 'lrkit[lrfree]'``). Extra keywords go to the constructor.
    """
    return make(name, params, lr, **kw)
