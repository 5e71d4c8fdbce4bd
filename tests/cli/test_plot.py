from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from lrkit.cli import cli, main


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lrkit", *args], capture_output=True, text=True, timeout=120
    )


def test_plot_prints_key_values_and_changes() -> None:
    result = CliRunner().invoke(
        cli, ["plot", "multistep(0.1, [30, 60, 80])", "--steps", "100", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["first"] == pytest.approx(0.1)
    assert data["last"] == pytest.approx(1e-4)
    assert data["changes_at"] == [30, 60, 80]
    assert data["steps"] == 100


def test_plot_defaults_to_the_schedule_horizon() -> None:
    result = CliRunner().invoke(
        cli, ["plot", "warmup(cosine(lr=1.0, steps=100), steps=10)", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["steps"] == 110  # updates 0 .. 109: the schedule's 110 steps, not one more
    assert data["peak_step"] == 10
    assert data["changes_at"][0] == 10


def test_plot_terminal_chart() -> None:
    result = CliRunner().invoke(cli, ["plot", "cosine(lr=0.5, steps=200)"])
    assert result.exit_code == 0, result.output
    assert "cosine(lr=0.5, steps=200)" in result.output
    assert "peak 0.5 at step 0" in result.output
    assert "•" in result.output


def test_plot_writes_png(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib", reason="matplotlib (lrkit[plot]) not installed")
    out = tmp_path / "lr.png"
    result = CliRunner().invoke(
        cli, ["plot", "one_cycle(max_lr=0.1, steps=500)", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("cosin(lr=1, steps=10)", "did you mean 'cosine'"),
        ("cosine(lr=-1, steps=10)", "lr=-1"),
        ("cosine(lr=1, steps=0)", "steps=0"),
        ("cosine(lr=1", "cannot parse"),
        ("__import__('os')", "unknown schedule"),
    ],
)
def test_plot_bad_spec_is_one_line_exit_2(spec: str, message: str) -> None:
    proc = run("plot", spec)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0]


def test_main_returns_exit_code_for_bad_steps(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["plot", "constant(0.1)", "--steps", "1"])
    assert exc.value.code == 2
    assert "--steps=1" in capsys.readouterr().err


def test_version() -> None:
    proc = run("--version")
    assert proc.returncode == 0 and "lrkit" in proc.stdout
