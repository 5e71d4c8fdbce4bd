"""μP width transfer: the rule table, tensor roles, and the LR transfer on an MLP family."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from lrkit.errors import ConfigError
from lrkit.scaling import width, width_groups


def test_rule_table() -> None:
    m = 1024 / 64
    assert width(1e-3, 64, 1024, "adam", "hidden").lr == pytest.approx(1e-3 / m)
    assert width(1e-3, 64, 1024, "adam", "output").lr == pytest.approx(1e-3 / m)
    assert width(1e-3, 64, 1024, "adam", "input").lr == pytest.approx(1e-3)
    assert width(0.1, 64, 1024, "sgd", "input").lr == pytest.approx(0.1 * m)
    assert width(0.1, 64, 1024, "sgd", "hidden").lr == pytest.approx(0.1)
    assert width(0.1, 64, 1024, "sgd", "output").lr == pytest.approx(0.1 / m)
    r = width(1e-3, 256, 128, "adamw", "hidden")  # narrowing works the other way
    assert r.lr == pytest.approx(2e-3) and r.optimizer == "adam" and r.multiplier == 0.5
    assert r.to_dict()["factor"] == pytest.approx(2.0)


@pytest.mark.parametrize(
    ("kwargs", "arg"),
    [
        ({"optimizer": "lion"}, "optimizer='lion'"),
        ({"layer": "middle"}, "layer='middle'"),
        ({"width": 0}, "width=0"),
        ({"lr": -1.0}, "lr=-1.0"),
    ],
)
def test_invalid(kwargs: dict, arg: str) -> None:
    args = {"lr": 1e-3, "base_width": 64, "width": 128, **kwargs}
    with pytest.raises(ConfigError, match=arg):
        width(**args)


def _mlp(w: int, seed: int = 0, d_in: int = 64, classes: int = 10) -> nn.Sequential:
    torch.manual_seed(seed)
    model = nn.Sequential(
        nn.Linear(d_in, w), nn.ReLU(), nn.Linear(w, w), nn.ReLU(), nn.Linear(w, classes)
    )
    # μP's recommended readout init (Yang et al. 2022): zero, so the output starts width-free
    nn.init.zeros_(model[4].weight)
    return model


def test_width_groups_roles() -> None:
    big, small = _mlp(256), _mlp(64)
    adam = width_groups(big, small, 1e-2, "adam")
    assert adam.lr_of("0.weight") == pytest.approx(1e-2)  # input
    assert adam.lr_of("0.bias") == pytest.approx(1e-2)  # bias
    assert adam.lr_of("2.weight") == pytest.approx(1e-2 / 4)  # hidden
    assert adam.lr_of("4.weight") == pytest.approx(1e-2 / 4)  # output
    assert adam.lr_of("4.bias") == pytest.approx(1e-2)  # does not grow
    sgd = width_groups(big, small, 0.1, "sgd")
    assert sgd.lr_of("0.weight") == pytest.approx(0.4)
    assert sgd.lr_of("2.weight") == pytest.approx(0.1)
    assert sgd.lr_of("4.weight") == pytest.approx(0.025)
    same = width_groups(small, _mlp(64), 1e-2)
    assert [g.multiplier for g in same.info] == [1.0]
    forced = width_groups(big, small, 1e-2, layers={"0.*": "hidden"})
    assert forced.lr_of("0.weight") == pytest.approx(1e-2 / 4)
    # the base model may live on the meta device: only shapes are read
    with torch.device("meta"):
        meta = nn.Sequential(
            nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10)
        )
    assert width_groups(big, meta, 1e-2).lr_of("2.weight") == pytest.approx(1e-2 / 4)


def test_width_groups_mismatch() -> None:
    with pytest.raises(ConfigError, match="not in base_model"):
        width_groups(_mlp(128), nn.Sequential(nn.Linear(64, 10)), 1e-3)
    with pytest.raises(ConfigError, match="layers"):
        width_groups(_mlp(128), _mlp(64), 1e-3, layers={"0.*": "deep"})


# -- the transfer experiment ---------------------------------------------------------------
# Adam on the digits data (1347 × 64), 30 updates of batch 64, training loss on the whole
# training set; LR grid in factors of 2. The base width's best LR should stay near-best at
# width 1024 with width_groups and drift to smaller LRs without (standard parametrisation).
_GRID = [2.0**k for k in range(-10, -3)]


def _final_loss(model: nn.Module, params, lr: float, x, y, steps: int = 30, seed: int = 0) -> float:
    opt = torch.optim.Adam(params, lr=lr)
    gen = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        idx = torch.randint(0, len(x), (64,), generator=gen)
        loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        value = float(nn.functional.cross_entropy(model(x), y))
    return value if math.isfinite(value) else math.inf


@pytest.fixture
def one_thread():
    # one intra-op thread: on a small shared CI machine, oversubscribed threads cost 5-10x here
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_best_lr_transfers_from_width_64_to_1024(one_thread: None) -> None:
    from lrkit.tasks._data import digits_arrays

    x_np, y_np, _, _ = digits_arrays()
    x, y = torch.from_numpy(x_np), torch.from_numpy(y_np)
    base = [_final_loss(m := _mlp(64), m.parameters(), lr, x, y) for lr in _GRID]
    sp = [_final_loss(m := _mlp(1024), m.parameters(), lr, x, y) for lr in _GRID]
    mup = [
        _final_loss(m := _mlp(1024), width_groups(m, _mlp(64), lr, "adam"), lr, x, y)
        for lr in _GRID
    ]
    b, i_sp, i_mup = (int(np.argmin(v)) for v in (base, sp, mup))
    report = (
        f"best index: base {b}, without groups {i_sp}, with groups {i_mup}; {base=} {sp=} {mup=}"
    )
    assert 0 < b < len(_GRID) - 1, report  # the base optimum is inside the grid
    assert abs(i_mup - b) <= 1, report
    assert b - i_sp >= 2, report
    # at the base width's best LR, the wide model is near its best with groups, far without
    assert mup[b] <= 1.5 * min(mup), report
    assert sp[b] >= 2.0 * min(sp), report


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"lr": 0.0}, "width_groups: lr must be > 0, but got lr=0.0"),
        ({"weight_decay": -0.1}, "width_groups: weight_decay must be >= 0"),
        ({"layers": {"0.*": "middle"}}, r"width_groups: layers\['0.\*'\] must be one of"),
    ],
)
def test_width_groups_invalid(kwargs: dict, message: str) -> None:
    args = {"lr": 1e-3, **kwargs}
    with pytest.raises(ConfigError, match=message):
        width_groups(_mlp(128), _mlp(64), **args)
