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


def test_schedule_free_plateau_runs_score_the_evaluation_weights() -> None:
    """Plateau runs evaluate a schedule-free optimizer at its averaged weights, like every run.

    One grid LR, two epochs: the plateau rule cannot cut before the run ends, so the plateau
    and constant final runs train identically and must score identically. Before the loops
    were merged, the plateau loop scored the training iterate and the two differed.
    """
    pytest.importorskip("schedulefree")
    one_lr = Budget("one-lr", epochs=2, grid=1, span=1.0, seeds=1, optimizers=None, finder_steps=30)
    r = run_study(
        make(),
        budget=one_lr,
        optimizers=["schedulefree_adamw"],
        schedules=["constant", "plateau"],
        progress=False,
    )
    const, plateau = (next(x for x in r.runs if x.schedule == s) for s in ("constant", "plateau"))
    assert const.lr == plateau.lr and set(plateau.lr_at_epoch) == {plateau.lr}
    assert plateau.val_metric == const.val_metric
    assert plateau.val_loss == pytest.approx(const.val_loss, rel=1e-6)


def test_recommendation_says_how_to_use_the_winner(result, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from lrkit.schedules import parse
    from lrkit.tasks import build_schedule

    rec = result.recommendation
    total = result.epochs * make().steps_per_epoch
    assert parse(rec.schedule_text) == build_schedule(rec.schedule, rec.lr, total)
    assert set(rec.snippets) == {"pytorch", "lightning", "keras"}
    for framework, code in rec.snippets.items():
        compile(code, framework, "exec")  # valid Python
        assert rec.schedule_text in code
    assert any(rec.schedule_text in step for step in rec.next_steps)
    # The PyTorch snippet runs as printed, given a model, a loader and a loss.
    model = torch.nn.Linear(10, 3)
    x, y = torch.randn(8, 10), torch.randint(0, 3, (8,))
    env = {"model": model, "loader": [(x, y)], "loss_fn": torch.nn.functional.cross_entropy,
           "epochs": 2, "val_loss": 1.0}  # fmt: skip
    exec(rec.snippets["pytorch"], env)
    assert env["opt"].param_groups[0]["lr"] == pytest.approx(parse(rec.schedule_text)(2))
    d = json.loads(json.dumps(result.to_dict()))["recommendation"]
    assert d["schedule_text"] == rec.schedule_text and d["snippets"] == rec.snippets
    html = write_report(result, tmp_path).read_text()
    assert "Next steps" in html and f"<code>{rec.schedule_text}</code>" in html
    for title in ("PyTorch", "Lightning", "Keras"):
        assert f"<details><summary>{title}</summary><pre>" in html


def test_basin_width_is_a_factor_not_zero_decades(result, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for s in result.summaries:
        assert s.basin is not None and s.basin_factor is not None
        lo, hi = s.basin[0], s.basin[1]
        assert s.basin_factor >= hi / lo * (1 - 1e-9)  # interpolation only widens it
    html = write_report(result, tmp_path).read_text()
    assert "width (×)" in html and "width (decades)" not in html


def test_runs_at_chance_count_as_failed() -> None:
    from dataclasses import replace

    from lrkit.study._analysis import analyse, chance_level, mark_chance, summarise
    from lrkit.study._tables import summary_table

    task = make()
    chance = chance_level(task)
    y = task.val[1].numpy()
    assert chance == pytest.approx(max((y == c).mean() for c in set(y.tolist())))
    base = run_study(
        task, budget=TINY, schedules=["constant", "cosine"], seeds=2, epochs=1, progress=False
    )
    runs = list(base.runs)
    stuck = replace(runs[-1], final_metric=chance, val_metric=(chance,))  # collapsed seed
    runs, curves = mark_chance(task, [*runs[:-1], stuck], list(base.curves))
    assert runs[-1].at_chance and runs[-1].failed and not runs[-1].diverged
    assert not any(r.at_chance for r in runs[:-1])
    a = analyse(task, runs)
    summaries, _ = summarise(a, task, base.optimizers, base.schedules, curves)
    assert [s.failed for s in summaries] == [0, 1]
    assert summaries[1].to_dict()["failed_seeds"] == 1
    assert "<td class='num'>1/2</td>" in summary_table(replace(base, summaries=tuple(summaries)))
    assert [r.to_dict()["at_chance"] for r in runs] == [False, False, False, True]


def test_two_seeds_print_no_runtime_warning() -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        r = run_study(
            make(), budget=TINY, schedules=["constant", "cosine"], seeds=2, epochs=1, progress=False
        )
    assert len(r.runs) == 4
