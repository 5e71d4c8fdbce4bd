"""The non-greedy variants (anneal, consistent selection) and the equal-cost grid baseline."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from lrkit.errors import ConfigError
from lrkit.pbt import pbt
from lrkit.pbt._select import consistent_pairs
from lrkit.schedules import from_dict, parse
from lrkit.sweep import sweep

from .conftest import accuracy, make_model
from .test_pbt import batches_of, replay


def _pbt(data, **kw):
    x, y, vx, vy = data
    args: dict = dict(loss_fn=nn.CrossEntropyLoss(), population=6, low=1e-3, high=0.5,
                      steps=40, interval=4, val_data=(vx, vy), batch_size=16)  # fmt: skip
    args.update(kw)
    return pbt(make_model("mlp"), (x, y), **args)


@pytest.mark.parametrize(("optimizer", "select"), [("adam", "truncation"),
                                                   ("sgd_momentum", "consistent")])  # fmt: skip
def test_annealed_schedule_replays_the_winner_with_torch_optim(data, optimizer, select) -> None:
    x, y, _, _ = data
    r = _pbt(data, optimizer=optimizer, select=select, anneal=0.3, quantile=0.5, seed=1)
    # 10 rounds, the last 3 annealed: the decay starts after 28 updates, no exploit after it
    assert r.anneal_from == 28 and r.eval_steps[-4] == 28
    assert max(e.step for e in r.lineage) == 28
    assert (r.lrs[:, -2:] == r.lrs[:, -3:-2]).all()
    ks = np.arange(r.steps)
    lr = r.schedule(ks)
    base = r.winner_lrs[-1]
    np.testing.assert_allclose(lr[28:], base * (1 - np.arange(12) / 12), rtol=1e-15)
    assert from_dict(r.to_dict()["schedule_spec"]) == r.schedule == parse(repr(r.schedule))

    model = make_model("mlp")
    params = list(model.parameters())
    opt: torch.optim.Optimizer = (
        torch.optim.Adam(params, lr=1.0)
        if optimizer == "adam"
        else torch.optim.SGD(params, lr=1.0, momentum=0.9)
    )
    losses = replay(model, opt, r, batches_of(x, y, r.steps, 16, 1))
    np.testing.assert_allclose(r.winner_losses, losses, rtol=0, atol=1e-10)
    final = model.state_dict()
    for name, w in r.best_weights.items():
        torch.testing.assert_close(w, final[name].detach(), rtol=0, atol=1e-10)


def test_baseline_is_the_constant_grid_and_the_notes_say_who_won(data) -> None:
    x, y, vx, vy = data
    r = _pbt(data, optimizer="adam", metric=accuracy, seed=2, anneal=0.3)
    assert r.baseline_lrs is not None and r.baseline_metrics is not None
    np.testing.assert_array_equal(r.baseline_lrs, r.lrs[:, 0])
    # the baseline rows are exactly a constant-LR sweep (no anneal) of the same LRs, batches
    # and weights
    s = sweep(make_model("mlp"), (x, y), loss_fn=nn.CrossEntropyLoss(), lrs=r.baseline_lrs,
              optimizer="adam", steps=40, batch_size=16, val_data=(vx, vy), metric=accuracy,
              seed=2)  # fmt: skip
    assert s.val_metric is not None
    np.testing.assert_allclose(r.baseline_metrics, s.val_metric[:, -1], rtol=0, atol=1e-12)
    assert r.baseline_best_metric == np.nanmax(s.val_metric[:, -1])
    assert r.baseline_best_lr == r.baseline_lrs[int(np.nanargmax(s.val_metric[:, -1]))]
    assert r.beat_baseline == (r.best_metric > r.baseline_best_metric)
    assert len(r.notes) == 1
    expected = "PBT beat" if r.beat_baseline else "PBT did not beat"
    assert r.notes[0].startswith(expected) and f"{r.baseline_best_lr:.3g}" in r.notes[0]
    d = json.loads(json.dumps(r.to_dict(), allow_nan=False))
    assert d["beat_baseline"] == r.beat_baseline and d["notes"] == list(r.notes)
    # and without compare: no baseline, nothing said
    none = _pbt(data, optimizer="adam", metric=accuracy, seed=2, compare=False)
    assert none.baseline_metrics is None and none.beat_baseline is None and none.notes == ()


def test_a_loss_criterion_baseline_that_wins_is_reported_plainly(data) -> None:
    # a population whose LRs are all far too small apart from one: PBT copies the big one and
    # perturbs it; on validation loss (lower is better) the notes name the comparison
    r = _pbt(data, optimizer="sgd", low=1e-3, high=1.0, seed=0, steps=24)
    assert r.criterion == "val_loss" and not r.maximize
    assert r.beat_baseline == (r.best_metric < r.baseline_best_metric)
    assert ("did not beat" in r.notes[0]) == (not r.beat_baseline)
    assert "validation loss" in r.notes[0]


def test_consistent_selection_only_replaces_on_agreement() -> None:
    halves = np.array([[0.50, 0.90, 0.60, np.nan], [0.85, 0.80, 0.40, 0.30]])
    keep = consistent_pairs(halves, np.array([0, 2, 3]), np.array([1, 1, 1]), maximize=True)
    # member 0 is better on the second half; 2 is worse on both; 3 diverged on one half
    assert keep.tolist() == [False, True, True]
    keep = consistent_pairs(-halves, np.array([0, 2]), np.array([1, 1]), maximize=False)
    assert keep.tolist() == [False, True]


def test_consistent_makes_fewer_exploits_than_truncation(data) -> None:
    a = _pbt(data, optimizer="adam", metric=accuracy, select="truncation", compare=False)
    b = _pbt(data, optimizer="adam", metric=accuracy, select="consistent", compare=False)
    assert len(b.lineage) < len(a.lineage)
    for e in b.lineage:  # every copy that did happen followed a better full-set score
        rr = int(np.searchsorted(b.eval_steps, e.step))
        assert b.metrics[e.source, rr] > b.metrics[e.member, rr]


@pytest.mark.parametrize(
    ("kw", "text"),
    [
        ({"select": "greedy"}, "select='greedy'"),
        ({"anneal": 1.0}, "anneal=1.0"),
        ({"anneal": -0.1}, "anneal=-0.1"),
        ({"compare": "yes"}, "compare='yes'"),
    ],
)
def test_bad_variant_arguments(data, kw, text) -> None:
    with pytest.raises(ConfigError, match=text):
        _pbt(data, **kw)


def test_progress_reports_every_update_and_the_best_score_so_far(data) -> None:
    calls: list[tuple[int, int, float]] = []
    r = _pbt(
        data, optimizer="adam", metric=accuracy, progress=lambda d, t, b: calls.append((d, t, b))
    )
    assert [c[0] for c in calls] == list(range(1, 41)) and {c[1] for c in calls} == {40}
    assert all(np.isnan(c[2]) for c in calls[:3]) and not np.isnan(calls[3][2])  # first eval: 4
    best = [c[2] for c in calls[3:]]
    assert best == sorted(best) and best[-1] == np.nanmax(r.metrics)
