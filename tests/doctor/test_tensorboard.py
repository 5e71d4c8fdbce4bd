"""Logs written by a real ``torch.utils.tensorboard.SummaryWriter``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorboard", reason="needs the tensorboard package")
torch_tb = pytest.importorskip("torch.utils.tensorboard", reason="needs torch")

from lrkit.doctor import diagnose, read_log  # noqa: E402
from lrkit.errors import LogFormatError  # noqa: E402


def _write(run: Path, n: int, *, new_style: bool = False, nan_from: int | None = None) -> None:
    w = torch_tb.SummaryWriter(log_dir=str(run))
    for k in range(n):
        loss = 0.05 + 2.25 * np.exp(-k / (n / 8))
        if nan_from is not None and k >= nan_from:
            loss = float("nan")
        w.add_scalar("train/loss", loss, k, new_style=new_style)
        w.add_scalar("lr", 1e-3 * 0.5 * (1 + np.cos(np.pi * k / n)), k, new_style=new_style)
        if k % 100 == 99:
            w.add_scalar("val/loss", loss * 1.1, k, new_style=new_style)
    w.close()


def test_summary_writer_run_dir_is_read_without_sampling(tmp_path: Path) -> None:
    n = 12_000  # above EventAccumulator's default reservoir of 10,000 scalars
    _write(tmp_path / "run", n)
    log = read_log(tmp_path / "run")
    assert log.format == "tensorboard"
    assert log.columns == {"loss": "train/loss", "val_loss": "val/loss", "lr": "lr"}
    assert len(log.loss) == n
    np.testing.assert_array_equal(log.loss.steps, np.arange(n))
    assert log.val_loss is not None and len(log.val_loss) == n // 100
    assert diagnose(tmp_path / "run").verdict == "healthy"


def test_tensor_summaries_and_event_file_path(tmp_path: Path) -> None:
    _write(tmp_path / "run", 300, new_style=True, nan_from=200)  # TF2-style tensor summaries
    event_file = next((tmp_path / "run").glob("events.out.tfevents.*"))
    for src in (tmp_path / "run", event_file):
        log = read_log(src)
        assert len(log.loss) == 300
        assert np.isnan(log.loss.values[200:]).all() and np.isfinite(log.loss.values[:200]).all()
    d = diagnose(event_file)
    assert d.verdict == "diverged" and d.findings[0].steps[0] == 200


def test_add_scalars_subruns(tmp_path: Path) -> None:
    w = torch_tb.SummaryWriter(log_dir=str(tmp_path))
    for k in range(50):
        w.add_scalars("loss", {"train": 2.0 / (k + 1), "val": 2.1 / (k + 1) ** 0.5}, k)
    w.close()
    log = read_log(tmp_path)
    assert log.columns["loss"] == "loss_train/loss"
    assert log.columns["val_loss"] == "loss_val/loss"
    assert len(log.loss) == 50


def test_directory_without_events(tmp_path: Path) -> None:
    (tmp_path / "empty_run").mkdir()
    with pytest.raises(LogFormatError, match="holds no log lrkit can read"):
        read_log(tmp_path / "empty_run")
