"""Build a torch optimizer by name (shared by tasks, sweep and tune)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from lrkit.errors import ConfigError

__all__ = ["OPTIMIZERS", "make_optimizer"]

#: Optimizer names understood by :func:`make_optimizer`.
OPTIMIZERS: tuple[str, ...] = ("sgd", "sgd_momentum", "adam", "adamw")


def make_optimizer(name: str, params: Iterable[Any], lr: float, **kw: Any) -> Any:
    """Return a ``torch.optim`` optimizer for ``name``.

    ``"sgd"`` is plain SGD, ``"sgd_momentum"`` SGD with momentum 0.9 (override with
    ``momentum=``), ``"adam"`` and ``"adamw"`` the torch defaults (AdamW: weight decay 0.01).
    Extra keywords go to the optimizer's constructor.
    """
    import torch

    key = name.lower().replace("-", "_") if isinstance(name, str) else name
    if key not in OPTIMIZERS:
        raise ConfigError(
            f"optimizer must be one of {', '.join(OPTIMIZERS)}, but got name={name!r}"
        )
    if not (isinstance(lr, int | float) and math.isfinite(lr) and lr >= 0):
        raise ConfigError(f"lr must be a finite number >= 0, but got lr={lr!r}")
    if key == "sgd":
        return torch.optim.SGD(params, lr=lr, **kw)
    if key == "sgd_momentum":
        kw.setdefault("momentum", 0.9)
        return torch.optim.SGD(params, lr=lr, **kw)
    if key == "adam":
        return torch.optim.Adam(params, lr=lr, **kw)
    return torch.optim.AdamW(params, lr=lr, **kw)
