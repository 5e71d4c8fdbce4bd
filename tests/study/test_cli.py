from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from lrkit.cli import cli, main

TASK_FILE = Path(__file__).with_name("tiny_task.py")


def test_study_on_a_user_task_file(tmp_path: Path) -> None:
    res = CliRunner().invoke(
        cli,
        [
            "study",
            f"{TASK_FILE}:make",
            "--budget",
            "quick",
            "--epochs",
            "2",
            "--seeds",
            "2",
            "--schedules",
            "constant,one_cycle",
            "--optimizers",
            "adam,sgd",
            "--no-progress",
            "--out",
            str(tmp_path),
        ],
    )
    assert res.exit_code == 0, res.output
    d = json.loads((tmp_path / "results.json").read_text())
    assert d["task"]["name"] == "tiny<task>" and d["epochs"] == 2
    assert {(s["optimizer"], s["schedule"]) for s in d["summaries"]} == {
        (o, s) for o in ("adam", "sgd") for s in ("constant", "one_cycle")
    }
    assert (tmp_path / "report.html").exists()
    assert "Recommendation" in res.output


def test_bad_schedule_is_a_one_line_error(capsys) -> None:  # type: ignore[no-untyped-def]
    try:
        main(["study", "--schedules", "linear", "--no-progress"])
    except SystemExit as exc:
        assert exc.code == 2
    err = capsys.readouterr().err
    assert err.startswith("lrkit: error: schedules must be") and err.count("\n") == 1


def test_piped_summary_table_is_not_cut_at_80_columns(tmp_path: Path) -> None:
    """CliRunner's stdout is not a TTY, as in CI logs: no cell may be truncated or wrapped."""
    res = CliRunner().invoke(
        cli,
        [
            "study", f"{TASK_FILE}:make", "--epochs", "2", "--seeds", "2",
            "--schedules", "constant,exponential,one_cycle",
            "--optimizers", "adam,schedulefree_adamw", "--no-progress", "--out", str(tmp_path),
        ],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "…" not in res.output
    d = json.loads((tmp_path / "results.json").read_text())
    rows = [ln for ln in res.output.splitlines() if "│" in ln]
    for s in d["summaries"]:
        # One line holds the whole row: optimizer, schedule and the full verdict.
        assert any(
            s["optimizer"] in ln and s["schedule"] in ln and s["verdict"] in ln for ln in rows
        ), s
    assert any("epochs to target" in ln for ln in res.output.splitlines())
    # The default (standard) budget runs PBT on the first optimizer and says how it did.
    assert d["pbt"]["optimizer"] == "adam"
    assert "PBT:" in res.output and "equal-cost grid" in res.output
