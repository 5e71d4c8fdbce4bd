"""Readers for the layouts specific tools write (HF, YOLO, Keras CSVLogger, MLflow, W&B, JSONL)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from lrkit.doctor import diagnose, read_log
from lrkit.errors import LogFormatError


def _hf_state(n: int = 40, every: int = 10, eval_every: int = 100) -> dict:
    hist: list[dict] = []
    for i in range(1, n + 1):
        step = i * every
        hist.append({"epoch": step / 200, "grad_norm": 1.0 + 0.01 * i,
                     "learning_rate": 5e-5 * (1 - step / (n * every)), "loss": 2.0 / (1 + 0.1 * i),
                     "step": step})  # fmt: skip
        if step % eval_every == 0:
            hist.append({"epoch": step / 200, "eval_loss": 1.9 / (1 + 0.08 * i),
                         "eval_runtime": 1.2, "step": step})  # fmt: skip
    hist.append({"epoch": 2.0, "step": n * every, "total_flos": 1e15, "train_loss": 0.9,
                 "train_runtime": 300.0, "train_samples_per_second": 50.0})  # fmt: skip
    return {"best_metric": None, "global_step": n * every, "log_history": hist}


def test_hf_trainer_state_uses_per_step_loss(tmp_path: Path) -> None:
    path = tmp_path / "checkpoint-400" / "trainer_state.json"
    path.parent.mkdir()
    path.write_text(json.dumps(_hf_state()))
    log = read_log(path)
    assert log.format == "huggingface"
    assert log.columns == {"loss": "loss", "val_loss": "eval_loss", "lr": "learning_rate"}
    assert len(log.loss) == 40 and log.loss.steps[0] == 10 and log.loss.steps[-1] == 400
    assert log.val_loss is not None and len(log.val_loss) == 4
    assert "grad_norm" in log.metrics and "train_loss" not in log.metrics
    # the folder finds the file too
    assert len(read_log(tmp_path).loss) == 40


def test_jsonl_mixed_step_and_epoch_records(tmp_path: Path) -> None:
    lines = []
    for epoch in range(3):
        for k in range(50):
            step = epoch * 50 + k
            lines.append(json.dumps({"step": step, "loss": 2.0 - 0.005 * step, "lr": 1e-3}))
        lines.append(json.dumps({"epoch": epoch, "train_loss": 1.9 - 0.2 * epoch,
                                 "val_loss": 2.0 - 0.2 * epoch}))  # fmt: skip
    path = tmp_path / "log.jsonl"
    path.write_text("\n".join(lines) + "\n")
    log = read_log(path)
    assert log.loss.name == "loss" and len(log.loss) == 150
    assert log.val_loss is not None
    assert log.val_loss.steps.tolist() == [49.0, 99.0, 149.0]  # placed after their epoch
    assert any("placed" in n for n in log.notes)


YOLO_HEADER = (
    "                  epoch,         train/box_loss,         train/cls_loss,         "
    "train/dfl_loss,   metrics/precision(B),      metrics/recall(B),       metrics/mAP50(B),"
    "    metrics/mAP50-95(B),           val/box_loss,           val/cls_loss,           "
    "val/dfl_loss,                 lr/pg0,                 lr/pg1,                 lr/pg2"
)


def _yolo_csv(epochs: int = 30) -> str:
    rows = [YOLO_HEADER]
    for e in range(1, epochs + 1):
        warm = min(1.0, e / 3)
        lr = 0.01 * (1 - e / epochs) + 1e-4
        bias_lr = 0.1 - (0.1 - lr) * warm  # the bias group warms *down*
        box, cls, dfl = 1.5 / e**0.3, 2.5 / e**0.5, 1.3 / e**0.2
        cells = [e, box, cls, dfl, 0.5, 0.4, 0.3, 0.2, box * 1.1, cls * 1.2, dfl * 1.05,
                 bias_lr, lr * warm, lr * warm]  # fmt: skip
        rows.append(",".join(f"{c:>23}" if isinstance(c, int) else f"{c:>23.5g}" for c in cells))
    return "\n".join(rows) + "\n"


def test_yolo_results_csv(tmp_path: Path) -> None:
    path = tmp_path / "runs" / "detect" / "train3" / "results.csv"
    path.parent.mkdir(parents=True)
    path.write_text(_yolo_csv())
    log = read_log(path)
    assert log.format == "yolo" and log.x_name == "epoch"
    assert log.loss.name.startswith("train/loss (sum of box_loss, cls_loss, dfl_loss")
    e1 = 1.5 + 2.5 + 1.3
    assert log.loss.values[0] == pytest.approx(e1, rel=1e-4)
    assert log.val_loss is not None and log.val_loss.name.startswith("val/loss")
    assert log.lr is not None and log.lr.name == "lr/pg1"
    assert log.lr.values[0] < log.lr.values[3]  # warms up, unlike the bias group
    assert read_log(tmp_path / "runs").loss.name == log.loss.name


def test_yolo10_results_csv_sums_both_heads(tmp_path: Path) -> None:
    """YOLOv10 logs each loss component twice, for its one-to-many (``_om``) and one-to-one
    (``_oo``) heads, without ``_loss``; the trainer adds them all up, and so does the reader."""
    heads = ("box_om", "cls_om", "dfl_om", "box_oo", "cls_oo", "dfl_oo")
    header = ",".join(
        ["epoch", *(f"train/{h}" for h in heads), "metrics/mAP50(B)",
         *(f"val/{h}" for h in heads), "lr/pg0", "lr/pg1", "lr/pg2"]
    )  # fmt: skip
    rows = [header]
    for e in range(1, 21):
        parts = [1.0 / e**0.3 + k for k in range(6)]
        rows.append(
            ",".join(map(str, [e, *parts, 0.1, *(p * 1.1 for p in parts), 0.1, 0.01, 0.01]))
        )
    path = tmp_path / "results.csv"
    path.write_text("\n".join(rows) + "\n")
    log = read_log(path)
    assert log.format == "yolo" and len(log.loss) == 20
    assert log.loss.name.startswith("train/loss (sum of box_om, cls_om, dfl_om, box_oo")
    assert log.loss.values[0] == pytest.approx(6 * 1.0 + 15)
    assert log.val_loss is not None and log.val_loss.values[0] == pytest.approx(1.1 * 21)
    assert log.lr is not None and log.lr.name == "lr/pg1"


def test_keras_csvlogger_appended_runs(tmp_path: Path) -> None:
    rows = ["epoch,accuracy,loss,lr,val_accuracy,val_loss"]
    for e in range(10):  # first run
        rows.append(f"{e},0.5,{3.0 - 0.1 * e},0.001,0.5,{3.1 - 0.1 * e}")
    for e in range(15):  # appended second run
        rows.append(f"{e},0.6,{1.0 + 0.01 * e},0.01,0.6,{1.1 + 0.02 * e}")
    path = tmp_path / "training.log"
    path.write_text("\n".join(rows) + "\n")
    log = read_log(path)
    assert log.x_name == "epoch" and len(log.loss) == 15
    assert log.loss.values[0] == pytest.approx(1.0)
    assert any("2 runs" in n and "last" in n for n in log.notes)
    assert "2 runs" in diagnose(path).explain()


def test_validation_rows_counted_by_batch_do_not_restart_the_run(tmp_path: Path) -> None:
    """A Lightning CSV whose validation rows carry the validation batch index in `step`
    (0, 1, 2, ... after every training row): only the loss's rows decide runs and resumes."""
    rows = ["train_loss_step,epoch,step,val_loss_step,val_loss_epoch"]
    for e in range(12):
        rows.append(f"{2.0 - 0.1 * e},{e},{50 * e + 49},,")
        rows += [f",,{b},{2.1 - 0.1 * e}," for b in range(4)]  # val batches 0..3
        rows.append(f",{e},{50 * e + 49},,{2.1 - 0.1 * e}")
    path = tmp_path / "metrics.csv"
    path.write_text("\n".join(rows) + "\n")
    log = read_log(path)
    assert log.loss.name == "train_loss_step" and len(log.loss) == 12
    assert log.loss.steps.tolist() == [50 * e + 49 for e in range(12)]
    assert not any("runs in this log" in n or "resume" in n for n in log.notes)


