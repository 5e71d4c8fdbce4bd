"""``lrkit pbt`` on a tiny task file."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from lrkit.cli import cli, main
from lrkit.schedules import parse

TASK_FILE = """
import torch
from torch import nn
from lrkit.tasks import Task, accuracy, cross_entropy


def factory():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(160, 10, generator=g)
    y = (x[:, :3]).argmax(1)
    return Task(name="tiny", make_model=lambda: nn.Sequential(nn.Linear(10, 16), nn.ReLU(),
                nn.Linear(16, 3)), train=(x[:128], y[:128]), val=(x[128:], y[128:]),
                loss_fn=cross_entropy, metric=accuracy, optimizer="adam", lr=1e-2,
                batch_size=32, epochs=3)
"""


@pytest.fixture
def task_spec(tmp_path: Path) -> str:
    path = tmp_path / "tiny_task.py"
    path.write_text(TASK_FILE)
    return f"{path}:factory"


def test_pbt_command_writes_table_schedule_json_and_plot(task_spec: str, tmp_path: Path) -> None:
    out = tmp_path / "out"
    res = CliRunner().invoke(
        cli,
        ["pbt", task_spec, "--population", "4", "--interval", "2", "--optimizer", "sgd",
         "--low", "1e-3", "--high", "3", "--out", str(out)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "discovered schedule" in res.output and "val accuracy" in res.output
    data = json.loads((out / "pbt-tiny-sgd.json").read_text())
    assert data["population"] == 4 and data["steps"] == 12 and data["interval"] == 2
    # the default anneals the last quarter (2 of 6 rounds, from update 8): one member replaced
    # at each of the 4 exploits before it, none after
    assert data["anneal_from"] == 8 and len(data["lineage"]) == 4
    assert [e["step"] for e in data["lineage"]] == [2, 4, 6, 8]
    text = (out / "pbt-tiny-sgd-schedule.txt").read_text().strip()
    assert text == data["schedule"]
    # the terminal shows the rounded form (no 16-digit floats), which still parses
    shown = data["schedule_text"]
    assert shown in res.output and not re.search(r"\d\.\d{6,}", shown)
    assert parse(shown)(0) == pytest.approx(parse(text)(0), rel=1e-3)
    s = parse(text)
    assert s(0) in data["lrs"][data["winner_path"][0]]
    assert (out / "pbt-tiny-sgd.png").stat().st_size > 1000
    # the printed schedule is accepted by `lrkit plot`
    res2 = CliRunner().invoke(cli, ["plot", text, "--steps", "12", "--out", str(out / "s.png")])
    assert res2.exit_code == 0, res2.output


def test_bad_population_is_one_line_exit_2(
    task_spec: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["pbt", task_spec, "--population", "1", "--no-plot"])
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "population=1" in err
