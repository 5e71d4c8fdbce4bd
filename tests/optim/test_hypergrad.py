"""HDSGD / HDAdam against the update rules of Baydin et al. (ICLR 2018), computed by hand in float64."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lrkit.errors import ConfigError
from lrkit.optim import HDSGD, HDAdam

# f(θ) = ½ θᵀAθ − bᵀθ, gradient Aθ − b: a non-trivial, exactly known gradient sequence.
A = np.array([[3.0, 0.5, 0.0], [0.5, 2.0, 0.3], [0.0, 0.3, 1.0]])
B = np.array([1.0, -2.0, 0.5])
THETA0 = np.array([0.7, -0.4, 1.3])


def _grad(theta: np.ndarray) -> np.ndarray:
    return A @ theta - B


def _run_torch(opt_factory, steps: int) -> tuple[np.ndarray, list[float]]:
    theta = torch.tensor(THETA0, dtype=torch.float64, requires_grad=True)
    opt = opt_factory([theta])
    At, Bt = torch.tensor(A), torch.tensor(B)
    lrs = []
    for _ in range(steps):
        opt.zero_grad()
        loss = 0.5 * theta @ At @ theta - Bt @ theta
        loss.backward()
        opt.step()
        lrs.append(opt.param_groups[0]["lr"])
    return theta.detach().numpy(), lrs


def test_hdsgd_matches_paper_rule() -> None:
    alpha, beta = 0.05, 0.01
    # by hand: α_t = α_{t-1} + β g_t·g_{t-1}, θ_t = θ_{t-1} − α_t g_t, with g_0 = 0
    theta, prev, lrs = THETA0.copy(), np.zeros(3), []
    for _ in range(4):
        g = _grad(theta)
        alpha = alpha + beta * float(g @ prev)
        theta = theta - alpha * g
        prev = g
        lrs.append(alpha)
    got, got_lrs = _run_torch(lambda p: HDSGD(p, lr=0.05, hypergrad_lr=0.01), 4)
    np.testing.assert_allclose(got, theta, rtol=0, atol=1e-14)
    np.testing.assert_allclose(got_lrs, lrs, rtol=1e-14)
    assert got_lrs[0] == 0.05  # first step: no previous direction, no change
    assert got_lrs[1] != got_lrs[0]


def test_hdsgd_one_step_by_hand() -> None:
    # two steps from θ0, written out: g1 = Aθ0 − b; θ1 = θ0 − α g1; g2 = Aθ1 − b;
    # α2 = α + β g2·g1; θ2 = θ1 − α2 g2
    alpha, beta = 0.1, 0.02
    g1 = A @ THETA0 - B
    th1 = THETA0 - alpha * g1
    g2 = A @ th1 - B
    a2 = alpha + beta * float(np.dot(g2, g1))
    th2 = th1 - a2 * g2
    got, lrs = _run_torch(lambda p: HDSGD(p, lr=alpha, hypergrad_lr=beta), 2)
    np.testing.assert_allclose(got, th2, atol=1e-15)
    assert lrs[1] == pytest.approx(a2, rel=1e-15)


@pytest.mark.parametrize("nesterov", [False, True])
def test_hdsgd_momentum_rule(nesterov: bool) -> None:
    alpha, beta, mu = 0.05, 0.01, 0.9
    theta, v, prev_d = THETA0.copy(), None, np.zeros(3)
    for _ in range(5):
        g = _grad(theta)
        alpha = alpha + beta * float(g @ prev_d)
        v = g.copy() if v is None else mu * v + g
        d = g + mu * v if nesterov else v.copy()
        theta = theta - alpha * d
        prev_d = d
    got, lrs = _run_torch(
        lambda p: HDSGD(p, lr=0.05, hypergrad_lr=0.01, momentum=mu, nesterov=nesterov), 5
    )
    np.testing.assert_allclose(got, theta, atol=1e-14)
    assert lrs[-1] == pytest.approx(alpha, rel=1e-13)


def test_hdadam_matches_paper_rule() -> None:
    alpha, beta, b1, b2, eps = 0.01, 1e-3, 0.9, 0.999, 1e-8
    theta, m, v, prev_dir, lrs = THETA0.copy(), np.zeros(3), np.zeros(3), np.zeros(3), []
    for t in range(1, 5):
        g = _grad(theta)
        h = -float(g @ prev_dir)  # h_t = g_t · ∇_α u_{t-1}, ∇_α u_{t-1} = −direction
        alpha = alpha - beta * h
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        direction = (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
        theta = theta - alpha * direction
        prev_dir = direction
        lrs.append(alpha)
    got, got_lrs = _run_torch(lambda p: HDAdam(p, lr=0.01, hypergrad_lr=1e-3), 4)
    np.testing.assert_allclose(got, theta, atol=1e-14)
    np.testing.assert_allclose(got_lrs, lrs, rtol=1e-13)
    assert got_lrs[0] == 0.01 and got_lrs[-1] != 0.01


def test_zero_hypergrad_lr_is_plain_optimizer() -> None:
    torch.manual_seed(0)
    w0 = torch.randn(5, 3, dtype=torch.float64)
    x = torch.randn(8, 5, dtype=torch.float64)

    def run(make):
        w = w0.clone().requires_grad_(True)
        opt = make([w])
        for _ in range(3):
            opt.zero_grad()
            (x @ w).pow(2).sum().backward()
            opt.step()
        return w.detach()

    torch.testing.assert_close(
        run(lambda p: HDAdam(p, lr=1e-2, hypergrad_lr=0.0, weight_decay=0.1)),
        run(lambda p: torch.optim.Adam(p, lr=1e-2, weight_decay=0.1)),
    )
    torch.testing.assert_close(
        run(lambda p: HDSGD(p, lr=1e-3, hypergrad_lr=0.0, momentum=0.9)),
        run(lambda p: torch.optim.SGD(p, lr=1e-3, momentum=0.9)),
    )


def test_lr_grows_when_too_small_and_state_roundtrips() -> None:
    # on a quadratic with a tiny LR consecutive gradients align, so the LR must grow
    theta = torch.tensor(THETA0, requires_grad=True)
    opt = HDSGD([theta], lr=1e-4, hypergrad_lr=1e-2)
    At, Bt = torch.tensor(A, dtype=theta.dtype), torch.tensor(B, dtype=theta.dtype)
    for _ in range(20):
        opt.zero_grad()
        (0.5 * theta @ At @ theta - Bt @ theta).backward()
        opt.step()
    assert opt.lr > 1e-3 and opt.lrs == [opt.lr]
    assert opt.param_groups[0]["hypergrad"] > 0
    fresh = HDSGD([theta], lr=1.0)
    fresh.load_state_dict(opt.state_dict())
    assert fresh.lr == opt.lr


def test_per_group_lrs() -> None:
    a = torch.tensor([1.0, 2.0], requires_grad=True)
    b = torch.tensor([3.0], requires_grad=True)
    opt = HDAdam([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1, hypergrad_lr=1e-2)
    for _ in range(3):
        opt.zero_grad()
        (a.pow(2).sum() + b.pow(2).sum()).backward()
        opt.step()
    assert len(opt.lrs) == 2 and opt.lrs[0] != 0.1 and opt.lrs[1] != 0.5


@pytest.mark.parametrize(
    ("kwargs", "arg"),
    [
        ({"lr": -1.0}, "lr"),
        ({"hypergrad_lr": float("nan")}, "hypergrad_lr"),
        ({"momentum": 1.0}, "momentum"),
    ],
)
def test_invalid_arguments(kwargs: dict, arg: str) -> None:
    with pytest.raises(ConfigError, match=arg):
        HDSGD([torch.zeros(1, requires_grad=True)], **kwargs)
    with pytest.raises(ConfigError, match="nesterov"):
        HDSGD([torch.zeros(1, requires_grad=True)], momentum=0.0, nesterov=True)
    with pytest.raises(ConfigError, match="betas"):
        HDAdam([torch.zeros(1, requires_grad=True)], betas=(0.9, 1.5))


def test_hdsgd_multiplicative_rule() -> None:
    # by hand: α_t = α_{t-1} (1 + β cos(g_t, g_{t-1})), θ_t = θ_{t-1} − α_t g_t
    alpha, beta = 0.05, 0.1
    theta, prev, lrs = THETA0.copy(), None, []
    for _ in range(5):
        g = _grad(theta)
        if prev is not None:
            alpha *= 1 + beta * float(g @ prev) / (np.linalg.norm(g) * np.linalg.norm(prev))
        theta = theta - alpha * g
        prev = g
        lrs.append(alpha)
    got, got_lrs = _run_torch(
        lambda p: HDSGD(p, lr=0.05, hypergrad_lr=beta, rule="multiplicative"), 5
    )
    np.testing.assert_allclose(got, theta, rtol=0, atol=1e-14)
    np.testing.assert_allclose(got_lrs, lrs, rtol=1e-13)
    assert len(set(got_lrs)) == 5


def test_hdadam_multiplicative_rule_and_default() -> None:
    b1, b2, eps, beta = 0.9, 0.999, 1e-8, 0.05
    alpha, theta = 0.01, THETA0.copy()
    m, v, prev, lrs = np.zeros(3), np.zeros(3), None, []
    for t in range(1, 5):
        g = _grad(theta)
        if prev is not None:
            alpha *= 1 + beta * float(g @ prev) / (np.linalg.norm(g) * np.linalg.norm(prev))
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        d = (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
        theta = theta - alpha * d
        prev = d
        lrs.append(alpha)
    # hypergrad_lr left out: the multiplicative rule's default (0.05) is used
    got, got_lrs = _run_torch(lambda p: HDAdam(p, lr=0.01, rule="multiplicative"), 4)
    np.testing.assert_allclose(got, theta, rtol=0, atol=1e-13)
    np.testing.assert_allclose(got_lrs, lrs, rtol=1e-12)


def test_multiplicative_rule_is_scale_free() -> None:
    """Scaling the loss by 1000 leaves the multiplicative LR path unchanged (not so additive)."""

    def lrs(rule: str, scale: float) -> list[float]:
        theta = torch.tensor(THETA0, dtype=torch.float64, requires_grad=True)
        opt = HDAdam([theta], lr=0.01, hypergrad_lr=0.05 if rule == "multiplicative" else 1e-3,
                     rule=rule)  # fmt: skip
        At, Bt = torch.tensor(A), torch.tensor(B)
        out = []
        for _ in range(6):
            opt.zero_grad()
            (scale * (0.5 * theta @ At @ theta - Bt @ theta)).backward()
            opt.step()
            out.append(opt.lr)
        return out

    np.testing.assert_allclose(lrs("multiplicative", 1.0), lrs("multiplicative", 1e3), rtol=1e-6)
    assert not np.allclose(lrs("additive", 1.0), lrs("additive", 1e3), rtol=1e-3)


@pytest.mark.parametrize(
    ("kwargs", "arg"),
    [
        ({"rule": "exponential"}, "rule"),
        ({"rule": "multiplicative", "hypergrad_lr": 1.0}, "hypergrad_lr"),
        ({"rule": "multiplicative", "hypergrad_lr": -0.1}, "hypergrad_lr"),
    ],
)
def test_invalid_rule_arguments(kwargs: dict, arg: str) -> None:
    for cls in (HDSGD, HDAdam):
        with pytest.raises(ConfigError, match=arg):
            cls([torch.zeros(1, requires_grad=True)], **kwargs)


@pytest.mark.parametrize(
    ("cls", "kwargs", "message"),
    [
        (HDSGD, {"lr": -1.0}, "HDSGD: lr must be >= 0, but got lr=-1.0"),
        (HDSGD, {"nesterov": "yes", "momentum": 0.9}, "HDSGD: nesterov must be True or False"),
        (HDAdam, {"eps": -1e-8}, "HDAdam: eps must be >= 0, but got eps=-1e-08"),
        (HDAdam, {"betas": (0.9, 1.0)}, r"HDAdam: betas\[1\] must be < 1"),
        (HDAdam, {"weight_decay": float("inf")}, "HDAdam: weight_decay must be finite"),
    ],
)
def test_errors_name_the_optimizer_argument_and_value(
    cls: type, kwargs: dict, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        cls([torch.zeros(1, requires_grad=True)], **kwargs)