def test_resume_keeps_newest_values(tmp_path: Path) -> None:
    rows = ["step,loss"] + [f"{s},{2.0 - 0.01 * s}" for s in range(0, 60)]
    rows += [f"{s},{1.0 - 0.001 * s}" for s in range(40, 100)]  # resumed from step 40
    path = tmp_path / "log.csv"
    path.write_text("\n".join(rows) + "\n")
    log = read_log(path)
    assert log.loss.steps.tolist() == list(range(100))
    assert log.loss.values[50] == pytest.approx(1.0 - 0.05)
    assert any("resume" in n for n in log.notes)


def test_a_step_back_to_a_far_higher_loss_is_a_new_run_not_a_resume(tmp_path: Path) -> None:
    """real66 v19: epochs 6-20 reach a loss of 1e-3, then a run numbered from epoch 12 starts
    at 0.44 — other weights, not the checkpoint's: only that last run is diagnosed."""
    rows = ["epoch,train_loss"] + [f"{e},{0.2 * 0.7 ** (e - 6)}" for e in range(6, 21)]
    rows += [f"{e},{0.45 - 0.001 * e}" for e in range(12, 20)]
    path = tmp_path / "train_log.csv"
    path.write_text("\n".join(rows) + "\n")
    log = read_log(path)
    assert log.loss.steps.tolist() == list(range(12, 20)), log.notes
    assert any("2 runs" in n and "last" in n for n in log.notes)
    # the same step back onto the loss it replays is a resume
    rows = rows[:16] + [f"{e},{0.2 * 0.7 ** (e - 6) * 1.5}" for e in range(12, 20)]
    path.write_text("\n".join(rows) + "\n")
    log = read_log(path)
    assert log.loss.steps.tolist() == list(range(6, 20)), log.notes
    assert any("resume" in n for n in log.notes)


