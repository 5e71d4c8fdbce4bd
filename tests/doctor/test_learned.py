"""The doctor's learned second opinion: inference, the shipped model, how it changes a verdict."""

from __future__ import annotations

import numpy as np
import pytest

from lrkit.doctor import Thresholds, diagnose, read_log
from lrkit.doctor._diagnose import _ranked, diagnose_parsed, rule_verdict
from lrkit.doctor._diagnosis import VERDICTS
from lrkit.doctor._learned import MISSING, Forest, features, forest, forest_dict


def _curve(seed: int = 0) -> dict[str, np.ndarray]:
    """A healthy run under warm-up + cosine: falls fast, then settles as the LR decays."""
    rng = np.random.default_rng(seed)
    s = np.arange(300, dtype=float)
    loss = 2.0 * np.exp(-s / 60) + 0.3 + rng.normal(0, 0.02, 300)
    lr = np.minimum(s / 30, 1) * 1e-3 * 0.5 * (1 + np.cos(np.pi * s / 300))
    return {"step": s, "loss": loss, "lr": lr}


def _constant(probs: dict[str, float]) -> Forest:
    """A forest of one leaf: the same probabilities for every log."""
    classes = sorted(probs)
    return Forest.from_dict(
        {
            "names": ["progress"],
            "classes": classes,
            "roots": [0],
            "feature": [-1],
            "threshold": [0.0],
            "left": [-1],
            "right": [-1],
            "value": [[probs[c] for c in classes]],
            "meta": {"n_train": 3},
        }
    )


def test_inference_matches_scikit_learn() -> None:
    ensemble = pytest.importorskip("sklearn.ensemble", reason="needs scikit-learn (lrkit[torch])")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 5)).astype(np.float32)
    y = np.where(x[:, 0] + 0.5 * x[:, 1] ** 2 > 0.3, "healthy", "lr_too_high")
    y[x[:, 2] > 1.2] = "plateau"
    names = [f"f{i}" for i in range(5)]
    m = ensemble.RandomForestClassifier(n_estimators=20, min_samples_leaf=3, random_state=0)
    m.fit(x, y)
    f = Forest.from_dict(forest_dict(m, names, {}))
    test = rng.normal(size=(200, 5)).astype(np.float32)
    want = m.predict_proba(test)
    got = np.array([[f.proba(dict(zip(names, row)))[c] for c in m.classes_] for row in test])
    assert np.abs(want - got).max() < 1e-4


def test_shipped_model_reads_the_features_lrkit_computes() -> None:
    model = forest()
    assert model is not None, "src/lrkit/doctor/verdict_model.json.gz is missing"
    assert set(model.classes) <= set(VERDICTS)
    assert model.meta["n_train"] > 500
    log = read_log(_curve())
    t = Thresholds()
    verdict, findings, c = rule_verdict(log, t)
    f = features(log, c, verdict, _ranked(findings, verdict), t)
    # every feature the model splits on is one lrkit computes (none silently MISSING)
    used = {model.names[i] for i in set(model.feature.tolist()) if i >= 0}
    assert used <= set(f) | {"lognv", "vargmin", "vrise", "vprog", "vtail", "gap"}
    p = model.proba(f)
    assert abs(sum(p.values()) - 1) < 1e-6


def test_a_confident_second_opinion_replaces_the_rules_verdict() -> None:
    log = read_log(_curve())
    rules = diagnose_parsed(log, Thresholds(), None)
    assert rules.verdict == "healthy", rules.explain()
    d = diagnose_parsed(log, Thresholds(), _constant({"healthy": 0.2, "plateau": 0.8}))
    assert d.verdict == "plateau"
    note = [f for f in d.findings if f.statistic == "learned_probability"]
    assert note and note[0].severity == "error" and note[0].evidence == "weak"
    assert "80%" in note[0].message and d.evidence == "weak"
    assert "decay" in d.prescription.text


def test_a_narrow_margin_or_margin_zero_keeps_the_rules_verdict() -> None:
    log = read_log(_curve())
    close = _constant({"healthy": 0.45, "plateau": 0.55})
    assert diagnose_parsed(log, Thresholds(), close).verdict == "healthy"
    sure = _constant({"healthy": 0.1, "plateau": 0.9})
    assert diagnose_parsed(log, Thresholds(learned_margin=0.0), sure).verdict == "healthy"


@pytest.mark.parametrize("verdict", [v for v in VERDICTS if v not in ("healthy", "diverged")])
def test_every_learned_verdict_gets_a_prescription(verdict: str) -> None:
    data = _curve(1)
    data["val_loss"] = data["loss"][::10] + np.linspace(0, 0.3, 30)
    data["val_step"] = data["step"][::10]
    log = read_log(
        {"step": data["step"], "loss": data["loss"], "lr": data["lr"]}
        | {"val_loss": np.interp(data["step"], data["val_step"], data["val_loss"])}
    )
    d = diagnose_parsed(log, Thresholds(), _constant({"healthy": 0.0, verdict: 1.0}))
    assert d.verdict == verdict
    assert d.prescription.text
    mine = [f for f in d.findings if f.kind == verdict and f.severity == "error"]
    assert mine and all(f.steps[0] <= f.steps[1] for f in mine)


