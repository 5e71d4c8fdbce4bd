"""param_groups: layer-wise decay, glob multipliers, no-decay set, ratios under every schedule."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from lrkit.errors import ConfigError
from lrkit.integrations.torch import Scheduler
from lrkit.scaling import param_groups
from lrkit.scaling._groups import layer_ids
from lrkit.testing import example_schedules


class TinyTransformer(nn.Module):
    def __init__(self, depth: int = 3, d: int = 8) -> None:
        super().__init__()
        self.embed = nn.Embedding(20, d)
        self.blocks = nn.ModuleList(
            nn.Sequential(nn.LayerNorm(d), nn.Linear(d, d)) for _ in range(depth)
        )
        self.norm = nn.LayerNorm(d)
        self.head = nn.Linear(d, 5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.embed(x)
        for block in self.blocks:
            h = h + block(h)
        return self.head(self.norm(h))


def test_layer_decay_beit_convention() -> None:
    model = TinyTransformer(depth=3)
    groups = param_groups(model, 1e-3, layer_decay=0.5)
    # depth: embed 0, blocks 1..3, norm + head 4 (top)
    assert groups.lr_of("head.weight") == pytest.approx(1e-3)
    assert groups.lr_of("norm.weight") == pytest.approx(1e-3)
    assert groups.lr_of("blocks.2.1.weight") == pytest.approx(5e-4)
    assert groups.lr_of("blocks.0.1.bias") == pytest.approx(1e-3 * 0.5**3)
    assert groups.lr_of("embed.weight") == pytest.approx(1e-3 * 0.5**4)
    n_params = sum(len(g["params"]) for g in groups)
    assert n_params == len(list(model.parameters()))


def test_ulmfit_factor_on_sequential() -> None:
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))
    groups = param_groups(model, 0.01, layer_decay=1 / 2.6)
    assert groups.lr_of("4.weight") == pytest.approx(0.01)
    assert groups.lr_of("2.weight") == pytest.approx(0.01 / 2.6)
    assert groups.lr_of("0.bias") == pytest.approx(0.01 / 2.6**2)
    assert len(groups) == 3


def test_layer_ids_without_blocks() -> None:
    assert layer_ids(["conv1.weight", "conv1.bias", "conv2.weight", "fc.weight"]) == {
        "conv1.weight": 0,
        "conv1.bias": 0,
        "conv2.weight": 1,
        "fc.weight": 2,
    }


def test_no_decay_and_multipliers() -> None:
    model = TinyTransformer()
    groups = param_groups(model, 1e-3, multipliers={"head.*": 10.0}, weight_decay=0.05)
    by_name = {n: g for g in groups.info for n in g.names}
    assert by_name["head.weight"].lr == pytest.approx(1e-2)
    assert by_name["head.weight"].weight_decay == 0.05
    assert by_name["head.bias"].weight_decay == 0.0
    assert by_name["blocks.0.0.weight"].weight_decay == 0.0  # a LayerNorm gain, by module type
    assert by_name["norm.weight"].weight_decay == 0.0
    assert by_name["blocks.1.1.weight"].weight_decay == 0.05
    assert by_name["embed.weight"].weight_decay == 0.05
    # glob entries in no_decay match full names
    g2 = param_groups(model, 1e-3, weight_decay=0.1, no_decay=("embed.*",))
    assert g2.lr_of("embed.weight") == 1e-3
    assert {g.weight_decay for g in g2.info if "embed.weight" in g.names} == {0.0}


def test_first_matching_multiplier_wins_and_typos_fail() -> None:
    model = TinyTransformer()
    groups = param_groups(model, 1.0, multipliers={"head.weight": 3.0, "head.*": 2.0})
    assert groups.lr_of("head.weight") == 3.0 and groups.lr_of("head.bias") == 2.0
    with pytest.raises(ConfigError, match="match no parameter"):
        param_groups(model, 1.0, multipliers={"haed.*": 2.0})


def test_printout_and_to_dict() -> None:
    groups = param_groups(TinyTransformer(), 1e-3, layer_decay=0.8, weight_decay=0.01)
    text = str(groups)
    lines = text.splitlines()
    assert lines[0].split()[:4] == ["group", "lr", "x", "base"]
    assert len(lines) == len(groups) + 1
    assert "layer 0 · decay" in text and "head.weight" in text
    d = groups.to_dict()
    assert json.loads(json.dumps(d)) == d
    assert d["groups"][-1]["multiplier"] == pytest.approx(1.0)


@pytest.mark.parametrize(("name", "schedule"), example_schedules(), ids=lambda v: str(v)[:40])
def test_groups_keep_ratios_under_every_schedule(name: str, schedule) -> None:
    model = TinyTransformer(depth=2)
    groups = param_groups(model, 1e-3, layer_decay=0.7, multipliers={"head.*": 4.0})
    opt = torch.optim.SGD(groups, lr=groups.base_lr)
    sched = Scheduler(opt, schedule)
    wanted = [g.multiplier for g in groups.info]
    for k in range(12):
        lrs = [g["lr"] for g in opt.param_groups]
        expected = schedule(k)
        for lr, m in zip(lrs, wanted):
            assert lr == pytest.approx(expected * m, rel=1e-12, abs=1e-300)
        opt.step()
        sched.step()


@pytest.mark.parametrize(
    ("kwargs", "arg"),
    [
        ({"lr": 0.0}, "lr=0.0"),
        ({"layer_decay": 1.5}, "layer_decay=1.5"),
        ({"weight_decay": -1}, "weight_decay=-1"),
        ({"multipliers": {"head.*": -2.0}}, "multipliers"),
    ],
)
def test_invalid(kwargs: dict, arg: str) -> None:
    args = {"lr": 1e-3, **kwargs}
    with pytest.raises(ConfigError, match=arg):
        param_groups(TinyTransformer(), **args)


def test_plot(tmp_path) -> None:
    pytest.importorskip("matplotlib")
    groups = param_groups(TinyTransformer(), 1e-3, layer_decay=0.8)
    fig = groups.plot(path=str(tmp_path / "groups.png"))
    assert (tmp_path / "groups.png").stat().st_size > 0
    assert len(fig.axes[0].patches) == len(groups)
