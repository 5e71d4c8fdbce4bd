"""Build an optimizer by name: torch's, lrkit's hypergradient ones, and LR-free packages."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
from collections.abc import Iterable, Iterator
from typing import Any

from lrkit._validate import check_choice, check_float
from lrkit.errors import ConfigError, DependencyError

__all__ = ["OPTIMIZERS", "available", "effective_lr", "evaluating", "make"]

#: Names understood by :func:`make`.
OPTIMIZERS: tuple[str, ...] = (
    "sgd",
    "sgd_momentum",
    "adam",
    "adamw",
    "hdsgd",
    "hdadam",
    "schedulefree_adamw",
    "prodigy",
    "dadapt_adam",
)

# name -> (module, class, pip package). These methods are used from their maintained
# packages, never re-implemented.
_EXTERNAL: dict[str, tuple[str, str, str]] = {
    "schedulefree_adamw": ("schedulefree", "AdamWScheduleFree", "schedulefree"),
    "prodigy": ("prodigyopt", "Prodigy", "prodigyopt"),
    "dadapt_adam": ("dadaptation", "DAdaptAdam", "dadaptation"),
}
_ALIASES = {"adamw_schedulefree": "schedulefree_adamw", "dadaptadam": "dadapt_adam"}


def _key(name: Any) -> str:
    if not isinstance(name, str):
        raise ConfigError(f"optimizer name must be a string, but got name={name!r}")
    key = name.strip().lower().replace("-", "_")
    return check_choice("optimizer", "name", _ALIASES.get(key, key), OPTIMIZERS)


def _external_class(key: str) -> Any:
    module, cls, package = _EXTERNAL[key]
    try:
        return getattr(importlib.import_module(module), cls)
    except ImportError as exc:
        raise DependencyError(
            f"optimizer {key!r} needs the {package} package: pip install {package} "
            "(or pip install 'lrkit[lrfree]')"
        ) from exc


def available() -> dict[str, bool]:
    """Every name of :func:`make` and whether it can be built here (package installed).

    >>> available()["adam"]
    True
    """
    out = {}
    for key in OPTIMIZERS:
        if key in _EXTERNAL:
            out[key] = importlib.util.find_spec(_EXTERNAL[key][0]) is not None
        else:
            out[key] = True
    return out


def make(name: str, params: Iterable[Any], lr: float, **kw: Any) -> Any:
    """Return the optimizer called ``name`` over ``params`` (tensors or param-group dicts).

    - ``"sgd"``, ``"adam"``, ``"adamw"``: torch's defaults; ``"sgd_momentum"``: SGD with
      momentum 0.9 (override with ``momentum=``).
    - ``"hdsgd"``, ``"hdadam"``: :class:`HDSGD` / :class:`HDAdam`, whose ``lr`` is the
      initial LR (pass ``hypergrad_lr=`` to set β).
    - ``"schedulefree_adamw"`` (Defazio et al. 2024, ``schedulefree``), ``"prodigy"``
      (Mishchenko & Defazio 2024, ``prodigyopt``), ``"dadapt_adam"`` (Defazio & Mishchenko
      2023, ``dadaptation``): optional packages; a missing one raises
      :class:`~lrkit.errors.DependencyError` with the ``pip install`` line. For Prodigy and
      D-Adaptation ``lr`` multiplies the estimated step size: leave it at 1.0. Schedule-free
      optimizers keep two sequences of weights: call ``optimizer.train()`` before training
      steps and ``optimizer.eval()`` before evaluating or saving (see :func:`evaluating`).

    Extra keywords go to the optimizer's constructor.
    """
    key = _key(name)
    lr = check_float("make", "lr", lr, low=0.0)
    if key in _EXTERNAL:
        cls = _external_class(key)
        optimizer = cls(params, lr=lr, **kw)
        if key == "schedulefree_adamw":
            optimizer.train()  # schedule-free optimizers start in neither mode
        return optimizer
    import torch

    if key == "sgd":
        return torch.optim.SGD(params, lr=lr, **kw)
    if key == "sgd_momentum":
        kw.setdefault("momentum", 0.9)
        return torch.optim.SGD(params, lr=lr, **kw)
    if key == "adam":
        return torch.optim.Adam(params, lr=lr, **kw)
    if key == "adamw":
        return torch.optim.AdamW(params, lr=lr, **kw)
    from lrkit.optim._hypergrad import HDSGD, HDAdam

    if key == "hdsgd":
        return HDSGD(params, lr=lr, **kw)
    return HDAdam(params, lr=lr, **kw)


@contextlib.contextmanager
def evaluating(optimizer: Any) -> Iterator[Any]:
    """Put a schedule-free optimizer in eval mode inside the block, back to train mode after.

    Schedule-free methods evaluate at an average of the iterates, which ``optimizer.eval()``
    swaps into the model; other optimizers have no ``eval`` and pass through unchanged::

        with evaluating(opt):
            val_loss = evaluate(model)
    """
    switch = callable(getattr(optimizer, "eval", None)) and callable(
        getattr(optimizer, "train", None)
    )
    if switch:
        optimizer.eval()
    try:
        yield optimizer
    finally:
        if switch:
            optimizer.train()


def effective_lr(optimizer: Any) -> list[float]:
    """The step size each param group uses now: ``d * lr`` for Prodigy and D-Adaptation
    (which estimate ``d``), the learned LR for hypergradient optimizers, else ``lr``."""
    out = []
    for group in optimizer.param_groups:
        lr = group["lr"]
        lr = float(lr.item()) if hasattr(lr, "item") else float(lr)
        out.append(lr * float(group["d"]) if "d" in group else lr)
    return out
