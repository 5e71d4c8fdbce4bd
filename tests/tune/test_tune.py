"""lrkit.tune: strategies, budget, failures, bad input, resume, results."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna", reason="optuna is needed for lrkit.tune")

from lrkit.errors import ConfigError, LRKitError, TuneError  # noqa: E402
from lrkit.tune import STRATEGIES, TuneResult, tune  # noqa: E402
from lrkit.tune._strategies import coarse_count, fine_grid, focus_from_interval  # noqa: E402


def bowl(lr: float, trial: object) -> float:
    return (math.log10(lr) + 3.0) ** 2  # minimum at lr = 1e-3


@pytest.mark.parametrize("strategy", [s for s in STRATEGIES if s != "bayes"])
def test_every_strategy_runs_exactly_the_budget_and_finds_the_bowl(strategy: str) -> None:
    res = tune(bowl, strategy=strategy, trials=12, seed=0, finder=(3e-4, 3e-3))
    assert isinstance(res, TuneResult)
    assert len(res.trials) == 12 and res.n_complete == 12
    assert sorted(t.number for t in res.trials) == list(range(12))
    assert 1e-4 < res.best_lr < 1e-2
    assert res.best_value == min(t.value for t in res.trials if t.value is not None)
    assert all(1e-6 <= t.lr <= 1.0 for t in res.trials)


def test_bayes_uses_a_model_and_beats_its_random_start() -> None:
    res = tune(bowl, strategy="bayes", trials=10, seed=1)
    assert isinstance(res.study.sampler, optuna.samplers.GPSampler)
    assert res.best_value < 0.05


def test_grid_is_log_spaced_and_coarse_to_fine_refines_around_the_best() -> None:
    grid = tune(bowl, strategy="grid", trials=7, low=1e-6, high=1.0)
    assert [round(math.log10(t.lr), 9) for t in grid.trials] == [-6, -5, -4, -3, -2, -1, 0]
    c2f = tune(bowl, strategy="coarse-to-fine", trials=12, low=1e-6, high=1.0, seed=0)
    n = coarse_count(12)
    coarse = [t.lr for t in c2f.trials[:n]]
    fine = [t.lr for t in c2f.trials[n:]]
    best_coarse = min(c2f.trials[:n], key=lambda t: t.value or 0).lr
    ratio = (1.0 / 1e-6) ** (1 / (n - 1))
    assert len(coarse) == n and len(fine) == 12 - n
    assert all(best_coarse / ratio < lr < best_coarse * ratio for lr in fine)
    assert c2f.best_value <= min(t.value for t in c2f.trials[:n] if t.value is not None)


def test_fine_grid_excludes_the_centre() -> None:
    pts = fine_grid(1e-3, 10.0, 4)
    assert len(pts) == 4 and all(1e-4 < p < 1e-2 and abs(p / 1e-3 - 1) > 0.01 for p in pts)


def test_auto_searches_the_finder_interval_and_tries_the_suggestion_first() -> None:
    finder = {"suggestion": 2e-3, "interval": [6e-4, 6e-3], "cost": 0.1}
    res = tune(bowl, strategy="auto", trials=6, seed=0, finder=finder)
    lo, hi = focus_from_interval((6e-4, 6e-3), 1e-6, 1.0)
    assert res.focus == (lo, hi)
    assert res.trials[0].lr == pytest.approx(2e-3)
    # then an octave above and below the suggestion, before the sampler models anything
    assert [t.lr for t in res.trials[1:3]] == pytest.approx([4e-3, 1e-3])
    assert all(lo <= t.lr <= hi for t in res.trials)
    assert res.finder is not None and res.finder["cost"] == 0.1


def test_auto_ladder_stays_inside_the_focus_and_the_budget() -> None:
    from lrkit.tune._strategies import auto_seeds

    # 2x the suggestion would leave the focus range: only the octave below is queued
    assert auto_seeds(5e-3, (1e-4, 6e-3), 20) == pytest.approx([5e-3, 2.5e-3])
    assert auto_seeds(5e-3, (1e-4, 6e-3), 1) == pytest.approx([5e-3])
    res = tune(bowl, strategy="auto", trials=2, seed=0,
               finder={"suggestion": 2e-3, "interval": [6e-4, 6e-3]})  # fmt: skip
    assert len(res.trials) == 2


def test_auto_focus_covers_the_finder_search_range() -> None:
    # plain SGD: the finder asks for a third to 3x its fitted minimum (6e-3 here)
    finder = {"suggestion": 2e-3, "interval": [6e-4, 6e-3], "search_range": [2e-3, 1.8e-2]}
    res = tune(bowl, strategy="auto", trials=3, seed=0, finder=finder)
    assert res.focus == pytest.approx((6e-4 / 10**0.5, 1.8e-2))
    # without it, the focus is the interval extended a half-decade down (as before)
    res = tune(
        bowl,
        strategy="auto",
        trials=3,
        seed=0,
        finder={"suggestion": 2e-3, "interval": [6e-4, 6e-3]},
    )
    assert res.focus == pytest.approx((6e-4 / 10**0.5, 6e-3))
    with pytest.raises(ConfigError, match="search_range"):
        tune(bowl, strategy="auto", trials=3, seed=0,
             finder={"interval": [6e-4, 6e-3], "search_range": [1.0, 0.1]})  # fmt: skip


def test_auto_passes_the_range_test_notes_on() -> None:
    finder = {"suggestion": 2e-3, "interval": [6e-4, 6e-3], "notes": ["plain SGD (no momentum): x"]}
    res = tune(bowl, strategy="auto", trials=2, seed=0, finder=finder)
    assert res.notes == ("range test: plain SGD (no momentum): x",)
    res = tune(bowl, strategy="auto", trials=2, seed=0, finder=(6e-4, 6e-3))
    assert res.notes == ()


def test_auto_without_finder_falls_back_to_bayes_and_says_so() -> None:
    res = tune(bowl, strategy="auto", trials=4, seed=0)
    assert res.strategy == "bayes"
    assert any("finder" in n for n in res.notes)


def test_hyperband_prunes_bad_learning_rates() -> None:
    def curve(lr: float, trial: optuna.Trial) -> float:
        loss = 1.0 + (math.log10(lr) + 3.0) ** 2
        for epoch in range(1, 10):
            trial.report(loss + 1.0 / epoch, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return loss

    res = tune(curve, strategy="hyperband", trials=30, seed=0, max_resource=9)
    states = [t.state for t in res.trials]
    assert len(res.trials) == 30
    assert "pruned" in states and "complete" in states
    assert res.best_lr == pytest.approx(1e-3, rel=2.0)


def test_space_extends_the_search() -> None:
    seen = []

    def obj(lr: float, trial: optuna.Trial) -> float:
        seen.append(dict(trial.params))
        return bowl(lr, trial) + trial.params["wd"] * 100 + (trial.params["bs"] == 64)

    res = tune(
        obj,
        strategy="random",
        trials=8,
        seed=0,
        space={"wd": (1e-6, 1e-2, "log"), "bs": [32, 64], "depth": (1, 4)},
    )
    assert all({"lr", "wd", "bs", "depth"} <= set(p) for p in seen)
    assert all(
        1e-6 <= p["wd"] <= 1e-2 and p["bs"] in (32, 64) and p["depth"] in range(1, 5) for p in seen
    )
    assert set(res.best_params) == {"lr", "wd", "bs", "depth"}


def test_failing_and_nan_trials_fail_and_the_study_goes_on() -> None:
    def flaky(lr: float, trial: object) -> float:
        if lr > 1e-2:
            raise RuntimeError("exploded")
        if lr < 3e-6:
            return float("nan")
        return bowl(lr, trial)

    res = tune(flaky, strategy="grid", trials=7)
    assert len(res.trials) == 7
    assert res.errors == {
        0: "objective returned nan",
        5: "RuntimeError: exploded",
        6: "RuntimeError: exploded",
    }
    assert res.n_complete == 4 and res.best_lr == pytest.approx(1e-3)


def test_all_trials_failing_is_one_clear_error() -> None:
    def broken(lr: float, trial: object) -> float:
        raise ValueError("bad data")

    with pytest.raises(TuneError, match=r"no trial completed.*ValueError: bad data"):
        tune(broken, strategy="random", trials=3)


def test_the_same_error_on_the_first_trials_stops_the_search_early() -> None:
    calls = []

    def buggy(lr: float, trial: object) -> float:
        calls.append(lr)
        return {"loss": lr}["val_loss"]  # the same KeyError on every trial

    with pytest.raises(TuneError) as info:
        tune(buggy, strategy="random", trials=20, seed=0)
    message = str(info.value)
    assert len(calls) == 3  # not 20
    assert "\n" not in message
    assert (
        message.startswith("trial 0 (lr=")
        and "and the next 2 all raised KeyError: 'val_loss'" in message
    )


def test_flaky_failures_keep_the_search_going() -> None:
    # Different messages, or a success among the first trials: not a bug, the search goes on.
    n = iter(range(100))

    def flaky_messages(lr: float, trial: object) -> float:
        k = next(n)
        if k < 3:
            raise RuntimeError(f"worker {k} lost its connection")
        return bowl(lr, trial)

    res = tune(flaky_messages, strategy="random", trials=8, seed=0)
    assert len(res.errors) == 3 and res.n_complete == 5

    m = iter(range(100))

    def every_other(lr: float, trial: object) -> float:
        if next(m) % 2 == 0:
            raise RuntimeError("flaky")
        return bowl(lr, trial)

    res = tune(every_other, strategy="random", trials=8, seed=0)
    assert len(res.errors) == 4 and res.n_complete == 4
    # fail_fast=0 never stops: all 6 trials run and the study reports that none completed.
    k = iter(range(100))

    def always(lr: float, trial: object) -> float:
        next(k)
        raise NameError("name 'model' is not defined")

    with pytest.raises(TuneError, match="no trial completed"):
        tune(always, strategy="random", trials=6, fail_fast=0)
    assert next(k) == 6


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"low": 1e-2, "high": 1e-3}, "low must be < high"),
        ({"low": 1e-2, "high": 1e-2}, "low must be < high"),
        ({"low": 0.0}, "low must be > 0"),
        ({"low": -1e-3, "high": 1.0}, "low must be > 0"),
        ({"high": float("nan")}, "high must be a finite number"),
        ({"trials": 0}, "trials must be >= 1"),
        ({"fail_fast": -1}, "fail_fast must be >= 0"),
        ({"strategy": "sgd"}, "strategy must be one of"),
        ({"direction": "up"}, "direction must be"),
        ({"space": {"lr": [1, 2]}}, "must not contain 'lr'"),
        ({"space": {"wd": (1.0, 0.1)}}, "low < high"),
        ({"storage": "not-a-url"}, "storage must be a database URL"),
    ],
)
def test_bad_input_raises_config_error(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        tune(bowl, **{"trials": 2, **kwargs})


def test_unreachable_storage_is_one_clear_error() -> None:
    pytest.importorskip("psycopg2", reason="psycopg2 is the PostgreSQL driver")
    with pytest.raises(
        TuneError, match=r"cannot reach storage 'postgresql://u:\*\*\*@127.0.0.1:1/x'"
    ):
        tune(bowl, storage="postgresql://u:pw@127.0.0.1:1/x", study_name="s", trials=1)


def test_sqlite_resume_never_redoes_completed_trials(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tune.db'}"
    calls: list[float] = []

    def counted(lr: float, trial: object) -> float:
        calls.append(lr)
        return bowl(lr, trial)

    first = tune(counted, strategy="random", trials=4, storage=url, study_name="s", seed=0)
    assert len(calls) == 4
    again = tune(counted, strategy="random", trials=4, storage=url, study_name="s", seed=0)
    assert len(calls) == 4 and again.best_lr == first.best_lr
    more = tune(counted, strategy="random", trials=6, storage=url, study_name="s", seed=0)
    assert len(calls) == 6 and more.n_complete == 6
    with pytest.raises(ConfigError, match="created with other settings"):
        tune(counted, strategy="grid", trials=6, storage=url, study_name="s")


def test_result_to_dict_is_json_and_plot_saves(tmp_path: Path) -> None:
    res = tune(bowl, strategy="grid", trials=5)
    d = json.loads(json.dumps(res.to_dict()))
    assert d["best_lr"] == res.best_lr and len(d["trials"]) == 5
    assert d["trials"][0]["state"] == "complete"
    fig = res.plot(str(tmp_path / "t.png"))
    assert (tmp_path / "t.png").stat().st_size > 1000
    import matplotlib.pyplot as plt

    plt.close(fig)
    import dataclasses

    with pytest.raises(dataclasses.FrozenInstanceError):
        res.best_lr = 1.0  # type: ignore[misc]


def test_errors_are_lrkit_errors() -> None:
    assert issubclass(TuneError, LRKitError) and issubclass(ConfigError, ValueError)
