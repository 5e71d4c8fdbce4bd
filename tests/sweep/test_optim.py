"""The flat optimizer: fused and plain Adam paths agree; per-copy LRs are independent."""

from __future__ import annotations

import pytest
import torch

from lrkit.sweep._optim import FlatOptimizer


@pytest.mark.parametrize("kind", ["adam", "adamw"])
def test_fused_and_plain_adam_agree(kind: str) -> None:
    torch.manual_seed(0)
    p0 = torch.randn(3, 50, dtype=torch.float64)
    lr = torch.tensor([[1e-3], [1e-2], [1e-1]], dtype=torch.float64)
    fused = FlatOptimizer(kind, p0, weight_decay=0.1, fused=True)
    plain = FlatOptimizer(kind, p0, weight_decay=0.1, fused=False)
    pa, pb = p0.clone(), p0.clone()
    for _ in range(10):
        g = torch.randn(3, 50, dtype=torch.float64)
        fused.step(pa, g.clone(), lr)
        plain.step(pb, g.clone(), lr)
    assert fused._fused and not plain._fused
    torch.testing.assert_close(pa, pb, rtol=0, atol=1e-13)
    assert not torch.allclose(pa[0], pb[2])


def test_sgd_row_with_zero_lr_does_not_move() -> None:
    p = torch.randn(2, 5, dtype=torch.float64)
    before = p.clone()
    opt = FlatOptimizer("sgd_momentum", p)
    opt.step(p, torch.ones(2, 5, dtype=torch.float64), torch.tensor([[0.0], [0.5]]).double())
    assert torch.equal(p[0], before[0]) and torch.allclose(p[1], before[1] - 0.5)