def test_a_learned_healthy_keeps_the_rules_findings_as_notes() -> None:
    rng = np.random.default_rng(0)
    s = np.arange(200, dtype=float)
    data = {"step": s, "loss": 2.3 - 0.002 * s + rng.normal(0, 1e-3, 200)}  # no LR column
    log = read_log(data)
    assert diagnose_parsed(log, Thresholds(), None).verdict == "lr_too_low"
    d = diagnose_parsed(log, Thresholds(), _constant({"healthy": 0.9, "lr_too_low": 0.1}))
    assert d.verdict == "healthy"
    assert all(f.severity == "warning" for f in d.findings)
    assert any(f.statistic == "learned_probability" for f in d.findings)
    assert "nothing to change" in d.prescription.text


def test_features_are_scale_free() -> None:
    a = _curve(2)
    scaled = {**a, "loss": 1000.0 * a["loss"]}
    t = Thresholds()
    out = []
    for data in (a, scaled):
        log = read_log(data)
        v, fs, c = rule_verdict(log, t)
        out.append(features(log, c, v, _ranked(fs, v), t))
    assert out[0].keys() == out[1].keys()
    for k in out[0]:
        assert out[0][k] == pytest.approx(out[1][k], rel=1e-6, abs=1e-9), k
    assert MISSING not in out[0].values()


def test_diagnose_uses_the_shipped_model_by_default() -> None:
    d = diagnose(_curve())
    assert d.verdict in VERDICTS


def test_events_and_a_constant_lr_are_not_overruled() -> None:
    sure_healthy = _constant({"healthy": 1.0, "lr_too_low": 0.0, "plateau": 0.0})
    rng = np.random.default_rng(0)
    s = np.arange(300, dtype=float)
    # a logged NaN: diverged whatever the forest says
    nan = 2.0 * np.exp(-s / 60) + 0.3
    nan[200:] = np.nan
    log = read_log({"step": s, "loss": nan, "lr": np.full(300, 1e-3)})
    assert diagnose_parsed(log, Thresholds(), sure_healthy).verdict == "diverged"
    # spikes: too high or unstable, not healthy
    spiky = 2.0 * np.exp(-s / 60) + 0.3 + rng.normal(0, 0.01, 300)
    spiky[[80, 130, 170, 220, 260]] = 9.0
    log = read_log({"step": s, "loss": spiky, "lr": np.full(300, 1e-3)})
    rules = diagnose_parsed(log, Thresholds(), None).verdict
    assert rules in ("lr_too_high", "unstable")
    assert diagnose_parsed(log, Thresholds(), sure_healthy).verdict == rules
    # a plateau under a constant logged LR keeps its decay prescription ...
    floor = (0.6 + 1.7 * np.exp(-s / 20)) * np.exp(rng.normal(0, 0.2, 300))
    log = read_log({"step": s, "loss": floor, "lr": np.full(300, 0.1)})
    assert diagnose_parsed(log, Thresholds(), None).verdict == "plateau"
    assert diagnose_parsed(log, Thresholds(), sure_healthy).verdict == "plateau"
    # ... and without an LR column the forest may call it healthy
    log = read_log({"step": s, "loss": floor})
    assert diagnose_parsed(log, Thresholds(), None).verdict == "plateau"
    assert diagnose_parsed(log, Thresholds(), sure_healthy).verdict == "healthy"
    # the forest never calls a run diverged
    sure_diverged = _constant({"healthy": 0.0, "diverged": 1.0})
    assert diagnose_parsed(log, Thresholds(), sure_diverged).verdict == "plateau"


def test_an_inconclusive_log_becomes_only_healthy_or_too_high() -> None:
    rng = np.random.default_rng(1)
    s = np.arange(600, dtype=float)
    log = read_log({"step": s, "loss": 1.2 * np.exp(rng.normal(0, 0.3, 600))})
    assert diagnose_parsed(log, Thresholds(), None).verdict == "inconclusive"
    to = {v: diagnose_parsed(log, Thresholds(), _constant({v: 1.0, "inconclusive": 0.0})).verdict
          for v in ("plateau", "lr_too_low", "healthy", "lr_too_high")}  # fmt: skip
    assert to == {"plateau": "inconclusive", "lr_too_low": "inconclusive",
                  "healthy": "healthy", "lr_too_high": "lr_too_high"}  # fmt: skip


def test_a_learned_plateau_of_a_loss_that_barely_moved_prescribes_no_decay() -> None:
    rng = np.random.default_rng(0)
    s = np.arange(0, 10000, 50, dtype=float)
    log = read_log(
        {"step": s, "loss": (7.68 - 0.02 * s / s[-1]) * np.exp(rng.normal(0, 0.004, 200))}
    )
    assert diagnose_parsed(log, Thresholds(), None).verdict == "lr_too_low"
    d = diagnose_parsed(log, Thresholds(), _constant({"plateau": 1.0, "lr_too_low": 0.0}))
    assert d.verdict == "plateau"
    assert d.prescription.text.startswith("no LR decay helps") and d.prescription.lr is None
