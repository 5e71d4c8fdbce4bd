"""Schedule-free optimizers (Defazio et al. 2024, the ``schedulefree`` package) in trainers.

They train at one point ``y`` and evaluate at another, the average ``x``: ``optimizer.eval()``
moves the parameters to ``x``, ``optimizer.train()`` back to ``y``. Validation and checkpoints
must see ``x`` (Lightning #20441, schedule_free #48). :func:`evaluation_weights` switches for a
block and puts the training weights back *bit for bit* (``train()`` recomputes ``y`` from
``x`` in floating point; the copy avoids the rounding drift).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch

__all__ = ["evaluation_weights", "in_train_mode", "is_schedule_free"]


def is_schedule_free(optimizer: Any) -> bool:
    """An optimizer with the schedule-free ``train()``/``eval()`` switch (``schedulefree``'s
    ``AdamWScheduleFree``, ``SGDScheduleFree``, ``RAdamScheduleFree``, their wrappers, or
    anything else with the same protocol: callable ``train``/``eval`` and a ``train_mode``
    flag in its param groups)."""
    inner = getattr(optimizer, "optimizer", optimizer)  # accelerate / Lightning wrappers
    return (
        callable(getattr(inner, "eval", None))
        and callable(getattr(inner, "train", None))
        and any("train_mode" in g for g in getattr(inner, "param_groups", []))
    )


def in_train_mode(optimizer: Any) -> bool:
    inner = getattr(optimizer, "optimizer", optimizer)
    return any(g.get("train_mode", False) for g in inner.param_groups)


@contextlib.contextmanager
def evaluation_weights(optimizers: list[Any]) -> Iterator[None]:
    """Inside the block every schedule-free optimizer in train mode is in eval mode (the
    parameters hold ``x``); afterwards train mode and the exact training weights are back."""
    switched = [
        getattr(o, "optimizer", o) for o in optimizers if is_schedule_free(o) and in_train_mode(o)
    ]
    saved = [
        [(p, p.detach().clone()) for g in opt.param_groups for p in g["params"]] for opt in switched
    ]
    for opt in switched:
        opt.eval()
    try:
        yield
    finally:
        for opt, params in zip(switched, saved, strict=True):
            opt.train()
            with torch.no_grad():
                for p, value in params:
                    p.copy_(value)
