from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from lrkit.study._stats import basin, binomial_se, compare, holm, time_to_target


def test_binomial_se_matches_formula_and_rejects_bad_input() -> None:
    assert binomial_se(0.9, 1000) == pytest.approx(math.sqrt(0.09 / 1000))
    assert math.isnan(binomial_se(0.5, 0))
    assert math.isnan(binomial_se(1.5, 100))


def test_compare_matches_scipy_welch_and_orients_the_sign() -> None:
    a, b = [0.90, 0.91, 0.92, 0.905], [0.85, 0.87, 0.86]
    c = compare(a, b, higher_is_better=True)
    assert c.delta == pytest.approx(np.mean(a) - np.mean(b))
    assert c.p_value == pytest.approx(stats.ttest_ind(a, b, equal_var=False).pvalue)
    assert c.ci_low < c.delta < c.ci_high and c.ci_low > 0
    # For a loss, lower is better: the same numbers mean "b is better", so delta flips sign.
    assert compare(a, b, higher_is_better=False).delta == pytest.approx(-c.delta)


def test_compare_interval_covers_zero_for_noise() -> None:
    rng = np.random.default_rng(0)
    a, b = rng.normal(0.9, 0.02, 3), rng.normal(0.9, 0.02, 3)
    c = compare(a, b, True)
    assert c.ci_low < 0 < c.ci_high
    assert c.p_value > 0.05


def test_compare_with_one_seed_has_no_test() -> None:
    c = compare([0.9], [0.8], True)
    assert c.delta == pytest.approx(0.1)
    assert math.isnan(c.p_value) and c.ci_low == -math.inf


def test_holm_is_monotone_and_bounded() -> None:
    p = [0.01, 0.04, 0.03, float("nan"), 0.5]
    adj = holm(p)
    assert adj[0] == pytest.approx(0.04)  # 4 finite p-values: 4 * 0.01
    assert adj[2] == pytest.approx(0.09) and adj[1] == pytest.approx(0.09)
    assert math.isnan(adj[3]) and adj[4] == pytest.approx(0.5)
    assert all(a >= q for a, q in zip(adj, p) if not math.isnan(q))


def test_basin_contiguous_and_edges() -> None:
    lrs = [1e-4, 1e-3, 1e-2, 1e-1, 1.0]
    assert basin(lrs, [0.5, 0.89, 0.9, 0.2, 0.89], 0.02, True) == (1e-3, 1e-2, 1.0, False)
    # A diverged point (NaN) ends the basin; best at the edge is flagged.
    assert basin(lrs, [0.9, float("nan"), 0.9, 0.9, 0.9], 0.01, True) == (1e-4, 1e-4, 0.0, True)
    assert basin(lrs, [float("nan")] * 5, 0.1, True) is None
    # Lower is better for a loss.
    assert basin(lrs, [3.0, 1.0, 1.05, 2.0, 3.0], 0.1, False) == (1e-3, 1e-2, 1.0, False)


def test_time_to_target() -> None:
    assert time_to_target([0.1, 0.5], [1.0, 2.0], 0.9, True) == (None, None)
    assert time_to_target([2.0, 1.0, 0.5], [1.0, 2.0, 3.0], 1.0, False) == (2, 2.0)


def test_judge_verdicts() -> None:
    from lrkit.study._wording import judge as _judge

    best = [0.94, 0.945, 0.935, 0.94, 0.95]
    se = binomial_se(0.94, 1000)
    cases = {
        "worse": [0.89, 0.895, 0.885, 0.89, 0.9],
        "unreliable": [0.94, 0.2, 0.93, 0.5, 0.92],
        "within noise": [0.94, 0.935, 0.945, 0.93, 0.95],
    }
    for expected, other in cases.items():
        c = compare(best, other, True)
        spread = max(np.std(best, ddof=1), np.std(other, ddof=1))
        verdict, sentence = _judge(
            "a/x", "a/best", c, c.p_value * 6, se, 100.0, " points", spread,
            sd_best=float(np.std(best, ddof=1)), sd_other=float(np.std(other, ddof=1)),
        )  # fmt: skip
        assert verdict == expected, (expected, sentence)
        assert "a/x" in sentence and "Holm-adjusted" in sentence


