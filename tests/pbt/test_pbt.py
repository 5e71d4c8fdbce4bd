"""``pbt``: the discovered schedule replays the winner; lineage, determinism, errors."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch
from torch import nn

from lrkit.errors import ConfigError
from lrkit.integrations.torch import Scheduler
from lrkit.pbt import PBTResult, pbt
from lrkit.schedules import from_dict, parse
from lrkit.sweep._data import BatchSource

from .conftest import accuracy, make_model


def batches_of(x: torch.Tensor, y: torch.Tensor, steps: int, batch_size: int, seed: int) -> list:
    out: list = []
    for epoch in BatchSource((x, y), batch_size=batch_size, seed=seed, shuffle=True).epochs():
        out.extend(epoch)
        if len(out) >= steps:
            return out[:steps]
    raise AssertionError


def replay(model: nn.Module, opt: torch.optim.Optimizer, r: PBTResult, batches: list) -> list:
    """Training losses of an ordinary torch.optim run driven by ``r.schedule``."""
    sched = Scheduler(opt, r.schedule)
    losses = []
    for bx, by in batches:
        opt.zero_grad()
        loss = nn.CrossEntropyLoss()(model(bx), by)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
    return losses


def run(data, model_name: str = "mlp", **kw: object) -> PBTResult:
    x, y, vx, vy = data
    # the classic rule (truncation, no anneal), whatever the defaults: test_variants.py has the rest
    args: dict = dict(loss_fn=nn.CrossEntropyLoss(), population=6, low=1e-3, high=0.5,
                      steps=24, interval=4, val_data=(vx, vy), metric=accuracy, batch_size=16,
                      select="truncation", anneal=0.0)  # fmt: skip
    args.update(kw)
    return pbt(make_model(model_name), (x, y), **args)


@pytest.mark.parametrize(
    ("model_name", "optimizer", "seed"),
    [
        ("mlp", "sgd_momentum", 0),
        ("mlp", "adam", 1),
        ("cnn", "adamw", 0),
        ("bn-mlp", "sgd_momentum", 2),
    ],
)
def test_schedule_replays_the_winner_with_torch_optim(data, model_name, optimizer, seed) -> None:
    x, y, vx, vy = data
    r = run(data, model_name, optimizer=optimizer, seed=seed, metric=None, quantile=0.5)
    assert r.engine == ("batched-mlp" if model_name == "mlp" else "vmap")
    if model_name == "bn-mlp":
        # (with Adam, the bias before BatchNorm has a gradient of pure rounding noise, which
        # Adam normalises to full-size steps: that bias is then not reproducible to 1e-10)
        assert "1.running_mean" in r.best_weights
    # the winner's lineage really changed LR (else this would only re-test the sweep)
    assert len(r.schedule.to_dict()["boundaries"]) >= 1, r.schedule
    assert len({int(i) for i in r.winner_path}) >= 2, r.winner_path

    model = make_model(model_name)
    params = list(model.parameters())
    if optimizer == "sgd_momentum":
        opt: torch.optim.Optimizer = torch.optim.SGD(params, lr=1.0, momentum=0.9)
    elif optimizer == "adam":
        opt = torch.optim.Adam(params, lr=1.0)
    else:
        opt = torch.optim.AdamW(params, lr=1.0)
    loss_fn = nn.CrossEntropyLoss()
    losses = replay(model, opt, r, batches_of(x, y, r.steps, 16, seed))
    np.testing.assert_allclose(r.winner_losses, losses, rtol=0, atol=1e-10)
    # parameters and buffers (BatchNorm's running statistics: each member keeps its own)
    final = model.state_dict()
    assert set(final) == set(r.best_weights)
    for name, w in r.best_weights.items():
        torch.testing.assert_close(w, final[name].detach(), rtol=0, atol=1e-10)
    # and the winner's validation loss (eval mode) is the best_metric (criterion val_loss)
    model.eval()
    with torch.no_grad():
        assert abs(float(loss_fn(model(vx), vy)) - r.best_metric) < 1e-10


def test_lineage_history_and_bounds(data) -> None:
    r = run(data, optimizer="sgd", perturb=(0.5, 1.5), seed=3)
    k, rounds = 6, 6
    assert r.lrs.shape == r.metrics.shape == r.parents.shape == (k, rounds)
    assert r.eval_steps.tolist() == [4, 8, 12, 16, 20, 24]
    assert r.losses.shape == (k, 24) and np.isfinite(r.winner_losses).all()
    assert r.lineage and all(e.step in r.eval_steps[:-1] for e in r.lineage)
    for e in r.lineage:
        rr = int(np.searchsorted(r.eval_steps, e.step)) + 1  # the round that starts at e.step
        assert r.parents[e.member, rr] == e.source != e.member
        assert r.lrs[e.member, rr] == e.lr and r.lrs[e.source, rr - 1] == e.source_lr
        assert 1e-3 <= e.lr <= 0.5
        assert 0.5 - 1e-12 <= e.lr / e.source_lr <= 1.5 + 1e-12
        # selection on the validation metric: the source beat the replaced member
        assert r.metrics[e.source, rr - 1] >= r.metrics[e.member, rr - 1]
    # quantile 0.25 of 6 members: one replaced per exploit
    assert len(r.lineage) == rounds - 1
    assert r.best_metric == np.nanmax(r.metrics[:, -1])
    assert r.schedule(np.arange(24)).tolist() == np.repeat(r.winner_lrs, 4).tolist()
    hist = r.history
    assert len(hist) == k and len(hist[0]) == rounds and hist[2][1]["lr"] == r.lrs[2, 1]


def test_deterministic_for_a_seed(data) -> None:
    a, b = run(data, optimizer="adam", seed=5), run(data, optimizer="adam", seed=5)
    da, db = a.to_dict(), b.to_dict()
    da.pop("wall_time_s"), db.pop("wall_time_s")
    assert da == db
    c = run(data, optimizer="adam", seed=6, init="random").to_dict()
    assert c["lrs"] != da["lrs"]


def test_result_serialises_and_plots(data, tmp_path) -> None:
    r = run(data, optimizer="sgd_momentum", resample=0.5)
    d = json.loads(json.dumps(r.to_dict(), allow_nan=False))
    assert parse(d["schedule"]) == r.schedule == from_dict(d["schedule_spec"])
    assert d["population"] == 6 and len(d["lineage"]) == len(r.lineage)
    # the display text is short and parses back to the schedule within rounding
    r = run(data, optimizer="sgd_momentum", high=0.3)  # LRs with many digits: 1e-3 * 10**(k/2)
    d = r.to_dict()
    text = d["schedule_text"]
    assert text == r.schedule_text and len(text) < len(d["schedule"])
    digits = [v.split("e")[0].lstrip("0.") for v in text.split("values=[")[1][:-2].split(", ")]
    assert all(len(v.replace(".", "")) <= 4 for v in digits), text
    ks = np.arange(r.steps)
    np.testing.assert_allclose(parse(text)(ks), r.schedule(ks), rtol=5e-4)
    assert not np.array_equal(parse(text)(ks), r.schedule(ks))  # the object kept every digit
    import matplotlib

    matplotlib.use("Agg")
    fig = r.plot(str(tmp_path / "pbt.png"))
    assert (tmp_path / "pbt.png").stat().st_size > 1000
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_model_is_untouched(data) -> None:
    x, y, vx, vy = data
    model = make_model("mlp")
    before = copy.deepcopy(model.state_dict())
    pbt(model, (x, y), loss_fn=nn.CrossEntropyLoss(), population=3, steps=6, interval=2,
        val_data=(vx, vy), batch_size=32, low=0.1, high=10.0)  # fmt: skip
    assert all(torch.equal(before[n], t) for n, t in model.state_dict().items())


def test_diverged_members_are_replaced(data) -> None:
    """LR 1e4 on a squared loss overflows at once; exploit revives the member from a finite one."""

    def mse(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return ((out - nn.functional.one_hot(y, 3).to(out)) ** 2).mean()

    r = run(data, optimizer="sgd", loss_fn=mse, metric=None, low=1e-2, high=1e4, population=4,
            quantile=0.5, steps=8)  # fmt: skip
    assert not np.isfinite(r.metrics[-1, 0])  # the LR-1e4 member
    assert 3 in {e.member for e in r.lineage if e.step == 4}
    assert np.isfinite(r.metrics[:, -1]).all() and np.isfinite(r.best_metric)


@pytest.mark.parametrize(
    ("kw", "text"),
    [
        ({"population": 1}, "population=1"),
        ({"quantile": 0.0}, "quantile=0.0"),
        ({"quantile": 0.6}, "quantile=0.6"),
        ({"perturb": (0.0, 1.2)}, "perturb=(0.0, 1.2)"),
        ({"perturb": (0.8, -1.0)}, "perturb=(0.8, -1.0)"),
        ({"interval": 25}, "interval=25"),
        ({"low": 1.0, "high": 0.1}, "low=1.0"),
        ({"optimizer": "lion"}, "optimizer='lion'"),
        ({"resample": 1.5}, "resample=1.5"),
        ({"val_data": None}, "val_data=None"),
        ({"steps": 0}, "steps=0"),
    ],
)
def test_bad_input_names_the_argument(data, kw, text) -> None:
    with pytest.raises(ConfigError, match=text.replace("(", r"\(").replace(")", r"\)")):
        run(data, **kw)
