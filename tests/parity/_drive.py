"""Drive a real optimizer for N updates and record the LR each update runs at."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from lrkit.integrations.torch import Scheduler
from lrkit.schedules import Schedule


def make_optimizer(kind: str, lr: float) -> torch.optim.Optimizer:
    w = torch.nn.Parameter(torch.ones(3, dtype=torch.float64))
    if kind == "sgd":
        return torch.optim.SGD([w], lr=lr)
    if kind == "sgd_momentum":
        return torch.optim.SGD([w], lr=lr, momentum=0.9)
    if kind == "adam":
        return torch.optim.Adam([w], lr=lr)
    raise ValueError(kind)


def record(opt: torch.optim.Optimizer, sched: Any, n: int) -> np.ndarray:
    """The LR of updates 0..n-1: ``param_groups[0]["lr"]`` read just before ``opt.step()``."""
    (w,) = opt.param_groups[0]["params"]
    lrs = []
    for _ in range(n):
        lrs.append(float(opt.param_groups[0]["lr"]))
        opt.zero_grad()
        (w * w).sum().backward()
        opt.step()
        sched.step()
    return np.asarray(lrs)


def torch_lrs(
    build: Callable[[torch.optim.Optimizer], Any], n: int, *, kind: str = "sgd", lr: float = 1.0
) -> np.ndarray:
    opt = make_optimizer(kind, lr)
    return record(opt, build(opt), n)


def lrkit_lrs(schedule: Schedule, n: int, *, kind: str = "sgd", lr: float = 1.0) -> np.ndarray:
    opt = make_optimizer(kind, lr)
    return record(opt, Scheduler(opt, schedule), n)
