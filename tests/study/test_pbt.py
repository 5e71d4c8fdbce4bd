"""The study's PBT phase: PBT against its equal-cost constant-LR grid, said plainly."""

from __future__ import annotations

import dataclasses
import html
import json
import math
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from lrkit.study import BUDGETS, Budget, run_study
from lrkit.study._wording import pbt_sentence

from .tiny_task import make

TINY_PBT = Budget("tiny", epochs=2, grid=3, span=1.0, seeds=2, optimizers=None, finder_steps=20,
                  pbt=4)  # fmt: skip

KEYS = {
    "sentence", "optimizer", "population", "epochs", "seed", "low", "high", "best_metric",
    "baseline_best_metric", "baseline_best_lr", "beat_baseline", "gap", "seed_sd", "seed_sd_of",
    "schedule_text", "baseline_lrs", "baseline_metrics", "engine", "wall_time_s", "notes",
}  # fmt: skip


def test_pbt_phase_reports_in_results_json_and_html(tmp_path: Path) -> None:
    r = run_study(make(), budget=TINY_PBT, schedules=["constant"], progress=False, out=tmp_path)
    d = json.loads((tmp_path / "results.json").read_text())["pbt"]
    assert set(d) == KEYS
    assert d["population"] == 4 and d["epochs"] == 2 and d["seed"] == 0
    assert d["optimizer"] == "adam" and isinstance(d["beat_baseline"], bool)
    grid = r.finder["adam"]["grid"]
    assert d["low"] == pytest.approx(min(grid)) and d["high"] == pytest.approx(max(grid))
    assert len(d["baseline_lrs"]) == len(d["baseline_metrics"]) == 4
    assert d["baseline_best_lr"] in d["baseline_lrs"]
    assert d["baseline_best_metric"] == max(d["baseline_metrics"])
    assert d["beat_baseline"] == (d["best_metric"] > d["baseline_best_metric"])
    assert d["gap"] == pytest.approx(abs(d["best_metric"] - d["baseline_best_metric"]))
    assert d["seed_sd_of"] == "adam/constant" and math.isfinite(d["seed_sd"])
    assert ("did not beat" in d["sentence"]) == (not d["beat_baseline"])
    assert "cannot show" in d["sentence"] and d["notes"]
    assert "timings_s" in json.loads((tmp_path / "results.json").read_text())
    assert r.timings["pbt"] > 0
    page = (tmp_path / "report.html").read_text()
    assert "Population-based training against the equal-cost grid" in page
    assert html.escape(d["sentence"], quote=True) in page
    assert html.escape(d["schedule_text"], quote=True) in page


def test_quick_budget_runs_no_pbt(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert BUDGETS["quick"].pbt == 0
    assert BUDGETS["standard"].pbt == BUDGETS["thorough"].pbt == 8

    def boom(*a: Any, **k: Any) -> Any:
        raise AssertionError("the quick budget must not run the PBT phase")

    monkeypatch.setattr("lrkit.study._runner.pbt_run", boom)
    quick = dataclasses.replace(BUDGETS["quick"], epochs=1, grid=2, seeds=2, finder_steps=10)
    r = run_study(make(), budget=quick, schedules=["constant"], progress=False, out=tmp_path)
    assert r.pbt is None and "pbt" not in r.timings
    assert json.loads((tmp_path / "results.json").read_text())["pbt"] is None
    assert "equal-cost" not in (tmp_path / "report.html").read_text()


def _fake(best: float, base: float | None, beat: bool | None) -> Any:
    return SimpleNamespace(population=8, best_metric=best, baseline_best_metric=base,
                           baseline_best_lr=None if base is None else 0.003,
                           beat_baseline=beat)  # fmt: skip


def test_sentence_says_did_not_beat() -> None:
    s = pbt_sentence(_fake(0.701, 0.712, False), accuracy_like=True, seed_sd=0.013,
                     sd_label="adam/constant")  # fmt: skip
    assert "did not beat the equal-cost grid" in s
    assert "70.1% vs 71.2%" in s and "lr=0.003" in s and "8 constant-LR trainings" in s
    assert "a gap of 1.1 points, within the seed spread" in s and "SD 1.3 points" in s
    assert "cannot show" in s and s.endswith("prefer that constant LR.")


def test_sentence_when_pbt_beat_the_grid() -> None:
    s = pbt_sentence(_fake(0.75, 0.70, True), accuracy_like=True, seed_sd=0.01, sd_label="x")
    assert "beat the equal-cost grid" in s and "did not" not in s
    assert "beyond the seed spread" in s and "cannot show that the difference is significant" in s
    # Seeds that agreed exactly: any gap is beyond a zero spread, still not significant.
    s = pbt_sentence(_fake(0.75, 0.70, True), accuracy_like=True, seed_sd=0.0, sd_label="x")
    assert "beyond the seed spread" in s and "SD 0.0 points" in s and "cannot show" in s
    # No measured spread (one seed), and a lower-is-better metric printed as a number.
    s = pbt_sentence(_fake(0.2, 0.25, True), accuracy_like=False, seed_sd=math.nan, sd_label="")
    assert "0.2 vs 0.25" in s and "measured no seed spread" in s


def test_sentence_without_a_comparison() -> None:
    s = pbt_sentence(_fake(math.nan, None, None), accuracy_like=True, seed_sd=None, sd_label="")
    assert "could not be compared" in s and "a diverged run" in s
