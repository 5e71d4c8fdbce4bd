"""Hypergradient descent: SGD and Adam that learn their own LR online (Baydin et al., ICLR 2018)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import torch

from lrkit._validate import check_bool, check_choice, check_float
from lrkit.errors import ConfigError

__all__ = ["HDSGD", "HDAdam"]


def _check(where: str, name: str, value: Any, high: float | None = None) -> float:
    """A finite float >= 0 (and < ``high`` when given)."""
    return check_float(where, name, value, low=0.0, high=high, high_open=True)


#: hyper-LR of the multiplicative rule when none is given: the LR may change by at most 5%
#: a step, so a 100x too-low LR can be made up in a few hundred aligned steps (measured on
#: digits-mlp and mnist1d-mlp, where 0.02 was too slow and 0.1 no better; benchmarks/scaling.py).
MULTIPLICATIVE_HYPERGRAD_LR = 0.05


def _hyper_lr(where: str, rule: Any, hypergrad_lr: Any, *, additive_default: float) -> float:
    check_choice(where, "rule", rule, ("additive", "multiplicative"))
    if hypergrad_lr is None:
        return MULTIPLICATIVE_HYPERGRAD_LR if rule == "multiplicative" else additive_default
    # multiplicative: 1 + beta * cos must stay positive, so beta < 1
    return _check(where, "hypergrad_lr", hypergrad_lr, 1.0 if rule == "multiplicative" else None)


def _defaults(
    where: str, lr: Any, rule: Any, hypergrad_lr: Any, weight_decay: Any, *, additive_default: float
) -> dict[str, Any]:
    """The param-group defaults both optimizers share, checked."""
    return {
        "lr": _check(where, "lr", lr),
        "hypergrad_lr": _hyper_lr(where, rule, hypergrad_lr, additive_default=additive_default),
        "rule": rule,
        "weight_decay": _check(where, "weight_decay", weight_decay),
        "hypergrad": 0.0,
    }


class _HDBase(torch.optim.Optimizer):
    """Shared helpers: the current LR and the last hypergradient of every group."""

    @property
    def lr(self) -> float:
        """The LR of the first param group, as learned so far (``param_groups[i]["lr"]``)."""
        return float(self.param_groups[0]["lr"])

    @property
    def lrs(self) -> list[float]:
        """The current LR of every param group."""
        return [float(g["lr"]) for g in self.param_groups]

    @staticmethod
    def _grad(p: torch.Tensor, weight_decay: float) -> torch.Tensor:
        assert p.grad is not None
        if p.grad.is_sparse:
            raise ConfigError("hypergradient optimizers do not support sparse gradients")
        return p.grad if weight_decay == 0 else p.grad.add(p, alpha=weight_decay)

    def _direction(self, group: dict[str, Any], p: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        """The base optimizer's update direction for ``p`` (the step is ``-lr * direction``)."""
        raise NotImplementedError

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        """One update: adapt the LR from the hypergradient, then step along the direction.

        The hypergradient of every group is the dot product of the current gradient with the
        previous update direction (Baydin et al. 2018, Eq. 3 for SGD, Alg. 2 for Adam, where
        the direction already carries the minus sign of ``-h_t``). With
        ``rule="multiplicative"`` the LR is instead multiplied by ``1 + beta * cos``, the cosine
        between the gradient and the previous direction (the normalised multiplicative rule of
        the same paper), so its changes are relative and do not depend on the gradient's scale.
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            grads = [self._grad(p, group["weight_decay"]) for p in params]
            dev = params[0].device
            dot = torch.zeros((), dtype=torch.float64, device=dev)
            gg = torch.zeros((), dtype=torch.float64, device=dev)
            dd = torch.zeros((), dtype=torch.float64, device=dev)
            multiplicative = group.get("rule", "additive") == "multiplicative"
            for p, g in zip(params, grads):
                prev = self.state[p].get("direction")
                if prev is not None:
                    dot += torch.sum(g * prev).to(torch.float64)
                    if multiplicative:
                        gg += torch.sum(g * g).to(torch.float64)
                        dd += torch.sum(prev * prev).to(torch.float64)
            hypergrad = float(dot)
            lr = float(group["lr"])
            if multiplicative:
                norm = math.sqrt(float(gg) * float(dd))
                if norm > 0 and math.isfinite(norm):
                    lr *= 1.0 + group["hypergrad_lr"] * hypergrad / norm
            else:
                lr += group["hypergrad_lr"] * hypergrad
            group["lr"], group["hypergrad"] = lr, hypergrad
            for p, g in zip(params, grads):
                direction = self._direction(group, p, g)
                p.add_(direction, alpha=-lr)
                self.state[p]["direction"] = direction
        return loss


class HDSGD(_HDBase):
    r"""SGD whose learning rate is learned by hypergradient descent (SGD-HD, SGDN-HD).

    Baydin, Cornish, Martínez Rubio, Schmidt & Wood, *Online Learning Rate Adaptation with
    Hypergradient Descent*, ICLR 2018. With :math:`g_t = \nabla f(\theta_{t-1})` (weight
    decay added as L2, as in ``torch.optim.SGD``), each step does

    .. math::
        \alpha_t = \alpha_{t-1} + \beta\, g_t \cdot d_{t-1}, \qquad
        \theta_t = \theta_{t-1} - \alpha_t d_t

    where :math:`d_t = g_t` for plain SGD (so the hypergradient is
    :math:`-g_t \cdot g_{t-1}`), :math:`d_t = v_t = \mu v_{t-1} + g_t` with momentum, and
    :math:`d_t = g_t + \mu v_t` with Nesterov momentum; :math:`d_0 = 0`, so the first step
    runs at the initial LR. :math:`\beta` is ``hypergrad_lr`` (the paper's experiments: 1e-3).

    ``rule="multiplicative"`` replaces the additive update by the paper's normalised
    multiplicative one, :math:`\alpha_t = \alpha_{t-1}(1 + \beta \cos(g_t, d_{t-1}))` with
    :math:`0 \le \beta < 1` (default 0.05): scale-free, so one ``hypergrad_lr`` suits any model
    size and an LR that is off by orders of magnitude moves geometrically toward a good one.

    Each param group learns its own :math:`\alpha` from the dot product over its own
    tensors (with one group this is the paper's global rule). The current LR is
    ``param_groups[i]["lr"]`` (also :attr:`lr`, :attr:`lrs`), updated in every :meth:`step`;
    the last hypergradient :math:`g_t \cdot d_{t-1}` is ``param_groups[i]["hypergrad"]``. The
    LR is not clipped (as in the paper): it can shrink to, or through, zero if ``hypergrad_lr``
    is too large. Do not combine with an LR scheduler, which would overwrite the learned LR.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        hypergrad_lr: float | None = None,
        *,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
        nesterov: bool = False,
        rule: str = "additive",
    ) -> None:
        w = "HDSGD"
        momentum = _check(w, "momentum", momentum, 1.0)
        if check_bool(w, "nesterov", nesterov) and momentum <= 0:
            raise ConfigError(
                f"{w}: nesterov=True needs momentum > 0, but got momentum={momentum!r}"
            )
        defaults = {
            **_defaults(w, lr, rule, hypergrad_lr, weight_decay, additive_default=1e-3),
            "momentum": momentum,
            "nesterov": nesterov,
        }
        super().__init__(params, defaults)

    def _direction(self, group: dict[str, Any], p: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        mu = group["momentum"]
        if mu == 0:
            return g.clone()
        state = self.state[p]
        buf = state.get("momentum_buffer")
        if buf is None:
            buf = state["momentum_buffer"] = g.clone()
        else:
            buf.mul_(mu).add_(g)
        return g.add(buf, alpha=mu) if group["nesterov"] else buf.clone()


class HDAdam(_HDBase):
    r"""Adam whose learning rate is learned by hypergradient descent (Adam-HD).

    Baydin et al., ICLR 2018, Algorithm Adam-HD. With :math:`g_t = \nabla f(\theta_{t-1})`
    and the previous Adam direction :math:`d_{t-1} = \hat m_{t-1} / (\sqrt{\hat v_{t-1}} +
    \epsilon)` (so the update was :math:`u_{t-1} = -\alpha_{t-1} d_{t-1}`):

    .. math::
        h_t = -g_t \cdot d_{t-1}, \qquad \alpha_t = \alpha_{t-1} - \beta h_t,

        m_t = \beta_1 m_{t-1} + (1-\beta_1) g_t, \quad v_t = \beta_2 v_{t-1} + (1-\beta_2) g_t^2,

        \theta_t = \theta_{t-1} - \alpha_t \frac{m_t / (1-\beta_1^t)}{\sqrt{v_t/(1-\beta_2^t)} + \epsilon}

    with :math:`d_0 = 0`. :math:`\beta` is ``hypergrad_lr``; the paper's experiments used
    1e-7 (the hypergradient sums over all parameters, so a good value shrinks as the model
    grows; ``rule="multiplicative"``, as in :class:`HDSGD`, avoids that scale dependence and
    defaults to 0.05). Weight decay is added to the gradient (L2, as in ``torch.optim.Adam``).

    As in :class:`HDSGD`: one learned LR per param group, readable as
    ``param_groups[i]["lr"]`` / :attr:`lr` after every step, hypergradient in
    ``param_groups[i]["hypergrad"]`` (:math:`-h_t`), no clipping, no LR scheduler on top.
    """

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        hypergrad_lr: float | None = None,
        *,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        rule: str = "additive",
    ) -> None:
        w = "HDAdam"
        if not (isinstance(betas, tuple | list) and len(betas) == 2):
            raise ConfigError(f"{w}: betas must be a pair, but got betas={betas!r}")
        defaults = {
            **_defaults(w, lr, rule, hypergrad_lr, weight_decay, additive_default=1e-7),
            "betas": (_check(w, "betas[0]", betas[0], 1.0), _check(w, "betas[1]", betas[1], 1.0)),
            "eps": _check(w, "eps", eps),
        }
        super().__init__(params, defaults)

    def _direction(self, group: dict[str, Any], p: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        beta1, beta2 = group["betas"]
        state = self.state[p]
        if "exp_avg" not in state:
            state["step"] = 0
            state["exp_avg"] = torch.zeros_like(p)
            state["exp_avg_sq"] = torch.zeros_like(p)
        state["step"] += 1
        t = state["step"]
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m.mul_(beta1).add_(g, alpha=1 - beta1)
        v.mul_(beta2).addcmul_(g, g, value=1 - beta2)
        denom = (v / (1 - beta2**t)).sqrt_().add_(group["eps"])
        return (m / (1 - beta1**t)).div_(denom)
