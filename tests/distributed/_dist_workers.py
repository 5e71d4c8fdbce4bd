"""Rank bodies for the 2-process tests (run by ``_dist_harness.run_ranks``)."""

from __future__ import annotations

import hashlib
import math
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel as DDP

N, BATCH, FEATURES = 512, 64, 10
FINDER = {"start_lr": 1e-4, "end_lr": 10.0, "steps": 60, "smoothing": 0.9}


def data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(N, FEATURES, generator=g)
    w = torch.randn(FEATURES, 1, generator=g)
    return x, torch.tanh(x @ w) + 0.1 * torch.randn(N, 1, generator=g)


def model() -> torch.nn.Module:
    torch.manual_seed(1)
    return torch.nn.Sequential(
        torch.nn.Linear(FEATURES, 32), torch.nn.Tanh(), torch.nn.Linear(32, 1)
    )


def shard_batches(rank: int, world: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Global batches of ``BATCH`` rows, each cut into ``world`` equal shards; this rank's."""
    x, y = data()
    per = BATCH // world
    return [
        (x[i + rank * per : i + (rank + 1) * per], y[i + rank * per : i + (rank + 1) * per])
        for i in range(0, N, BATCH)
    ]


def checksum(module: torch.nn.Module) -> str:
    h = hashlib.sha256()
    for t in module.state_dict().values():
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


class FaultyLoss:
    """MSE that raises, or returns NaN, at call ``at`` on rank ``on``."""

    def __init__(self, rank: int, fault: str | None, at: int, on: int = 1) -> None:
        self.rank, self.fault, self.at, self.on, self.calls = rank, fault, at, on, 0

    def __call__(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        k, self.calls = self.calls, self.calls + 1
        loss = torch.nn.functional.mse_loss(out, y)
        if self.rank == self.on and k == self.at:
            if self.fault == "raise":
                raise RuntimeError(f"injected failure on rank {self.rank} at call {k}")
            if self.fault == "nan":
                return loss * math.nan
        return loss


def find_lr_single(**options: Any) -> dict[str, Any]:
    """The reference: one process on the union of the shards (the full batches)."""
    from lrkit.finder import find_lr

    torch.set_num_threads(1)
    net = model()
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    res = find_lr(
        net,
        shard_batches(0, 1),
        loss_fn=torch.nn.functional.mse_loss,
        optimizer=opt,
        **{**FINDER, **options},
    )
    return res.to_dict()


def find_lr_ddp(
    rank: int, world: int, fault: str | None = None, at: int = 5, **options: Any
) -> dict[str, Any]:
    from lrkit.finder import find_lr

    net = model()
    ddp = DDP(net)
    opt = torch.optim.SGD(ddp.parameters(), lr=0.01, momentum=0.9)
    before = checksum(net)
    out: dict[str, Any] = {"before": before}
    try:
        res = find_lr(
            ddp,
            shard_batches(rank, world),
            loss_fn=FaultyLoss(rank, fault, at),
            optimizer=opt,
            **{**FINDER, **options},
        )
        out["result"] = res.to_dict()
    except Exception as exc:
        out["error"] = (type(exc).__name__, [c.__name__ for c in type(exc).__mro__], str(exc))
    out["after"] = checksum(net)
    out["opt_state"] = len(opt.state)
    return out


def finder_scenarios(rank: int, world: int) -> dict[str, Any]:
    """Every finder scenario in one process group (spawning ranks is the slow part in CI)."""
    return {
        "plain": find_lr_ddp(rank, world),
        "nan": find_lr_ddp(rank, world, fault="nan", at=30),
        "raise": find_lr_ddp(rank, world, fault="raise", at=5),
        # the group is still usable after a rank failed at the agreement point
        "after": find_lr_ddp(rank, world, steps=20),
    }
