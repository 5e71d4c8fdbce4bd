"""``lrkit sweep`` on a tiny task file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from lrkit.cli import cli, main
from lrkit.cli.sweep import parse_lrs
from lrkit.errors import ConfigError

TASK_FILE = """
import torch
from torch import nn
from lrkit.tasks import Task, accuracy, cross_entropy


def factory():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(128, 10, generator=g)
    y = (x[:, :3]).argmax(1)
    return Task(name="tiny", make_model=lambda: nn.Sequential(nn.Linear(10, 16), nn.ReLU(),
                nn.Linear(16, 3)), train=(x[:96], y[:96]), val=(x[96:], y[96:]),
                loss_fn=cross_entropy, metric=accuracy, optimizer="adam", lr=1e-2,
                batch_size=32, epochs=2)
"""


@pytest.fixture
def task_spec(tmp_path: Path) -> str:
    path = tmp_path / "tiny_task.py"
    path.write_text(TASK_FILE)
    return f"{path}:factory"


def test_sweep_command_writes_table_json_and_plot(task_spec: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = CliRunner().invoke(
        cli, ["sweep", task_spec, "--lrs", "1e-3:10:5", "--optimizer", "sgd", "--out", str(out)]
    )
    assert res.exit_code == 0, res.output
    assert "best lr =" in res.output and "val accuracy" in res.output
    data = json.loads((out / "sweep-tiny-sgd.json").read_text())
    assert data["lrs"] == [0.001, 0.01, 0.1, 1.0, 10.0]
    assert len(data["losses"][0]) == 6  # 2 epochs x 3 batches
    assert data["best_lr"] in data["lrs"] and data["criterion"] == "val_metric"
    assert (out / "sweep-tiny-sgd.png").stat().st_size > 1000


def test_bad_lrs_is_one_line_exit_2(task_spec: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["sweep", task_spec, "--lrs", "1:1e-3:4", "--no-plot"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--lrs must be LO:HI:K" in err and "'1:1e-3:4'" in err


def test_parse_lrs() -> None:
    assert parse_lrs("1e-4:1:32")[0] == 1e-4 and len(parse_lrs("1e-4:1:32")) == 32
    assert parse_lrs("0.5:0.5:1") == [0.5]
    for bad in ["", "a:b:c", "0:1:3", "1e-3:1:0", "1,x"]:
        with pytest.raises(ConfigError):
            parse_lrs(bad)
