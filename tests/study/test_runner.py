from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
import torch

from lrkit.errors import ConfigError
from lrkit.study import Budget, run_study, write_report

from .tiny_task import make

TINY = Budget("tiny", epochs=3, grid=3, span=1.0, seeds=2, optimizers=None, finder_steps=30)


@pytest.fixture(scope="module")
def result():  # type: ignore[no-untyped-def]
    return run_study(
        make(), budget=TINY, schedules=["constant", "cosine", "plateau"], progress=False
    )


def _finite(x: object) -> bool:
    if isinstance(x, float):
        return math.isfinite(x)
    if isinstance(x, dict):
        return all(_finite(v) for v in x.values())
    if isinstance(x, list):
        return all(_finite(v) for v in x)
    return True


def test_result_is_complete_and_json_safe(result) -> None:  # type: ignore[no-untyped-def]
    d = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert _finite(d)
    assert d["schedules"] == ["constant", "cosine", "plateau"]
    assert [s["schedule"] for s in d["summaries"]] == ["constant", "cosine", "plateau"]
    assert len(d["runs"]) == 3 * 2 and {r["seed"] for r in d["runs"]} == {1, 2}
    assert d["finder"]["adam"]["suggestion"] > 0 and len(d["finder"]["adam"]["grid"]) == 3
    rec = d["recommendation"]
    assert rec["schedule"] in d["schedules"] and rec["lr"] in d["finder"]["adam"]["grid"]
    best = [s for s in d["summaries"] if s["verdict"] == "best"]
    assert len(best) == 1 and best[0]["mean"] == max(s["mean"] for s in d["summaries"])
    for s in d["summaries"]:
        assert s["verdict"] in {
            "best",
            "worse",
            "worse (below val SE)",
            "inconclusive",
            "within noise",
            "cannot tell",
        }
        assert all(
            v
            in {
                "healthy",
                "diverged",
                "lr_too_high",
                "unstable",
                "overfitting",
                "lr_too_low",
                "plateau",
                "inconclusive",
                "unavailable",
            }
            for v in s["doctor_verdicts"]
        )
    assert d["val_standard_error"] == pytest.approx(
        math.sqrt(best[0]["mean"] * (1 - best[0]["mean"]) / 200)
    )


def test_statements_never_claim_unsupported_wins(result) -> None:  # type: ignore[no-untyped-def]
    for s in result.summaries:
        if s.verdict == "worse":
            assert s.p_holm is not None and s.p_holm < 0.05 and s.ci is not None and s.ci[0] > 0
        if s.verdict != "best":
            assert s.sentence in result.statements


def test_threads_restored() -> None:
    before = torch.get_num_threads()
    run_study(
        make(), budget=TINY, schedules=["constant"], seeds=1, epochs=1, progress=False, threads=1
    )
    assert torch.get_num_threads() == before


def test_report_is_self_contained_and_escaped(result, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = write_report(result, tmp_path)
    html = path.read_text()
    assert "tiny&lt;task&gt;" in html and "tiny<task>" not in html
    assert "<script" not in html.lower() and "<link" not in html.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert html.count("data:image/png;base64,") == 4
    for needle in ("Recommendation", "within", "standard error", "Range test", "doctor"):
        assert needle in html
    assert json.loads((tmp_path / "results.json").read_text())["task"]["name"] == "tiny<task>"


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"budget": "huge"}, "budget"),
        ({"schedules": ["linear"]}, "schedules"),
        ({"optimizers": ["lion"]}, "optimizers"),
        ({"seeds": 0}, "seeds"),
        ({"epochs": 0}, "epochs"),
        ({"threads": 0}, "threads"),
    ],
)
def test_bad_arguments(kw: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        run_study(make(), progress=False, **kw)


def test_lower_is_better_metric(tmp_path: Path) -> None:
    from dataclasses import replace

    from lrkit.tasks import cross_entropy

    task = replace(
        make("tiny-loss"),
        metric=lambda logits, y: float(cross_entropy(logits, y)),
        metric_name="loss",
        higher_is_better=False,
    )
    r = run_study(task, budget=TINY, schedules=["constant", "cosine"], progress=False)
    d = r.to_dict()
    assert not r.accuracy_like and d["val_standard_error"] is None
    best = next(s for s in d["summaries"] if s["verdict"] == "best")
    assert best["mean"] == min(s["mean"] for s in d["summaries"])
    assert d["target"] == pytest.approx(1.05 * best["mean"])
    assert "tiny-loss" in write_report(r, tmp_path).read_text()


def test_one_seed_never_claims_a_difference() -> None:
    r = run_study(
        make(), budget=TINY, schedules=["constant", "cosine"], seeds=1, epochs=1, progress=False
    )
    verdicts = {s.verdict for s in r.summaries}
    assert verdicts <= {"best", "cannot tell"} and "best" in verdicts


def test_degrades_gracefully_when_peers_fail(monkeypatch: pytest.MonkeyPatch) -> None:
    import lrkit.doctor
    import lrkit.finder
    import lrkit.sweep
    from lrkit.errors import FinderError

    def broken_finder(*a: object, **k: object) -> None:
        raise FinderError("no suggestion")

    def broken(*a: object, **k: object) -> None:
        raise RuntimeError("kaputt")

    monkeypatch.setattr(lrkit.finder, "find_lr_on_task", broken_finder)
    monkeypatch.setattr(lrkit.sweep, "sweep", broken)
    monkeypatch.setattr(lrkit.doctor, "diagnose", broken)
    task = make()
    r = run_study(task, budget=TINY, schedules=["constant"], seeds=1, epochs=1, progress=False)
    notes = " ".join(r.notes)
    assert "range test for adam failed" in notes and "FinderError" in notes
    assert "lrkit.sweep failed" in notes and "sequentially" in notes
    assert r.finder["adam"]["centre"] == task.lr
    assert r.curves[0].engine.startswith("sequential") and r.recommendation is not None
    assert {run.doctor["verdict"] for run in r.runs} == {"unavailable"}


def test_finder_notes_become_study_notes_not_warnings() -> None:
    """Plain SGD's range-test caveat reaches the study's notes (and report), not the console."""
    import warnings

    from lrkit.errors import LRKitWarning

    with warnings.catch_warnings():
        warnings.simplefilter("error", LRKitWarning)
        r = run_study(
            make(),
            budget=TINY,
            optimizers=["sgd", "sgd_momentum"],
            schedules=["constant"],
            seeds=1,
            epochs=1,
            progress=False,
        )
    sgd_notes = [n for n in r.notes if n.startswith("Range test (sgd): plain SGD")]
    assert len(sgd_notes) == 1
    assert not any(n.startswith("Range test (sgd_momentum): plain SGD") for n in r.notes)
