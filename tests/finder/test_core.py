"""Framework-free range test and suggestion rules."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lrkit.errors import ConfigError, FinderError, LRKitError
from lrkit.finder import (
    METHODS,
    FinderResult,
    ema,
    fit_curve,
    lr_sweep,
    lrkit_interval,
    range_test,
    suggest,
)


def toy_loss(lr: float, rng: np.random.Generator | None = None, noise: float = 0.0) -> float:
    """Flat, then falls to a minimum near lr=1e-2, then blows up past 0.1."""
    x = math.log10(lr)
    base = 2.3 - 1.5 / (1 + math.exp(-(x + 3.0) * 3)) + max(0.0, x + 1.6) ** 2 * 8
    return base + (rng.normal(0, noise) if rng is not None else 0.0)


def test_sweep_exp_and_linear_hit_both_ends() -> None:
    exp = lr_sweep(1e-6, 1.0, 13, "exp")
    assert exp[0] == pytest.approx(1e-6) and exp[-1] == pytest.approx(1.0)
    assert np.allclose(np.diff(np.log10(exp)), 0.5)
    lin = lr_sweep(0.1, 1.0, 10, "linear")
    assert np.allclose(np.diff(lin), 0.1)


def test_range_test_records_every_step_and_stops_at_divergence() -> None:
    seen: list[float] = []

    def step(lr: float) -> float:
        seen.append(lr)
        return toy_loss(lr)

    res = range_test(step, start_lr=1e-6, end_lr=10.0, steps=100)
    assert isinstance(res, FinderResult)
    assert res.diverged_at is not None and 0.1 < res.diverged_at <= 10.0
    assert len(seen) == len(res.lrs) < 100  # stopped early
    assert list(res.lrs) == pytest.approx(seen)
    assert res.losses == pytest.approx([toy_loss(lr) for lr in seen])
    assert set(res.suggestions) == set(METHODS)
    low, high = res.interval
    assert low <= res.suggestion <= high
    # the lrkit suggestion sits below the minimum of the curve (~1e-2 … 2.5e-2), above the flat part
    assert 1e-3 < res.suggestion < 2e-2


def test_a_loss_that_can_be_negative_is_swept_to_its_divergence() -> None:
    # The NLL of a density (a flow, a mixture, a point process) can be negative: "4x the
    # best" meant "stop at the second step". It is a rise above the best by 3x the losses'
    # spread there.
    rng = np.random.default_rng(0)

    def nll(lr: float) -> float:
        return -5.0 - 0.1 * math.log10(lr) + 50.0 * lr * (lr > 1.0) + rng.normal(0.0, 0.1)

    res = range_test(nll, start_lr=1e-7, end_lr=10.0, steps=100)
    assert len(res.lrs) > 80 and res.diverged_at is not None and res.diverged_at > 1.0
    assert 1e-3 < res.suggestion < 1.0


def test_a_few_uneven_first_batches_are_no_divergence() -> None:
    # fresh32's point process: summed NLLs of -1.3, -0.5, 11.0, 7.4, ... at LRs far too small
    # to move anything; the sweep stopped after 2 steps ("diverged too early"). The same with
    # a positive loss whose first batch is 5x below the rest.
    for first in (-1.3, 2.0):
        losses = iter([first, -0.5 if first < 0 else 9.0, *(10.0 + np.sin(np.arange(200)))])

        def step(lr: float, batches: Iterator[float] = losses) -> float:
            return next(batches) + 1e3 * (lr > 1.0)

        res = range_test(step, start_lr=1e-7, steps=100)
        assert len(res.lrs) > 80 and res.diverged_at is not None and res.diverged_at > 1.0


def test_non_finite_loss_later_stops_without_recording_it() -> None:
    res = range_test(lambda lr: math.nan if lr > 1e-2 else toy_loss(lr), start_lr=1e-6, end_lr=1.0)
    assert all(math.isfinite(v) for v in res.losses)
    assert res.diverged_at is not None and res.diverged_at > 1e-2
    assert max(res.lrs) <= 1e-2


def test_non_finite_first_loss_is_a_clear_error() -> None:
    with pytest.raises(FinderError, match="first step"):
        range_test(lambda lr: float("inf"))


def test_step_fn_may_end_the_sweep_with_stopiteration() -> None:
    calls = iter(range(30))

    def step(lr: float) -> float:
        next(calls)
        return toy_loss(lr)

    res = range_test(step, start_lr=1e-6, end_lr=1e-1, steps=100)
    assert len(res.lrs) == 30 and res.diverged_at is None


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"start_lr": 1.0, "end_lr": 1.0}, "start_lr must be < end_lr"),
        ({"start_lr": 2.0, "end_lr": 1.0}, "start_lr=2.0"),
        ({"start_lr": 0.0}, "start_lr must be"),
        ({"end_lr": math.inf}, "end_lr"),
        ({"steps": 5}, "steps must be >= 10, but got steps=5"),
        ({"steps": 50.0}, "steps"),
        ({"mode": "log"}, "mode"),
        ({"smoothing": 1.0}, "smoothing"),
        ({"diverge": 0.5}, "diverge"),
        ({"method": "magic"}, "method"),
    ],
)
def test_bad_arguments_raise_config_error(kwargs: dict, match: str) -> None:
    called = []
    with pytest.raises(ConfigError, match=match) as info:
        range_test(lambda lr: called.append(lr) or 1.0, **kwargs)
    assert isinstance(info.value, ValueError) and isinstance(info.value, LRKitError)
    assert not called  # validated before any step


def test_too_short_curve_is_a_finder_error() -> None:
    with pytest.raises(FinderError, match="usable points"):
        suggest([1e-3, 1e-2, 1e-1], [1.0, 0.9, 0.8])


def test_methods_follow_their_rules_on_a_known_curve() -> None:
    lrs = np.logspace(-6, 0, 121)
    losses = np.array([toy_loss(lr) for lr in lrs])
    sm = ema(losses, 0.98)
    # minimum: argmin of the EMA / 10
    assert suggest(lrs, losses, "minimum") == pytest.approx(lrs[int(np.argmin(sm))] / 10)
    # lrkit: argmin of the lag-free fit / 3, and "auto" is the same rule
    fit = fit_curve(lrs, losses)
    assert suggest(lrs, losses, "lrkit") == pytest.approx(lrs[int(np.argmin(fit))] / 3)
    assert suggest(lrs, losses, "auto") == suggest(lrs, losses, "lrkit")
    # steepest: the EMA falls fastest there (against log10 lr)
    st = suggest(lrs, losses, "steepest")
    grad = np.gradient(sm[10:-5], np.log10(lrs[10:-5]))
    assert st == pytest.approx(lrs[10 + int(np.argmin(grad))])
    # valley: inside the descending part of the EMA
    va = suggest(lrs, losses, "valley")
    i = int(np.argmin(np.abs(lrs - va)))
    assert sm[i] < sm[0] and np.all(np.diff(sm[i - 3 : i + 3]) < 0)


def test_fit_is_lag_free_where_the_ema_lags() -> None:
    lrs = np.logspace(-6, 0, 100)
    losses = np.array([toy_loss(lr) for lr in lrs])
    true_min = lrs[int(np.argmin(losses))]
    fit_min = lrs[int(np.argmin(fit_curve(lrs, losses)))]
    ema_min = lrs[int(np.argmin(ema(losses)))]
    # the steep rise after the minimum pulls the kernel fit a little left (a safety margin),
    # never right; the EMA's minimum drifts right
    assert -0.4 <= math.log10(fit_min / true_min) <= 0.0
    assert math.log10(ema_min / true_min) > 0.2


def test_lrkit_rule_is_stable_under_noise() -> None:
    lrs = lr_sweep(1e-6, 1.0, 100)
    picks = {m: [] for m in METHODS}
    for seed in range(8):
        rng = np.random.default_rng(seed)
        losses = [toy_loss(lr, rng, noise=0.08) for lr in lrs]
        for m in METHODS:
            picks[m].append(suggest(lrs, losses, m))
    spread = {m: max(v) / min(v) for m, v in picks.items()}
    assert spread["lrkit"] < 2.0
    assert spread["lrkit"] <= spread["steepest"]


def test_ema_is_bias_corrected() -> None:
    assert ema([3.0] * 5, 0.9) == pytest.approx([3.0] * 5)
    with pytest.raises(ConfigError, match="smoothing"):
        ema([1.0], 1.5)


def test_result_to_dict_is_json_and_plot_saves(tmp_path) -> None:
    pytest.importorskip("matplotlib")
    res = range_test(toy_loss, start_lr=1e-6, end_lr=10.0)
    d = json.loads(json.dumps(res.to_dict(), allow_nan=False))
    assert d["suggestion"] == res.suggestion and d["method"] == "lrkit"
    assert len(d["lrs"]) == len(d["losses"]) == len(d["smoothed"]) == len(res.lrs)
    path = tmp_path / "f.png"
    fig = res.plot(str(path))
    assert path.stat().st_size > 1000
    import matplotlib.pyplot as plt

    plt.close(fig)
    with pytest.raises(AttributeError):
        res.suggestion = 1.0  # type: ignore[misc]


def test_finder_core_does_not_import_torch() -> None:
    code = "import sys, lrkit.finder; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(0.0, 50.0, allow_nan=False), min_size=12, max_size=80),
    st.sampled_from(["exp", "linear"]),
)
def test_every_method_returns_an_lr_inside_the_sweep(losses: list[float], mode: str) -> None:
    lrs = lr_sweep(1e-5, 1.0, len(losses), mode)
    for m in METHODS:
        lr = suggest(lrs, losses, m)
        assert lrs[0] <= lr <= lrs[-1]
    low, high = lrkit_interval(lrs, losses)
    assert lrs[0] <= low <= suggest(lrs, losses) <= high <= lrs[-1]


def test_a_flat_curve_gets_a_note_a_falling_one_does_not() -> None:
    from lrkit.finder import range_test

    rng = np.random.default_rng(0)

    def flat(lr: float) -> float:
        return 2.3 - 0.02 * (lr > 1e-2) + rng.normal(0, 0.005)

    def falling(lr: float) -> float:
        return 2.3 - 1.5 * math.exp(-0.5 * ((math.log10(lr) + 2) / 0.7) ** 2) + rng.normal(0, 0.005)

    kw = {"start_lr": 1e-6, "end_lr": 1.0, "steps": 80, "diverge": None}
    r = range_test(flat, **kw)
    assert len(r.notes) == 1 and "fell by only" in r.notes[0]
    assert r.to_dict()["notes"] == list(r.notes)
    assert range_test(falling, **kw).notes == ()
    # a loss that is not positive has no relative fall to judge
    assert range_test(lambda lr: flat(lr) - 10, **kw).notes == ()