def _mlflow_run(root: Path, exp: str, run: str, t0: int, n: int = 30) -> None:
    m = root / exp / run / "metrics"
    (m / "train").mkdir(parents=True)
    # MLflow writes points in logging order, keys with '/' as folders
    (m / "train" / "loss").write_text(
        "".join(f"{t0 + i} {2.0 / (1 + 0.1 * i)} {i}\n" for i in range(n))
    )
    (m / "val_loss").write_text("".join(f"{t0 + i} {2.1 / (1 + 0.1 * i)} {i}\n"
                                        for i in range(0, n, 10)))  # fmt: skip
    (m / "lr").write_text("".join(f"{t0 + i} 0.001 {i}\n" for i in range(n)))


def test_mlflow_runs(tmp_path: Path) -> None:
    root = tmp_path / "mlruns"
    _mlflow_run(root, "0", "aaa", 1000, n=20)
    _mlflow_run(root, "0", "bbb", 5000, n=30)
    log = read_log(root / "0" / "aaa")
    assert log.format == "mlflow" and len(log.loss) == 20 and log.loss.name == "train/loss"
    newest = read_log(root)
    assert len(newest.loss) == 30 and newest.source.endswith("bbb")
    assert newest.val_loss is not None and len(newest.val_loss) == 3
    assert any("newest" in n for n in newest.notes)


def test_wandb_history_csv(tmp_path: Path) -> None:
    rows = ['"_step","_runtime","_timestamp","train/loss","train/learning_rate","train/global_step",'
            '"eval/loss","train/epoch"']  # fmt: skip
    for i in range(40):
        rows.append(f"{2 * i},{i},{1700000000 + i},{2.0 - 0.02 * i},0.0001,{10 * i},,{i / 40}")
        if i % 10 == 9:
            rows.append(f"{2 * i + 1},{i},{1700000000 + i},,,{10 * i},{1.5 - 0.01 * i},{i / 40}")
    path = tmp_path / "wandb_export.csv"
    path.write_text("\n".join(rows) + "\n")
    log = read_log(path)
    assert log.format == "wandb"
    assert log.columns == {"loss": "train/loss", "val_loss": "eval/loss",
                           "lr": "train/learning_rate"}  # fmt: skip
    assert log.loss.steps[-1] == 390  # the trainer's step, not W&B's call counter
    assert log.val_loss is not None and len(log.val_loss) == 4


def test_wandb_chart_export_keeps_last_run(tmp_path: Path) -> None:
    rows = ["Step,run-a - train/loss,run-a - train/loss__MIN,run-a - train/loss__MAX,"
            "run-b - train/loss,run-b - train/loss__MIN,run-b - train/loss__MAX"]  # fmt: skip
    rows += [f"{i},{2 - 0.01 * i},{1.9 - 0.01 * i},{2.1 - 0.01 * i},{3 - 0.02 * i},1,4"
             for i in range(20)]  # fmt: skip
    path = tmp_path / "chart.csv"
    path.write_text("\n".join(rows) + "\n")
    log = read_log(path)
    assert log.loss.name == "train/loss" and log.loss.values[0] == pytest.approx(3.0)
    assert any("2 runs" in n for n in log.notes)


def test_empty_directory_says_so(tmp_path: Path) -> None:
    with pytest.raises(LogFormatError, match="holds no log lrkit can read"):
        read_log(tmp_path)


def test_lightning_folder_finds_metrics_csv(tmp_path: Path) -> None:
    p = tmp_path / "lightning_logs" / "version_0" / "metrics.csv"
    p.parent.mkdir(parents=True)
    p.write_text("epoch,step,train_loss_step,train_loss_epoch\n"
                 + "".join(f"0,{i},{2 - 0.01 * i},\n" for i in range(20))
                 + "0,19,,1.9\n")  # fmt: skip
    log = read_log(tmp_path)
    assert log.loss.name == "train_loss_step" and len(log.loss) == 20
    np.testing.assert_allclose(log.loss.steps, np.arange(20))
