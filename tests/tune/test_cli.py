"""``lrkit tune``: table, plot, JSON, resume through SQLite, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("optuna", reason="optuna is needed for lrkit.tune")
pytest.importorskip("torch", reason="the built-in tasks need torch")

from lrkit.cli import main


def _lrkit(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


def test_tune_digits_writes_table_plot_json_and_resumes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = [
        "tune",
        "digits-mlp",
        "--strategy",
        "random",
        "--epochs",
        "1",
        "--seed",
        "0",
        "--storage",
        f"sqlite:///{tmp_path / 't.db'}",
        "--out",
        str(tmp_path),
        "--no-progress",
    ]
    code, out, err = _lrkit(capsys, *base, "--trials", "1")
    assert code == 0, err
    assert "best lr" in out and "complete" in out
    path = tmp_path / "lrkit-digits-mlp-random.json"
    data = json.loads(path.read_text())
    assert len(data["trials"]) == 1 and data["direction"] == "maximize"
    assert 0.0 <= data["best_value"] <= 1.0
    assert data["trials"][0]["cost"] == pytest.approx(1 / 20)
    assert (tmp_path / "lrkit-digits-mlp-random.png").stat().st_size > 1000
    first = data["trials"][0]
    # The same command with a larger budget resumes: trial 0 is kept, only one new trial runs.
    code, out, err = _lrkit(capsys, *base, "--trials", "2")
    assert code == 0, err
    data = json.loads(path.read_text())
    assert [t["number"] for t in data["trials"]] == [0, 1]
    assert data["trials"][0] == first


def test_bad_input_is_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _lrkit(
        capsys, "tune", "digits-mlp", "--low", "1", "--high", "0.1", "--no-progress"
    )
    assert code == 2
    assert err.strip().splitlines()[-1] == (
        "lrkit: error: low must be < high, but got low=1.0, high=0.1"
    )
    code, _, err = _lrkit(capsys, "tune", "digits-mlp", "--workers", "2", "--no-progress")
    assert code == 2 and "needs a shared --storage" in err and "Traceback" not in err
