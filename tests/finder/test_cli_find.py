"""``lrkit find`` end to end."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

pytest.importorskip("torch")

from lrkit.cli import cli


def test_find_prints_suggestion_and_saves_files(tmp_path) -> None:
    pytest.importorskip("matplotlib")
    res = CliRunner().invoke(
        cli, ["find", "digits-mlp", "--optimizer", "sgd", "--out", str(tmp_path), "--steps", "60"]
    )
    assert res.exit_code == 0, res.output
    assert "suggested lr =" in res.output and "interval" in res.output
    data = json.loads((tmp_path / "find-digits-mlp-sgd.json").read_text())
    assert data["task"] == "digits-mlp" and data["optimizer"] == "sgd"
    low, high = data["interval"]
    assert low <= data["suggestion"] <= high
    assert f"{data['suggestion']:.3g}" in res.output
    assert (tmp_path / "find-digits-mlp-sgd.png").stat().st_size > 1000
    # plain SGD: the caveat is printed once (not also as a Python warning) and saved
    assert res.output.count("note:") == 1 and "plain SGD (no momentum)" in res.output
    assert len(data["notes"]) == 1 and "plain SGD" in data["notes"][0]


def test_find_with_adam_has_no_note(tmp_path) -> None:
    res = CliRunner().invoke(
        cli,
        [
            "find",
            "digits-mlp",
            "--optimizer",
            "adam",
            "--out",
            str(tmp_path),
            "--steps",
            "60",
            "--repeats",
            "1",
            "--no-plot",
        ],
    )
    assert res.exit_code == 0, res.output
    assert "note:" not in res.output
    assert json.loads((tmp_path / "find-digits-mlp-adam.json").read_text())["notes"] == []


def test_find_bad_input_is_a_one_line_error(tmp_path) -> None:
    from lrkit.cli import main

    with pytest.raises(SystemExit) as info:
        main(["find", "no-such-task", "--out", str(tmp_path)])
    assert info.value.code == 2
    with pytest.raises(SystemExit) as info:
        main(["find", "digits-mlp", "--steps", "3", "--out", str(tmp_path), "--no-plot"])
    assert info.value.code == 2
