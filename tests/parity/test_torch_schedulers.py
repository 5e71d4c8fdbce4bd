"""Parity with the real ``torch.optim.lr_scheduler`` classes.

PyTorch's schedulers are mostly *chainable*: each LR is computed from the previous
``group["lr"]`` (StepLR multiplies by gamma again and again, CosineAnnealingLR applies a
ratio of cosines), so rounding accumulates over the steps; lrkit evaluates one closed form.
The two agree to ``rtol=1e-9`` (observed: ~1e-14), not bit for bit. lrkit's own ``Scheduler``
driving the same optimizer must give ``s(np.arange(N))`` exactly.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from torch.optim import lr_scheduler as L

from lrkit import schedules as S

from ._drive import lrkit_lrs, torch_lrs

RTOL = 1e-9  # chainable PyTorch forms accumulate rounding over the steps (see module docstring)
ATOL = 1e-300  # exact zeros (end of cosine/polynomial) on both sides

# (id, torch scheduler builder, lrkit schedule, number of updates, optimizer kind, optimizer lr)
Case = tuple[str, Callable[[torch.optim.Optimizer], Any], S.Schedule, int, str, float]
CASES: list[Case] = []


def case(
    cid: str,
    build: Callable[[torch.optim.Optimizer], Any],
    schedule: S.Schedule,
    n: int,
    kind: str = "sgd",
    lr: float = 0.1,
) -> None:
    CASES.append((cid, build, schedule, n, kind, lr))


for lr, step_size, gamma in [
    (0.1, 1, 0.1),
    (0.1, 3, 0.5),
    (0.3, 7, 0.9),
    (1.0, 1, 0.99),
    (0.05, 10, 2.0),
]:
    case(
        f"StepLR-{step_size}-{gamma}",
        lambda o, s=step_size, g=gamma: L.StepLR(o, step_size=s, gamma=g),
        S.step_decay(lr, step_size=step_size, gamma=gamma),
        45,
        lr=lr,
    )

for milestones, gamma in [
    ([30, 60], 0.1),
    ([0], 0.5),
    ([0, 3, 3, 10], 0.5),
    ([5, 5], 0.1),
    ([1, 2, 3], 0.7),
    ([], 0.1),
]:
    case(
        f"MultiStepLR-{milestones}-{gamma}",
        lambda o, m=milestones, g=gamma: L.MultiStepLR(o, milestones=m, gamma=g),
        S.multistep(0.1, milestones=milestones, gamma=gamma),
        75,
    )

for gamma in [0.9, 0.99, 0.5, 1.0]:
    case(
        f"ExponentialLR-{gamma}",
        lambda o, g=gamma: L.ExponentialLR(o, gamma=g),
        S.exponential(0.1, rate=gamma),
        60,
    )

for sf, ef, total in [
    (1 / 3, 1.0, 5),
    (1.0, 0.1, 10),
    (0.5, 0.5, 3),
    (0.1, 1.0, 1),
    (0.25, 0.75, 11),
]:
    case(
        f"LinearLR-{sf:.3f}-{ef}-{total}",
        lambda o, a=sf, b=ef, t=total: L.LinearLR(o, start_factor=a, end_factor=b, total_iters=t),
        S.linear(0.1 * sf, end=0.1 * ef, steps=total),
        total + 10,
    )

for total, power in [(5, 1.0), (10, 2.0), (7, 0.5), (1, 1.0), (33, 3.0)]:
    case(
        f"PolynomialLR-{total}-{power}",
        lambda o, t=total, p=power: L.PolynomialLR(o, total_iters=t, power=p),
        S.polynomial(0.1, steps=total, power=power),
        total + 10,
    )

for t_max, eta_min in [(10, 0.0), (50, 0.001), (1, 0.0), (7, 0.05), (200, 1e-5), (2, 0.01)]:
    case(
        f"CosineAnnealingLR-{t_max}-{eta_min}",
        lambda o, t=t_max, e=eta_min: L.CosineAnnealingLR(o, T_max=t, eta_min=e),
        S.cosine(0.1, steps=t_max, min_lr=eta_min),
        t_max + 1,  # PyTorch's cosine is periodic beyond T_max, lrkit's is held: compare up to it
    )

for t0, t_mult, eta_min in [
    (1, 1, 0.0),
    (3, 2, 0.01),
    (2, 3, 0.0),
    (10, 1, 0.001),
    (1, 2, 0.0),
    (5, 4, 0.02),
]:
    case(
        f"CosineAnnealingWarmRestarts-{t0}-{t_mult}-{eta_min}",
        lambda o, a=t0, b=t_mult, e=eta_min: L.CosineAnnealingWarmRestarts(
            o, T_0=a, T_mult=b, eta_min=e
        ),
        S.cosine_restarts(0.1, period=t0, mult=float(t_mult), min_lr=eta_min),
        150,
    )

for base, top, up, down, mode, gamma in [
    (0.01, 0.1, 2, None, "triangular", 1.0),
    (0.01, 0.1, 1, 1, "triangular", 1.0),
    (0.001, 0.006, 5, 3, "triangular", 1.0),
    (0.01, 0.1, 3, None, "triangular2", 1.0),
    (0.01, 0.1, 1, 2, "triangular2", 1.0),
    (0.01, 0.1, 4, None, "exp_range", 0.99),
    (0.001, 0.1, 1, 5, "exp_range", 0.9),
    (0.05, 0.05, 3, None, "triangular", 1.0),
]:
    for momentum in (False, True):
        case(
            f"CyclicLR-{mode}-{up}-{down}-{gamma}-momentum={momentum}",
            lambda o, b=base, t=top, u=up, d=down, m=mode, g=gamma, cm=momentum: L.CyclicLR(
                o, b, t, step_size_up=u, step_size_down=d, mode=m, gamma=g, cycle_momentum=cm
            ),
            S.cyclic(
                base, max_lr=top, step_size_up=up, step_size_down=down, mode=mode, gamma=gamma
            ),
            61,
            kind="sgd_momentum" if momentum else "sgd",
        )

for max_lr, total, pct, anneal, three, div, fdiv, kind in [
    (0.1, 100, 0.3, "cos", False, 25.0, 1e4, "sgd_momentum"),
    (0.1, 101, 0.25, "linear", True, 25.0, 1e4, "sgd_momentum"),
    (1.0, 10, 0.5, "linear", False, 10.0, 100.0, "sgd_momentum"),
    (0.01, 3, 0.99, "cos", False, 25.0, 1e4, "adam"),
    (0.1, 100, 0.011, "cos", False, 25.0, 1e4, "adam"),
    (0.1, 100, 0.49, "cos", True, 5.0, 1e3, "adam"),
    (0.1, 7, 0.3, "linear", False, 25.0, 1e4, "sgd_momentum"),
    (0.3, 33, 0.1, "cos", True, 25.0, 1e4, "sgd_momentum"),
    (0.1, 2, 0.75, "cos", False, 25.0, 1e4, "adam"),
]:
    case(
        f"OneCycleLR-{max_lr}-{total}-{pct}-{anneal}-three={three}",
        lambda o, m=max_lr, t=total, p=pct, a=anneal, th=three, d=div, f=fdiv: L.OneCycleLR(
            o,
            m,
            total_steps=t,
            pct_start=p,
            anneal_strategy=a,
            three_phase=th,
            div_factor=d,
            final_div_factor=f,
        ),
        S.one_cycle(
            max_lr,
            steps=total,
            pct_start=pct,
            div_factor=div,
            final_div_factor=fdiv,
            anneal=anneal,
            three_phase=three,
        ),
        total,  # PyTorch raises past total_steps
        kind=kind,
    )


@pytest.mark.parametrize(
    ("build", "schedule", "n", "kind", "lr"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_torch_parity(
    build: Callable[[torch.optim.Optimizer], Any],
    schedule: S.Schedule,
    n: int,
    kind: str,
    lr: float,
) -> None:
    expected = schedule(np.arange(n))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = torch_lrs(build, n, kind=kind, lr=lr)
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL)
    # lrkit's adapter on the same optimizer class: exact, it evaluates the closed form
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = lrkit_lrs(schedule, n, kind=kind, lr=lr)
    np.testing.assert_array_equal(ours, expected)


def test_torch_cosine_is_periodic_lrkit_clamps() -> None:
    # the documented difference: past T_max PyTorch rises again, lrkit holds min_lr
    n = 25
    got = torch_lrs(lambda o: L.CosineAnnealingLR(o, T_max=10), n, lr=0.1)
    s = S.cosine(0.1, steps=10)
    assert got[15] > 0.01 and s(15) == 0.0
