"""Collective decisions under ``torch.distributed``: one rule for the finder and the guards.

Where a process group is initialised (and has more than one rank), every decision lrkit takes
is taken together: each rank contributes what it saw (its loss, whether it failed or ran out of
data), one ``all_reduce`` gives every rank the same answer, and every rank acts on it at the
same step. Without a process group every helper is the identity and nothing is communicated.

This module imports no ML framework at import time: torch is looked up in ``sys.modules``
(a process group cannot exist unless torch was imported already).

A rank that fails *before* the agreement point (data loading, forward pass, loss) still joins
the agreement with its failure code, so its peers raise :class:`~lrkit.errors.LRKitError`
naming it instead of waiting forever in the next collective. A rank that dies *inside* another
collective (e.g. DDP's gradient all-reduce) cannot be helped from here: only the process
group's ``timeout`` (``init_process_group(..., timeout=...)``) ends its peers' wait.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from lrkit.errors import PeerFailure

__all__ = ["Agreement", "PeerFailure", "agree", "agreed_value", "is_active"]

T = TypeVar("T")

OK, STOP, ERROR = 0, 1, 2
_NAMES = {STOP: "ran out of data", ERROR: "raised an exception"}


def _dist() -> Any:
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    dist = getattr(torch, "distributed", None)
    if dist is None or not dist.is_available() or not dist.is_initialized():
        return None
    return dist


def is_active() -> bool:
    """Whether a ``torch.distributed`` process group with more than one rank is initialised."""
    dist = _dist()
    return dist is not None and dist.get_world_size() > 1


@dataclass(frozen=True)
class Agreement:
    """What every rank saw at one decision point, identical on every rank.

    Attributes:
        status: per rank, ``0`` ok, ``1`` ran out of data, ``2`` raised.
        mean: the mean over the ok ranks of their (weighted) values; NaN if any rank's value
            was not finite.
        max: the largest value over the ok ranks; NaN if any rank's value was not finite.
        nonfinite: how many ranks reported a non-finite value.
    """

    status: tuple[int, ...]
    mean: float
    max: float
    nonfinite: int

    @property
    def failed(self) -> list[int]:
        return [r for r, s in enumerate(self.status) if s == ERROR]

    @property
    def stopped(self) -> list[int]:
        return [r for r, s in enumerate(self.status) if s == STOP]

    def raise_for_peers(self, where: str) -> None:
        """Raise :class:`PeerFailure` if some rank failed (or ``StopIteration`` if one ran out)."""
        if self.failed:
            ranks = ", ".join(map(str, self.failed))
            raise PeerFailure(
                f"{where}: rank {ranks} {_NAMES[ERROR]}; every rank stops here (that rank's "
                "traceback has the cause)"
            )
        if self.stopped:
            raise StopIteration


def agree(value: float, *, weight: float = 1.0, status: int = OK, device: Any = None) -> Agreement:
    """One ``all_reduce`` of what this rank saw; every rank gets the same :class:`Agreement`.

    Without a process group it returns this rank's own view. ``device`` is where the
    collective's tensor lives (CPU for gloo; the current CUDA device for NCCL).
    """
    value = float(value)
    finite = math.isfinite(value)
    dist = _dist()
    if dist is None or dist.get_world_size() == 1:
        own = value if finite and status == OK else math.nan
        return Agreement((status,), own, own, int(status == OK and not finite))
    import torch

    rank, size = dist.get_rank(), dist.get_world_size()
    if device is None:
        device = _collective_device(dist)
    ok = status == OK and finite
    # [status per rank..., weighted sum, weight, non-finite count] summed; then the max apart
    # (one more small collective; a sum cannot carry it)
    buf = torch.zeros(size + 3, dtype=torch.float64, device=device)
    buf[rank] = float(status)
    if ok:
        buf[size] = value * weight
        buf[size + 1] = weight
    elif status == OK:
        buf[size + 2] = 1.0
    peak = torch.tensor([value if ok else -math.inf], dtype=torch.float64, device=device)
    dist.all_reduce(buf, op=dist.ReduceOp.SUM)
    dist.all_reduce(peak, op=dist.ReduceOp.MAX)
    out = buf.cpu().tolist()
    codes = tuple(round(c) for c in out[:size])
    nonfinite = round(out[size + 2])
    total, weights = out[size], out[size + 1]
    if nonfinite or weights <= 0:
        mean = mx = math.nan
    else:
        mean, mx = total / weights, float(peak.item())
    return Agreement(codes, mean, mx, nonfinite)


def _collective_device(dist: Any) -> Any:
    import torch

    if dist.get_backend() == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def agreed_value(fn: Callable[[], tuple[T, float]], where: str) -> tuple[T, float]:
    """Run ``fn() -> (obj, value)`` on this rank, then agree: ``(obj, mean value over ranks)``.

    Without a process group this is ``fn()``. Under one, a rank whose ``fn`` raises tells its
    peers before re-raising (they raise :class:`PeerFailure`), a rank whose data ran out
    (``StopIteration``) makes every rank stop, and the value is the mean over the ranks (NaN
    when any rank's value is not finite).
    """
    if not is_active():
        return fn()
    try:
        obj, value = fn()
    except StopIteration:
        agree(math.nan, status=STOP)
        raise
    except BaseException:
        agree(math.nan, status=ERROR)
        raise
    got = agree(value)
    got.raise_for_peers(where)
    return obj, got.mean
