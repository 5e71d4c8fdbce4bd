"""``lrkit scale`` on the command line."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from lrkit.cli import cli, main


def _run(*args: str):
    return CliRunner().invoke(cli, ["scale", *args])


def test_batch_sqrt_for_adam_json() -> None:
    result = _run(
        "--lr", "3e-4", "--from-batch", "256", "--to-batch", "4096", "--optimizer", "adam", "--json"
    )
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["batch"]["rule"] == "sqrt" and out["batch"]["lr"] == pytest.approx(1.2e-3)


def test_batch_linear_text_with_warmup() -> None:
    result = _run(
        "--lr", "0.1", "--from-batch", "256", "--to-batch", "4096", "--dataset-size", "50000"
    )
    assert result.exit_code == 0, result.output
    assert "linear rule: lr 1.6 (x16" in result.output
    assert "5 epochs (62 updates)" in result.output


def test_width_table_and_alias() -> None:
    result = _run("--lr", "1e-2", "--from-width", "256", "--width", "1024", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)["width"]
    assert out["hidden"]["lr"] == pytest.approx(2.5e-3)
    assert out["input"]["lr"] == pytest.approx(1e-2)
    text = _run("--lr", "1e-2", "--from-width", "256", "--to-width", "1024").output
    assert "hidden weights" in text and "0.0025" in text


def test_warning_goes_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["scale", "--lr", "0.1", "--from-batch", "256", "--to-batch", "16384", "--json"])
    assert exc.value.code == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["batch"]["warning"]
    assert "warning: batch=16384 is past 8192" in captured.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "give --from-batch"),
        (["--from-batch", "256"], "--to-batch=None"),
        (["--from-width", "64"], "--to-width=None"),
        (["--from-batch", "256", "--to-batch", "0"], "batch=0"),
        (["--from-width", "64", "--to-width", "128", "--optimizer", "lion"], "optimizer='lion'"),
    ],
)
def test_errors_are_one_line(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["scale", "--lr", "0.1", *args])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
