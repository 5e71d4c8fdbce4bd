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
