"""lrkit.optim.make: every name builds, unknown names and missing packages fail with a hint."""

from __future__ import annotations

import importlib.util
import sys

import pytest
import torch

from lrkit.errors import ConfigError, DependencyError
from lrkit.optim import HDSGD, HDAdam, available, effective_lr, evaluating, make
from lrkit.optim._registry import OPTIMIZERS

_PACKAGES = {
    "schedulefree_adamw": "schedulefree",
    "prodigy": "prodigyopt",
    "dadapt_adam": "dadaptation",
}


def _needs(name: str) -> None:
    pkg = _PACKAGES.get(name)
    if pkg and importlib.util.find_spec(pkg) is None:
        pytest.skip(f"optional dependency {pkg} is not installed")


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_every_name_trains_a_step(name: str) -> None:
    _needs(name)
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 2)
    before = model.weight.detach().clone()
    lr = 1.0 if name in ("prodigy", "dadapt_adam") else 1e-2
    opt = make(name, model.parameters(), lr)
    assert isinstance(opt, torch.optim.Optimizer)
    x = torch.randn(16, 4)
    for _ in range(2):
        opt.zero_grad()
        model(x).pow(2).mean().backward()
        opt.step()
    with evaluating(opt):
        model(x)
    assert not torch.equal(model.weight.detach(), before)
    assert all(v >= 0 for v in effective_lr(opt))


def test_kinds_and_kwargs() -> None:
    p = [torch.zeros(2, requires_grad=True)]
    assert isinstance(make("HDSGD", p, 0.1, hypergrad_lr=1e-4), HDSGD)
    assert isinstance(make("hdadam", p, 0.1), HDAdam)
    assert make("sgd_momentum", p, 0.1).defaults["momentum"] == 0.9
    assert make("sgd-momentum", p, 0.1, momentum=0.5).defaults["momentum"] == 0.5
    assert set(available()) == set(OPTIMIZERS)


def test_bad_name_and_lr() -> None:
    p = [torch.zeros(2, requires_grad=True)]
    with pytest.raises(ConfigError, match="name='lion'"):
        make("lion", p, 0.1)
    with pytest.raises(ConfigError, match="lr=-1"):
        make("adam", p, -1.0)


def test_missing_package_gives_pip_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    # a None entry in sys.modules makes the import fail as if the package were absent
    monkeypatch.setitem(sys.modules, "prodigyopt", None)
    with pytest.raises(DependencyError, match="pip install prodigyopt"):
        make("prodigy", [torch.zeros(1, requires_grad=True)], 1.0)
    assert available()["prodigy"] is False


def test_schedulefree_eval_swaps_weights() -> None:
    _needs("schedulefree_adamw")
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    opt = make("schedulefree_adamw", model.parameters(), 1e-2)
    x = torch.randn(8, 3)
    for _ in range(5):
        opt.zero_grad()
        model(x).pow(2).mean().backward()
        opt.step()
    train_w = model.weight.detach().clone()
    with evaluating(opt):
        eval_w = model.weight.detach().clone()
    assert not torch.equal(train_w, eval_w)  # eval mode swaps in the averaged iterate
    torch.testing.assert_close(model.weight.detach(), train_w)  # and back after the block