def test_seeds_needed_matches_the_t_test_power_calculation() -> None:
    from scipy import stats

    from lrkit.study._stats import detectable_delta, seeds_needed

    # A gap of one SD at 5%/80%: 17 per arm (exact noncentral-t power: 0.78 at 16, 0.81 at 17).
    assert seeds_needed(0.02, 0.02) == 17
    # n is the smallest count whose detectable gap is below the observed one.
    for delta, sd in ((0.05, 0.02), (0.15, 0.055), (0.004, 0.006)):
        n = seeds_needed(delta, sd)
        assert n is not None and n >= 2
        assert detectable_delta(n, sd) <= delta < detectable_delta(n - 1, sd) or n == 2
    # Check one value against the noncentral t power directly.
    n = seeds_needed(0.03, 0.02, alpha=0.05 / 6)
    assert n is not None
    df, nc = 2 * n - 2, 0.03 / (0.02 * (2 / n) ** 0.5)
    power = stats.nct.sf(stats.t.ppf(1 - 0.05 / 12, df), df, nc)
    assert power > 0.78  # the usual approximation, within a few points of exact power
    assert seeds_needed(0.0, 0.02) is None and seeds_needed(0.01, 0.0) is None
    assert seeds_needed(1e-6, 0.05, cap=50) == 51  # a tie for practical purposes


def test_open_comparisons_say_how_many_seeds_would_settle_them() -> None:
    from lrkit.study._stats import seeds_needed
    from lrkit.study._wording import judge

    best, other = [0.80, 0.72, 0.77], [0.70, 0.58, 0.66]  # 5 points apart, 3 seeds: open
    c = compare(best, other, True)
    sd = float(np.sqrt((np.var(best, ddof=1) + np.var(other, ddof=1)) / 2))
    need = seeds_needed(c.delta, sd)
    verdict, sentence = judge(
        "a/x", "a/best", c, c.p_value * 3, 0.013, 100.0, " points", 0.05,
        sd_best=float(np.std(best, ddof=1)), sd_other=float(np.std(other, ddof=1)), seeds=need,
    )  # fmt: skip
    assert verdict == "inconclusive", sentence
    assert f"≈{need} seeds per arm" in sentence and "95% CI upper end" in sentence
    assert f"{100 * c.ci_high:.1f} points" in sentence
    # A gap far inside the noise reads as a practical tie.
    c = compare([0.9, 0.92, 0.91], [0.905, 0.915, 0.9], True)
    verdict, sentence = judge(
        "a/y", "a/best", c, 1.0, 0.01, 100.0, " points", 0.01, seeds=1001, cap=1000
    )
    assert verdict == "within noise" and "More than 1000 seeds per arm" in sentence


def test_two_seeds_with_identical_values_raise_no_runtime_warning() -> None:
    import warnings

    from scipy import stats

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        c = compare([0.5, 0.5], [0.6, 0.61], False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SciPy's own test warns here: the bug this guards
        ref = stats.ttest_ind([0.6, 0.61], [0.5, 0.5], equal_var=False)
    assert c.p_value == pytest.approx(float(ref.pvalue), rel=1e-9)
    for a, b in (([0.94, 0.95, 0.93], [0.9, 0.92, 0.89]), ([0.1, 0.3], [0.2, 0.2])):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ref = stats.ttest_ind(a, b, equal_var=False)
        assert compare(a, b, True).p_value == pytest.approx(float(ref.pvalue), rel=1e-9)


def test_basin_factor_resolves_single_point_basins() -> None:
    from lrkit.study._stats import basin_factor

    lrs = [1e-3, 1e-2, 1e-1, 1.0]
    # One grid point within tolerance: 0 decades by grid points, but a real width.
    assert basin(lrs, [0.5, 0.9, 0.6, 0.1], 0.05, True)[2] == 0.0
    f = basin_factor(lrs, [0.5, 0.9, 0.6, 0.1], 0.05, True)
    assert f is not None and 1.0 < f < 100.0
    # Edges interpolate: a shallower neighbour gives a wider basin.
    assert basin_factor(lrs, [0.5, 0.9, 0.8, 0.1], 0.05, True) > f
    # Diverged neighbours and the grid's ends stop the edge at the last good point.
    assert basin_factor(lrs, [float("nan"), 0.9, float("nan"), 0.1], 0.05, True) == 1.0
    assert basin_factor(lrs, [float("nan")] * 4, 0.05, True) is None
    # Lower is better.
    assert basin_factor(lrs, [3.0, 1.0, 1.05, 2.0], 0.1, False) > 10.0


def test_at_chance() -> None:
    from lrkit.study._stats import at_chance

    assert at_chance(0.1, 0.1, 1000) and at_chance(0.115, 0.1, 1000)
    assert not at_chance(0.2, 0.1, 1000) and not at_chance(0.13, 0.1, 1000)
    assert not at_chance(float("nan"), 0.1, 1000) and not at_chance(0.1, 1.0, 1000)
