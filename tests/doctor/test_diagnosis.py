from __future__ import annotations

import json
import subprocess
import sys

import pytest

from lrkit.doctor import diagnose

from . import curves


def test_explain_mentions_verdict_evidence_and_prescription() -> None:
    text = diagnose(curves.diverged()).explain()
    assert text.startswith("Verdict: the run diverged (diverged).")
    assert "train_loss is NaN from step 600 on (400 of 1000 values non-finite)" in text
    assert "Prescription: set the learning rate to 0.05 (was 0.5)" in text


def test_to_dict_round_trips_through_json() -> None:
    d = diagnose(curves.overfitting())
    out = json.loads(json.dumps(d.to_dict(), allow_nan=False))
    assert out["verdict"] == "overfitting"
    assert out["prescription"]["early_stop_step"] == d.prescription.early_stop_step
    assert out["findings"][0]["steps"][0] == d.findings[0].steps[0]
    assert out["log"]["columns"] == {"loss": "loss", "val_loss": "val_loss", "lr": "learning_rate"}


def test_plot_returns_figure(tmp_path) -> None:
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    for make in (curves.diverged, curves.overfitting, curves.plateau):
        fig = diagnose(make()).plot(path=str(tmp_path / f"{make.__name__}.png"))
        assert fig.axes and (tmp_path / f"{make.__name__}.png").exists()


def test_doctor_core_imports_no_ml_framework() -> None:
    code = (
        "import sys, lrkit.doctor, lrkit.doctor._tensorboard;"
        "print([m for m in ('torch', 'tensorflow', 'keras', 'jax') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
