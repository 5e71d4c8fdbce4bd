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


def test_find_regime_finetune_on_a_pretrained_task_file(tmp_path) -> None:
    # a task file whose model is pretrained (a tiny MLP trained before the finder runs)
    task_file = tmp_path / "ft_task.py"
    task_file.write_text(
        """
import torch
from torch import nn
from lrkit.tasks import Task, accuracy, cross_entropy

def task():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(600, 16, generator=g)
    y = (x @ torch.randn(16, 4, generator=g)).argmax(1)
    torch.manual_seed(1)
    net = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 4))
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    for i in range(300):
        idx = torch.arange(i * 32, (i + 1) * 32) % 600
        loss = cross_entropy(net(x[idx]), y[idx])
        opt.zero_grad(); loss.backward(); opt.step()
    state = {k: v.clone() for k, v in net.state_dict().items()}
    def make():
        m = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 4))
        m.load_state_dict(state)
        return m
    return Task("ft", make, (x[:400] + 0.5, y[:400]), (x[400:] + 0.5, y[400:]),
                cross_entropy, accuracy, optimizer="adamw", batch_size=32)
"""
    )
    spec = f"{task_file}:task"
    for regime, val, trials, metric in (
        ("auto", "--val-data", "10", "--metric"),
        ("finetune", "--val-data", "10", "--metric"),
        ("auto", "--no-val-data", "10", "--metric"),
        ("auto", "--val-data", "10", "--no-metric"),
        ("auto", "--val-data", "0", "--metric"),
    ):
        res = CliRunner().invoke(
            cli,
            ["find", spec, "--out", str(tmp_path), "--steps", "40", "--repeats", "1",
             "--no-plot", "--regime", regime, val, "--trial-steps", trials, metric],
        )  # fmt: skip
        assert res.exit_code == 0, res.output
        data = json.loads((tmp_path / "find-ft-adamw.json").read_text())
        assert data["regime"] == "finetune" and data["method"] == "finetune"
        assert (data["detection"] is not None) == (regime == "auto")
        low, high = data["interval"]
        assert low < data["suggestion"] < high
        if trials == "0":  # no trials: the fitted minimum / 10, pointing to the trials
            assert data["trials"] is None and "/ 10" in res.output
        else:
            assert data["trials"]["trial_steps"] == 10 and 4 <= len(data["trials"]["lrs"]) <= 8
            assert "trials of 10 updates" in res.output
            # --val-data: the task's validation split; --no-val-data: 80 held-out training samples
            assert ("80 held-out training samples" in res.output) == (val == "--no-val-data")
            # --metric (the default): the trials are scored on the task's accuracy
            scored = data["trials"]["val_metrics"]
            assert (scored is not None) == (metric == "--metric")
            if scored is not None:
                assert (
                    all(0.0 <= v <= 1.0 for v in scored) and data["trials"]["metric_mode"] == "max"
                )


def test_find_rejects_a_bad_regime(tmp_path) -> None:
    res = CliRunner().invoke(cli, ["find", "digits-mlp", "--regime", "pretrained", "--no-plot"])
    assert res.exit_code == 2 and "regime" in res.output
