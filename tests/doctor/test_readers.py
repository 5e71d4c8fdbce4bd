from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from lrkit.doctor import Log, diagnose, read_log
from lrkit.errors import ConfigError, LogFormatError


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# --------------------------------------------------------------------------- CSV / aliases


@pytest.mark.parametrize(
    ("header", "loss", "val", "lr"),
    [
        ("step,train_loss,val_loss,lr", "train_loss", "val_loss", "lr"),
        ("Step,Loss,Val Loss,Learning Rate", "Loss", "Val Loss", "Learning Rate"),
        ("global_step,Loss/train,Loss/val,lr-AdamW", "Loss/train", "Loss/val", "lr-AdamW"),
        ("iteration,training_loss,validation_loss,learning_rate", "training_loss",
         "validation_loss", "learning_rate"),
    ],
)  # fmt: skip
def test_csv_aliases(tmp_path: Path, header: str, loss: str, val: str, lr: str) -> None:
    rows = "\n".join(f"{i * 10},{2.0 - 0.1 * i},{2.1 - 0.05 * i},0.01" for i in range(6))
    log = read_log(write(tmp_path / "log.csv", f"{header}\n{rows}\n"))
    assert log.columns == {"loss": loss, "val_loss": val, "lr": lr}
    assert log.x_name == "step"
    np.testing.assert_allclose(log.loss.steps, [0, 10, 20, 30, 40, 50])
    np.testing.assert_allclose(log.loss.values, [2.0 - 0.1 * i for i in range(6)])
    assert log.format == "csv"


@pytest.mark.parametrize(
    ("loss", "val"),
    [("Perdua", None), ("Pérdida", "Pérdida validación"), ("perte_train", "perte_val"),
     ("Verlust", None), ("损失", None)],
)  # fmt: skip
def test_a_loss_column_in_another_language(tmp_path: Path, loss: str, val: str | None) -> None:
    header = f"Epoca,{loss},Accuracy" + (f",{val}" if val else "")
    rows = "\n".join(
        f"{i},{2.3 - 0.1 * i},{0.1 + 0.05 * i}" + (f",{2.4 - 0.05 * i}" if val else "")
        for i in range(1, 7)
    )
    log = read_log(write(tmp_path / "log.csv", f"{header}\n{rows}\n"))
    assert log.columns["loss"] == loss
    np.testing.assert_allclose(log.loss.values, [2.3 - 0.1 * i for i in range(1, 7)])
    # "Accuracy" is never taken for a loss: a log with no loss word is read as its error rate,
    # and says so
    acc = read_log(write(tmp_path / "acc.csv", "Epoca,Accuracy\n1,0.1\n2,0.2\n3,0.3\n"))
    assert acc.loss.name == "1 - Accuracy" and acc.loss_is_error_rate
    np.testing.assert_allclose(acc.loss.values, [0.9, 0.8, 0.7])
    # ... given a curve of them: two values are no curve, and the old error stands
    with pytest.raises(LogFormatError, match="no loss column"):
        read_log(write(tmp_path / "acc2.csv", "Epoca,Accuracy\n1,0.1\n2,0.2\n"))


def test_a_loss_column_named_by_its_objective(tmp_path: Path) -> None:
    """A regression log whose columns name the objective (Lightning's ``train_mse_step``) and
    no column says "loss": the objective is the loss; a column that says "loss" still wins."""
    rows = ["train_mse_step,train_rmse_step,epoch,step,val_mse_epoch,train_mse_epoch"]
    for i in range(12):
        rows.append(f"{10.0 / (i + 1)},{(10.0 / (i + 1)) ** 0.5},{i // 4},{i},,")
        if i % 4 == 3:
            rows.append(f",,{i // 4},{i},{12.0 / (i + 1)},{11.0 / (i + 1)}")
    log = read_log(write(tmp_path / "metrics.csv", "\n".join(rows) + "\n"))
    assert log.columns["loss"] == "train_mse_step" and len(log.loss) == 12
    assert log.columns["val_loss"] == "val_mse_epoch" and log.val_loss is not None
    assert log.loss.values[0] == pytest.approx(10.0)
    both = "step,mse,loss\n" + "\n".join(f"{i},{1.0 / (i + 1)},{2.0 / (i + 1)}" for i in range(6))
    assert read_log(write(tmp_path / "both.csv", both + "\n")).columns["loss"] == "loss"


def test_values_all_logged_at_one_step_are_read_in_the_order_written() -> None:
    """A logger that never advanced its step (Ultralytics' TensorBoard running means, all at
    step 1): the order written is the time axis, and the log says so."""
    loss = 1.58 - 0.2 * (1 - np.exp(-np.arange(146) / 40))
    log = read_log({"step": np.ones(146), "train/box_loss": loss})
    assert log.x_name == "index" and log.loss.steps.tolist() == list(range(146))
    assert any("logged at step 1" in n for n in log.notes)
    np.testing.assert_allclose(log.loss.values, loss)


def test_csv_keeps_every_row(tmp_path: Path) -> None:
    n = 25_000  # more than TensorBoard's default reservoir: nothing may be sampled away
    text = "step,loss\n" + "\n".join(f"{i},{1.0 + i * 1e-6}" for i in range(n)) + "\n"
    log = read_log(write(tmp_path / "big.csv", text))
    assert len(log.loss) == n and log.loss.steps[-1] == n - 1


def test_logged_nan_is_not_an_empty_cell(tmp_path: Path) -> None:
    text = "step,loss,val_loss\n0,2.0,\n1,1.5,\n2,1.2,1.3\n3,nan,\n4,NaN,\n5,inf,\n"
    log = read_log(write(tmp_path / "log.csv", text))
    assert len(log.loss) == 6  # nan/inf cells are values
    assert np.isnan(log.loss.values[3]) and np.isnan(log.loss.values[4])
    assert np.isinf(log.loss.values[5])
    assert log.val_loss is not None and len(log.val_loss) == 1  # empty cells are not
    assert log.val_loss.steps.tolist() == [2.0]


def test_text_columns_are_ignored_not_fatal(tmp_path: Path) -> None:
    text = "time,step,loss\n" + "\n".join(f"2024-01-0{i + 1},{i},{2 - 0.1 * i}" for i in range(5))
    log = read_log(write(tmp_path / "log.csv", text))
    assert "time" not in log.metrics and len(log.loss) == 5


def test_explicit_column_names(tmp_path: Path) -> None:
    text = "k,score,other\n" + "\n".join(f"{i},{2 - 0.1 * i},{i}" for i in range(5))
    path = write(tmp_path / "log.csv", text)
    with pytest.raises(LogFormatError, match=r"no loss column \(columns: k, score, other\)"):
        read_log(path)
    log = read_log(path, loss="score", step="k")
    assert log.loss.name == "score" and log.x_name == "step"
    with pytest.raises(ConfigError, match="loss='nope' is not a column"):
        read_log(path, loss="nope")


# --------------------------------------------------------------------------- Lightning

# Lightning 2.6 CSVLogger: header sorted alphabetically, one row per log_metrics call, empty
# cells where a metric was not logged; LearningRateMonitor rows carry no epoch.
LIGHTNING = """epoch,lr-Adam,step,train_loss_epoch,train_loss_step,val_acc,val_loss
,0.001,0,,,,
0,,0,,2.3125,,
0,,1,,2.2031,,
0,,2,,2.0117,,
0,,3,,1.8849,,
0,,3,,,0.52,1.7421
0,,3,2.1030,,,
,0.001,4,,,,
1,,4,,1.6410,,
1,,5,,1.5098,,
1,,6,,1.3904,,
1,,7,,nan,,
1,,7,,,0.61,1.4110
1,,7,1.5137,,,
"""


def test_lightning_metrics_csv(tmp_path: Path) -> None:
    log = read_log(write(tmp_path / "metrics.csv", LIGHTNING))
    assert log.format == "lightning"
    assert log.columns == {"loss": "train_loss_step", "val_loss": "val_loss", "lr": "lr-Adam"}
    assert log.x_name == "step"
    assert log.loss.steps.tolist() == [0, 1, 2, 3, 4, 5, 6, 7]
    assert math.isnan(log.loss.values[-1])  # the logged nan survives the padding
    assert log.val_loss is not None and log.val_loss.steps.tolist() == [3, 7]
    assert log.lr is not None and log.lr.values.tolist() == [0.001, 0.001]
    assert set(log.metrics) == {"train_loss_epoch", "val_acc"}
    assert diagnose(log).verdict == "diverged"


def test_lightning_via_pandas_dataframe(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    clean = LIGHTNING.replace("nan", "1.30")
    df = pd.read_csv(write(tmp_path / "metrics.csv", clean))  # pandas: empty cell -> NaN
    log = read_log(df)
    assert log.format == "dataframe"
    assert len(log.loss) == 8 and np.isfinite(log.loss.values).all()  # padding, not NaN loss
    assert log.val_loss is not None and len(log.val_loss) == 2


def test_dataframe_trailing_nan_is_divergence() -> None:
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"step": range(8), "loss": [2, 1.5, 1.2, 1, 5, 80, np.nan, np.nan]})
    log = read_log(df)
    assert len(log.loss) == 8 and np.isnan(log.loss.values[-2:]).all()
    assert diagnose(df).verdict == "diverged"


# --------------------------------------------------------------------------- JSON


def test_jsonl(tmp_path: Path) -> None:
    lines = [json.dumps({"step": i, "train": {"loss": 2 - 0.1 * i}, "lr": 0.1}) for i in range(5)]
    lines.append('{"step": 5, "train": {"loss": NaN}, "lr": 0.1}')  # Python's json writes NaN
    lines.append('{"step": 6, "val_loss": 1.0, "train": {"loss": null}}')
    log = read_log(write(tmp_path / "log.jsonl", "\n".join(lines) + "\n"))
    assert log.format == "jsonl"
    assert log.loss.name == "train/loss" and len(log.loss) == 6  # null = not logged
    assert np.isnan(log.loss.values[-1])
    assert log.val_loss is not None and log.val_loss.steps.tolist() == [6.0]


def test_jsonl_config_record_before_the_first_step(tmp_path: Path) -> None:
    # Research code often writes its config as the first record: numbers with no step (here
    # an ``lr`` that is also an LR alias) must neither break the read nor become the LR curve.
    config = {"event": "config", "lr": 1e-3, "num_steps": 40, "batch_size": 128}
    steps = [
        {"event": "step", "step": i, "train/loss": 2.0 - 0.03 * i, "train/lr": 1e-3 * (1 - i / 40)}
        for i in range(40)
    ]
    path = write(tmp_path / "log.jsonl", "\n".join(json.dumps(r) for r in [config, *steps]))
    log = read_log(path)
    assert log.columns == {"loss": "train/loss", "val_loss": None, "lr": "train/lr"}
    assert len(log.loss) == 40 and log.lr is not None and len(log.lr) == 40
    assert "num_steps" not in log.metrics and "batch_size" not in log.metrics


def test_lr_is_the_densest_lr_column(tmp_path: Path) -> None:
    # A once-logged ``lr`` (a summary row) must not win over the per-step ``learning_rate``.
    rows = [{"step": i, "loss": 2.0 - 0.05 * i, "learning_rate": 0.01} for i in range(20)]
    rows.append({"step": 19, "lr": 0.01, "summary": 1})
    log = read_log(write(tmp_path / "log.jsonl", "\n".join(json.dumps(r) for r in rows)))
    assert log.columns["lr"] == "learning_rate" and log.lr is not None and len(log.lr) == 20


def test_yolo_tensorboard_file_reads_like_results_csv(tmp_path: Path) -> None:
    # Ultralytics writes the results.csv columns to TensorBoard too (same tags, step = epoch):
    # the loss is the sum of the components and the LR that of a weight group, as in the CSV.
    pytest.importorskip("tensorboard")
    tb = pytest.importorskip("torch.utils.tensorboard")
    w = tb.SummaryWriter(log_dir=str(tmp_path / "train"))
    for e in range(30):
        warm = min(1.0, (e + 1) / 3)
        for group, lr in (("pg0", 0.1 * (1 - warm) + 0.01 * warm), ("pg1", 0.01 * warm)):
            w.add_scalar(f"lr/{group}", lr, e)
        for side, scale in (("train", 1.0), ("val", 1.1)):
            for i, part in enumerate(("box_loss", "cls_loss", "dfl_loss")):
                w.add_scalar(f"{side}/{part}", scale * (i + 1) * (0.5 + np.exp(-e / 8)), e)
        w.add_scalar("metrics/mAP50(B)", 1 - np.exp(-e / 8), e)
    w.close()
    log = read_log(tmp_path / "train")
    assert log.format == "tensorboard"
    assert log.loss.name.startswith("train/loss (sum of") and len(log.loss) == 30
    np.testing.assert_allclose(log.loss.values, 6 * (0.5 + np.exp(-np.arange(30) / 8)), rtol=1e-6)
    assert log.val_loss is not None and log.val_loss.name.startswith("val/loss (sum of")
    assert log.columns["lr"] == "lr/pg1"
    assert any("sum of the 3" in n for n in log.notes)


def test_keras_history_json_and_object(tmp_path: Path) -> None:
    hist = {
        "loss": [2.0, 1.2, 0.9, 0.7, 0.6],
        "accuracy": [0.3, 0.6, 0.7, 0.8, 0.82],
        "val_loss": [1.5, 1.1, 0.95, 0.9, 0.88],
        "learning_rate": [1e-3] * 5,
    }
    log = read_log(write(tmp_path / "history.json", json.dumps(hist, indent=2)))
    assert log.format == "keras" and log.x_name == "epoch"
    assert log.columns == {"loss": "loss", "val_loss": "val_loss", "lr": "learning_rate"}
    assert log.loss.steps.tolist() == [0, 1, 2, 3, 4]

    class History:  # the shape of keras.callbacks.History
        def __init__(self) -> None:
            self.history = hist
            self.epoch = list(range(5))

    log2 = read_log(History())
    assert log2.format == "keras" and log2.loss.values.tolist() == hist["loss"]


def test_transformers_trainer_state(tmp_path: Path) -> None:
    rows = [{"epoch": i / 10, "step": 10 * i, "loss": 2.0 - 0.1 * i, "learning_rate": 5e-5}
            for i in range(1, 7)]  # fmt: skip
    rows.insert(3, {"epoch": 0.3, "step": 30, "eval_loss": 1.9, "eval_runtime": 1.2})
    state = {"best_metric": None, "global_step": 60, "log_history": rows}
    log = read_log(write(tmp_path / "trainer_state.json", json.dumps(state)))
    assert log.columns == {"loss": "loss", "val_loss": "eval_loss", "lr": "learning_rate"}
    assert log.x_name == "step" and log.loss.steps.tolist() == [10, 20, 30, 40, 50, 60]
    assert log.val_loss is not None and log.val_loss.steps.tolist() == [30]


def test_trainer_state_of_a_run_that_diverged_before_its_first_logging_step(
    tmp_path: Path,
) -> None:
    # transformers writes only the summary; its mean loss is inf (json.dumps writes Infinity)
    summary = {"epoch": 0.0, "step": 3, "train_loss": math.inf, "train_runtime": 1.0,
               "train_samples_per_second": 1.0, "total_flos": 1.0}  # fmt: skip
    path = write(tmp_path / "trainer_state.json", json.dumps({"log_history": [summary]}))
    d = diagnose(path)
    assert d.verdict == "diverged" and d.findings[0].steps[0] == 3
    # a finite summary alone is one value: too little to judge, and the note says why
    # (session 14: real21 v12, logging_steps 500 over a 69-step run, mean loss 1.8e11)
    summary["train_loss"] = 2.5
    path.write_text(json.dumps({"log_history": [summary]}))
    d = diagnose(path)
    assert d.verdict == "inconclusive" and len(d.log.loss) == 1
    assert any("logging_steps" in n for n in d.log.notes)
    # a summary without a mean loss is nothing to read
    del summary["train_loss"]
    path.write_text(json.dumps({"log_history": [summary]}))
    with pytest.raises(LogFormatError, match="no per-step records"):
        read_log(path)


def test_dict_of_lists_and_log_passthrough() -> None:
    d = {"epoch": [0, 1, 2, 3], "loss": [1.0, 0.8, 0.7, 0.65]}
    log = read_log(d)
    assert isinstance(log, Log) and log.x_name == "epoch" and log.format == "dict"
    assert diagnose(log).log is log
    with pytest.raises(LogFormatError, match="different lengths"):
        read_log({"loss": [1.0, 2.0, 3.0, 4.0], "lr": [0.1]})
    with pytest.raises(LogFormatError, match="different lengths"):
        read_log({"lr": [0.1], "loss": [1.0, 2.0, 3.0, 4.0]})


def test_a_skorch_history_is_read_per_batch(tmp_path: Path) -> None:
    # skorch's History (real18 e01): epoch records that list their batches, the validation
    # batches among them; the per-batch training losses are the curve, each epoch's
    # valid_loss its validation loss.
    hist = [
        {"epoch": e, "batches": [{"train_loss": 1.0 / (e * 10 + b), "train_batch_size": 64}
                                 for b in range(1, 21)] + [{"valid_loss": 0.9, "valid_batch_size": 64}],
         "train_loss": 1.0 / (e * 10 + 10), "valid_loss": 1.2 / (e + 1), "valid_acc": 0.5 + e / 20}
        for e in range(1, 4)
    ]  # fmt: skip
    log = read_log(write(tmp_path / "history.json", json.dumps(hist)))
    assert log.columns["loss"] == "train_loss" and len(log.loss) == 60 and log.x_name == "step"
    assert log.columns["val_loss"] == "valid_loss" and len(log.val_loss or []) == 3


def test_two_histories_of_different_lengths_in_one_mapping(tmp_path: Path) -> None:
    # Two Keras History.history dicts merged into one JSON file (real17 u23): the last one
    # written is diagnosed, and the log says so.
    doc = {"reg_loss": [1.17 - 0.005 * e for e in range(30)], "reg_val_loss": [0.35] * 30,
           "cls_loss": [0.726 - 0.001 * e for e in range(19)],
           "cls_val_loss": [0.693] * 19}  # fmt: skip
    log = read_log(write(tmp_path / "training_history.json", json.dumps(doc)))
    assert log.columns["loss"] == "cls_loss" and len(log.loss) == 19
    assert log.columns["val_loss"] == "cls_val_loss"
    assert any("2 histories of different lengths" in n for n in log.notes)
    with pytest.raises(ConfigError, match="log=int"):
        read_log(3)


# --------------------------------------------------------------------------- malformed


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", b"", "file is empty"),
        ("blank.csv", b"\n\n  \n", "file is empty"),
        ("header.csv", b"step,loss,lr\n", r"header only, no data rows \(columns: step, loss, lr\)"),
        ("trunc.csv", b"step,loss,lr\n0,2.3,0.1\n1,2.1,0.1\n2,1.9", "truncated: last row"),
        ("ragged.csv", b"step,loss\n0,2.3\n1,2.1,7\n2,1.9\n", "line 3 has 3 fields"),
        ("trunc.jsonl", b'{"step": 0, "loss": 2.3}\n{"step": 1, "loss": 2.1}\n{"step": 2, "lo',
         "truncated: last line 3 is not valid JSON"),
        ("trunc.json", b'{"loss": [2.3, 2.1, 1.9], "val_loss": [2.2, 2.', "truncated JSON"),
        ("garbage.csv", bytes(range(256)) * 8, "binary content"),
        ("latin.csv", b"step,loss\n0,2.3\x01\xe9\n", "not UTF-8"),
        ("latin_cell.csv", "step,loss\n0,2.3 \xe9\n".encode("latin-1"), "not numeric"),
        ("noloss.csv", b"a,b,c\n1,2,3\n4,5,6\n", r"no loss column \(columns: a, b, c\)"),
        ("empty_loss.csv", b"step,loss,acc\n0,,0.1\n1,,0.2\n", "has no values"),
        ("text.csv", b"step,loss\n0,2.3\n1,oops\n2,1.9\n", "loss column 'loss' is not numeric \\(row 3: 'oops'\\)"),
        ("list.json", b"[1, 2, 3]", "one object per row"),
        # a truncated list of records is no printed log, though each line holds a loss
        ("records.json", b'[\n{"step": 0, "loss": 2.3},\n{"step": 1, "loss": 2.1},\n{"step": 2, "lo',
         "JSON at line 4"),
    ],
)  # fmt: skip
def test_malformed_files(tmp_path: Path, name: str, content: bytes, message: str | None) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(LogFormatError) as err:
        read_log(path)
    assert str(path) in str(err.value)  # the message names the file
    if message is not None:
        assert err.match(message)


def test_truncated_number_in_last_row(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("step,loss\n0,2.3\n1,2.1\n2,1.9\n3,1.8\n4,1.7e")
    with pytest.raises(LogFormatError, match="truncated: last row \\(line 6\\)"):
        read_log(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(LogFormatError, match="no such file"):
        read_log(tmp_path / "nope.csv")


def test_nan_only_loss_is_diverged_not_unreadable(tmp_path: Path) -> None:
    # Logged NaNs are data: a run that was NaN from the first step diverged.
    path = write(
        tmp_path / "nan.csv", "step,loss,lr\n" + "".join(f"{i},nan,1.0\n" for i in range(6))
    )
    d = diagnose(path)
    assert d.verdict == "diverged"
    assert d.findings[0].statistic == "nonfinite_values" and d.findings[0].value == 6
    assert d.prescription.lr == pytest.approx(0.1)


def test_an_experiment_record_with_its_history_under_a_key(tmp_path: Path) -> None:
    # A tracker's JSON record: run metadata, then one object per epoch under "history".
    history = [
        {"epoch": e, "train_loss": 2.3 / e, "valid_loss": 2.4 / e**0.5, "train_acc": 0.1 * e}
        for e in range(1, 31)
    ]
    doc = {
        "life": [{"dt": "Mon May 16 2016", "state": "running"}, {"dt": "x", "state": "success"}],
        "content": {"hp": {"learning_rate": 0.02, "batchsize": 128}, "seed": 42},
        "state": "success",
        "history": history,
    }
    log = read_log(write(tmp_path / "record.json", json.dumps(doc)))
    assert log.columns["loss"] == "train_loss" and log.columns["val_loss"] == "valid_loss"
    assert log.x_name == "epoch" and len(log.loss) == 30
    np.testing.assert_allclose(log.loss.values, [2.3 / e for e in range(1, 31)])
    # a list of records that names no loss is not a history: the old error stands
    doc["history"] = [{"epoch": e, "acc": 0.1} for e in range(1, 5)]
    with pytest.raises(LogFormatError, match="no loss column"):
        read_log(write(tmp_path / "noloss.json", json.dumps(doc)))


def test_a_history_saved_with_run_metadata_beside_its_lists(tmp_path: Path) -> None:
    # A hand-written training script's JSON (real13 x06): scalars, names and short lists of
    # run metadata beside the per-epoch lists; the lists as long as the loss's are the log.
    n = 55
    doc = {
        "timestamp": "2026-04-11T19:42:23",
        "backbone": "EfficientNet-B0",
        "img_size": 96,
        "classes": ["Happy", "Neutral", "Sad"],
        "phase_starts": [0, 15, 35],
        "train_loss": [1.05 / (1 + 0.05 * e) for e in range(n)],
        "train_acc": [0.4 + 0.005 * e for e in range(n)],
        "val_loss": [1.02 / (1 + 0.03 * e) for e in range(n)],
        "test_acc": 0.71,
    }
    log = read_log(write(tmp_path / "training_history.json", json.dumps(doc)))
    assert log.columns["loss"] == "train_loss" and log.columns["val_loss"] == "val_loss"
    assert len(log.loss) == n and len(log.val_loss or []) == n
    np.testing.assert_allclose(log.loss.values, doc["train_loss"])
    assert "train_acc" in log.metrics and "phase_starts" not in log.metrics
    # without a loss among the lists the old error stands
    del doc["train_loss"], doc["val_loss"]
    with pytest.raises(LogFormatError, match="no loss column"):
        read_log(write(tmp_path / "noloss.json", json.dumps(doc)))


def test_lightning_columns_under_a_namespace_prefix(tmp_path: Path) -> None:
    # self.log("finetuning/train_loss", on_step=True, on_epoch=True) (real13 x25/x26): the
    # per-step loss is read, not the 4 epoch means, though the epoch column comes first.
    rows = ["epoch,finetuning/train_loss_epoch,finetuning/train_loss_step,finetuning/val_loss,step"]
    for e in range(4):
        for k in range(10):
            step = 49 + 50 * (10 * e + k)
            rows.append(f"{e},,{1.0 / (1 + 0.01 * step):.5f},,{step}")
        rows.append(f"{e},{0.9 - 0.05 * e:.3f},,{0.8 + 0.1 * e:.3f},{step}")
    log = read_log(write(tmp_path / "metrics.csv", "\n".join(rows) + "\n"))
    assert log.columns["loss"] == "finetuning/train_loss_step" and len(log.loss) == 40
    assert log.columns["val_loss"] == "finetuning/val_loss" and len(log.val_loss or []) == 4
    # a split's own name is never stripped: "val/loss" is no training loss
    log = read_log(write(tmp_path / "v.csv", "step,val/loss\n" + "".join(
        f"{s},{1.0 / (1 + s):.4f}\n" for s in range(20))))  # fmt: skip
    assert log.loss_is_validation and log.columns["loss"] == "val/loss"


@pytest.mark.parametrize(
    ("lines", "x_name", "extra"),
    [
        # a print() per epoch (real14 v24)
        ([f"Epoch {e}/200 | Loss: {1 / e:.4f}" for e in range(1, 31)], "epoch", None),
        # PyTorch tutorials' format
        ([f"Epoch [1/2], Step [{s}/600], Loss: {1 / s:.4f}" for s in range(10, 310, 10)],
         "step", None),
        # key=value pairs with a validation loss
        ([f"[epoch {e}] step {100 * e} train_loss={1 / e:.4f} val_loss={1.2 / e:.4f} lr=0.001"
          for e in range(1, 31)], "step", "val_loss"),
        # Keras's progress output: the epoch on its own line, the metrics on the next
        ([ln for e in range(1, 31) for ln in (
            f"Epoch {e}/30",
            f"100/100 [==============================] - 2s 20ms/step - loss: {1 / e:.4f} - "
            f"accuracy: 0.8000 - val_loss: {1.2 / e:.4f} - val_accuracy: 0.7500")], "epoch",
         "val_loss"),
        # Python's logging module: a comma before the milliseconds of every timestamp, config
        # lines first (real16 u10, u11: read as a CSV header before)
        ([f"2025-04-24 21:16:{e:02d},207 - INFO - Config value: {e}" for e in range(5)]
         + [f"2025-04-24 21:17:{e:02d},828 - INFO - Epoch [{e}/30], Train Loss: {1 / e:.4f}, "
            f"Train Acc: 20.34%, Val Loss: {1.2 / e:.4f}, Val Acc: 17.37%" for e in range(1, 31)],
         "epoch", "Val Loss"),
        # the Hugging Face Trainer's console output: printed dicts under a bracketed logger
        # line (real16 u13: read as a broken JSON document before), with colour codes
        (["[INFO|trainer.py:2048] 2025-07-11 22:31:31,415 >> ***** Running training *****",
          "\x1b[32m  0%|          | 0/3750 [00:00<?, ?it/s]\x1b[0m"]
         + [f"{{'loss': {1 / s:.4f}, 'grad_norm': 14.4, 'learning_rate': 2e-05, "
            f"'epoch': {s / 100:.2f}}}" for s in range(1, 31)], "epoch", None),
        # average meters, ``name value (running mean)``, under a colour-coded logger; the
        # evaluation lines' unqualified names are the validation split's (real16 u02, u03)
        ([ln for e in range(1, 31) for ln in (
            f"\x1b[32m[2025-10-20 21:19:16 alexnet]\x1b[0m(main.py 186): INFO Train: [{e}/30]\t"
            f"lr 0.003000\ttime 0.0132 (0.0180)\tloss {1 / e:.4f} (2.4464)\tAcc@1 7.500 (9.924)",
            f"[2025-10-20 21:19:18 alexnet](main.py 228): INFO Validate: \tTime 0.007 (0.031)\t"
            f"Loss {1.2 / e:.4f} (2.3048)\tAcc@1 6.250 (10.000)")], "index", "val_Loss"),
        # a config dump first (its ``transfer_loss_weight=1.0`` is a setting, not a series),
        # then a loss printed without a separator (real16 u07)
        (["Namespace(backbone='resnet50', lr=0.01, transfer_loss='daan', transfer_loss_weight=1.0)"]
         + [f"Epoch: [{e:2d}/30], cls_loss: {1 / e:.4f}, transfer_loss: 0.0370, "
            f"test_loss {1.2 / e:.6f}, test_acc: 39.8176" for e in range(1, 31)], "epoch",
         "test_loss"),
    ],
)  # fmt: skip
def test_a_printed_text_log(tmp_path: Path, lines: list[str], x_name: str, extra: str) -> None:
    log = read_log(write(tmp_path / "training.log", "\n".join(lines) + "\n"))
    assert log.format == "text" and log.x_name == x_name and len(log.loss) == 30
    assert log.loss.values[0] > log.loss.values[-1]
    if extra is not None:
        assert log.columns["val_loss"] == extra and len(log.val_loss or []) == 30
    assert diagnose(log).verdict != "inconclusive"


def test_an_evaluation_tag_after_the_loss_does_not_rename_it(tmp_path: Path) -> None:
    # "test:" after the training loss on one line is not an evaluation line
    lines = [f"Epoch {e}: loss: {1 / e:.4f}, test: {0.5 + e / 100:.3f}" for e in range(1, 31)]
    log = read_log(write(tmp_path / "train.log", "\n".join(lines) + "\n"))
    assert log.columns["loss"] == "loss" and log.val_loss is None


def test_a_csv_with_a_trailing_separator_in_its_header(tmp_path: Path) -> None:
    # "epoch,train_loss,test_loss,top1," over rows without the trailing comma (real14 v15)
    rows = ["epoch,train_loss,test_loss,top1,"] + [
        f"{e},{2.0 / (1 + e):.4f},{2.2 / (1 + e):.4f},{50 + e}" for e in range(20)
    ]
    log = read_log(write(tmp_path / "metrics.csv", "\n".join(rows) + "\n"))
    assert log.columns["loss"] == "train_loss" and len(log.loss) == 20
    assert log.columns["val_loss"] == "test_loss"
    # a row that really is short is still seen as one: dropped, and said so
    rows[5] = "4,0.4"
    log = read_log(write(tmp_path / "bad.csv", "\n".join(rows) + "\n"))
    assert len(log.loss) == 19
    assert any("skipped 1 of 20 rows" in n and "line 6" in n for n in log.notes)


def test_a_csv_with_garbled_lines_drops_them_and_says_so(tmp_path: Path) -> None:
    # Two writers appending to one file (real15 u02): some lines glued together, one cut off,
    # a number written twice into one cell ("2.02.0000") — the rest still fits the header.
    good = [f"{e},{100 * e},train,{3.0 - 0.05 * e:.4f},0.001" for e in range(40)]
    rows = list(good)
    rows[10] = good[10] + good[11]  # glued: 9 fields
    rows[20] = "20,2000,tr"  # cut off
    rows[30] = "30.30.0,3000,train,1.5,0.001"  # a garbled number in a numeric column
    text = "epoch,step,phase,loss,lr\n" + "\n".join(rows) + "\n"
    log = read_log(write(tmp_path / "metrics.csv", text))
    assert len(log.loss) == 37
    assert log.loss.values[0] == pytest.approx(3.0)
    (note,) = [n for n in log.notes if "skipped" in n]
    assert "skipped 3 of 40 rows" in note and "line 12" in note
    # as many bad lines as a quarter of the rows: not the table its header describes
    for i in range(0, 40, 4):
        rows[i] = good[i] + good[i]
    with pytest.raises(LogFormatError, match="line 2 has 9 fields, the header has 5"):
        read_log(write(tmp_path / "worse.csv", "epoch,step,phase,loss,lr\n" + "\n".join(rows)))
    # ... and a clean file whose only bad line is its last is still "truncated"
    with pytest.raises(LogFormatError, match="truncated: last row"):
        read_log(
            write(
                tmp_path / "cut.csv",
                "epoch,step,phase,loss,lr\n" + "\n".join(good[:39]) + "\n39,3900,tr",
            )
        )


def test_csv_with_bare_carriage_returns_is_read_line_by_line(tmp_path: Path) -> None:
    # Old Mac line ends (or a line rewritten in place with "\r"): csv alone fails on them with
    # "new-line character seen in unquoted field".
    rows = "".join(f"{k},{2.0 - 0.01 * k}\r" for k in range(40))
    p = tmp_path / "log.csv"
    p.write_bytes(("step,loss\r" + rows).encode())
    log = read_log(p)
    assert len(log.loss) == 40 and log.loss.values[-1] == pytest.approx(2.0 - 0.39)


def test_csv_the_csv_module_cannot_parse_is_a_format_error(tmp_path: Path) -> None:
    p = tmp_path / "log.csv"
    p.write_text("step,loss\n" + "x" * 200_000 + ",1\n")
    with pytest.raises(LogFormatError, match="not a readable CSV file"):
        read_log(p)


def test_keras_csvlogger_with_windows_double_carriage_returns(tmp_path: Path) -> None:
    # Keras's CSVLogger on Windows ends lines with "\r\r\n": the blank lines that leaves are
    # not rows (session 14: 13 real logs in real..real18).
    rows = "".join(
        f"{e},{0.5 + 0.01 * e},{1.2 - 0.03 * e},{1.3 - 0.02 * e}\r\r\n" for e in range(20)
    )
    p = tmp_path / "training_log.csv"
    p.write_bytes(("epoch,accuracy,loss,val_loss\r\r\n" + rows).encode())
    log = read_log(p)
    assert len(log.loss) == 20 and log.val_loss is not None and len(log.val_loss) == 20


def _printed(path: Path, lines: list[str]) -> Log:
    """``lines`` written as a printed log at ``path``, read back."""
    path.write_text("\n".join(lines) + "\n")
    return read_log(path)


def test_printed_log_that_names_its_loss_by_the_objective(tmp_path: Path) -> None:
    # OpenNMT-py: "[date time INFO] Step 50/100000; acc: 12.00; ppl: 26.87; xent: 3.29; ..."
    # — no line says "loss", and the leading "[2024-..." is no JSON array.
    lines = [
        "[2024-05-08 04:06:12,127 INFO]  * src vocab size = 50",
        "[2024-05-08 04:06:12,179 INFO] NMTModel(",
    ]
    for k in range(1, 41):
        xent = 3.3 * math.exp(-k / 20) + 0.4
        lines.append(f"[2024-05-08 04:07:{k:02d},000 INFO] Step {50 * k}/100000; acc:  {20 + k:.2f}; "
                     f"ppl: {math.exp(xent):5.2f}; xent: {xent:.2f}; lr: 1.00000; 11270/8704 tok/s;")  # fmt: skip
    log = _printed(tmp_path / "train.log", lines)
    assert log.format == "text" and log.loss.name == "xent" and len(log.loss) == 40
    assert log.loss.steps[-1] == 2000 and log.loss.values[0] == pytest.approx(
        3.3 * math.exp(-1 / 20) + 0.4, abs=0.01
    )


def test_printed_log_of_a_physics_informed_network_names_its_loss_total(tmp_path: Path) -> None:
    # A PINN's printout: "[Adam] ep=   20  total=3.851e+00  PDE=2.6e-01 [colloc=..., cfd=...]"
    # — its weighted sum of terms is "total", its counter "ep"; no line says "loss".
    lines = ["Model: width=128, depth=6, params=83586", "Phase 1 — Adam (400 epochs)"]
    for k in range(1, 31):
        total = 3.0 * math.exp(-k / 8) + 0.05
        lines.append(f"[Adam] ep={20 * k:5d}  total={total:.3e}  PDE={total / 3:.3e} "
                     f"[colloc={total / 4:.3e}, cfd={total / 50:.3e}] (w=2.2)  DATA={total / 5:.3e}")  # fmt: skip
    lines.append("Phase 2 — BFGS (12000 total calls, 200 iters/batch)")
    log = _printed(tmp_path / "pinn.out", lines)
    assert log.format == "text" and log.loss.name == "total" and len(log.loss) == 30
    assert log.x_name == "epoch" and log.loss.steps[-1] == 600
    assert log.loss.values[0] == pytest.approx(3.0 * math.exp(-1 / 8) + 0.05, rel=1e-3)


def test_printed_log_with_the_loss_after_its_value(tmp_path: Path) -> None:
    # "Epoch 3 @ 10:27 PM : 0.9816 C.E. Loss, 94.28% Accuracy": no name comes before a value
    lines = ["[W logger.cpp:314] Warning: Cuda time stats are not collected."]
    for k in range(20):
        lines.append(f"Epoch {k} @ 10:{k + 10:02d} PM : {1.5 - 0.02 * k:.4f} C.E. Loss, "
                     f"{90 + k * 0.3:.2f}% Accuracy")  # fmt: skip
    log = _printed(tmp_path / "train.out", lines)
    assert log.format == "text" and "loss" in log.loss.name.lower() and len(log.loss) == 20
    assert log.loss.steps[-1] == 19 and log.loss.values[-1] == pytest.approx(1.5 - 0.02 * 19)
    # where a line names its loss before the value, a number before "loss" is no loss value
    named = _printed(tmp_path / "named.log", [f"step {k} 3 loss terms, loss: {1 / (k + 1):.3f}"
                                              for k in range(10)])  # fmt: skip
    assert named.loss.name == "loss" and named.loss.values[0] == pytest.approx(1.0)


def test_printed_log_whose_first_loss_comes_after_a_long_preamble(tmp_path: Path) -> None:
    # nohup output: thousands of lines of compiler warnings before the first "train_loss:".
    pre = [
        f"W0530 14:48:26.433000 2622492 convert_frame.py:1233] line {i}, of a traceback"
        for i in range(5000)
    ]
    body = [
        f"step:{k}/400 train_loss:{4.0 * math.exp(-k / 80) + 1:.4f} train_time:{k * 50}ms"
        for k in range(1, 301)
    ]
    p = tmp_path / "train.log"
    p.write_text("nohup: ignoring input\n" + "\n".join(pre + body) + "\n")
    log = read_log(p)
    assert log.format == "text" and len(log.loss) == 300 and log.loss.values[-1] < 2.0


def test_hf_summary_with_a_nonfinite_mean_loss_after_logged_steps_is_divergence(
    tmp_path: Path,
) -> None:
    # The Trainer's closing record averages every step's loss: NaN there, after finite logged
    # losses, means the run turned non-finite after its last logging step.
    hist = [{"step": 10 * (i + 1), "loss": 2.3 - 0.1 * i, "learning_rate": 10.0} for i in range(12)]
    summary = {"step": 130, "train_loss": float("nan"), "train_runtime": 1.0, "total_flos": 1.0}
    p = tmp_path / "trainer_state.json"
    p.write_text(json.dumps({"global_step": 130, "log_history": [*hist, summary]}))
    d = diagnose(p)
    assert d.verdict == "diverged", d.explain()
    assert d.findings[0].steps[0] >= 120
    summary["train_loss"] = 1.75  # a finite mean: no extra point
    p.write_text(json.dumps({"global_step": 130, "log_history": [*hist, summary]}))
    assert len(read_log(p).loss) == 12 and diagnose(p).verdict != "diverged"


def test_camel_case_column_names_name_their_split(tmp_path: Path) -> None:
    # "Epoch,TrainLoss,ValLoss,ValSpearman,LR" (real6 w26): ValLoss is the validation loss.
    rows = "".join(f"{e},{100 - 5 * e},{60 + 3 * e},{0.6 - 0.01 * e},1e-3\n" for e in range(1, 12))
    p = tmp_path / "log.csv"
    p.write_text("Epoch,TrainLoss,ValLoss,ValSpearman,LR\n" + rows)
    log = read_log(p)
    assert (
        log.loss.name == "TrainLoss" and log.val_loss is not None and log.val_loss.name == "ValLoss"
    )
    assert log.lr is not None and "ValSpearman" in log.metrics


@pytest.mark.parametrize("style", ["cs230", "mnist"])
def test_printed_evaluation_lines_with_a_word_before_the_colon(tmp_path: Path, style: str) -> None:
    # The CS230 template ("Train metrics: accuracy: 0.40 ; loss: 1.54" / "Eval metrics: ...")
    # and PyTorch's MNIST example ("Train Epoch: 1 [...]\tLoss: 0.28" / "Test set: Average
    # loss: 0.0470, Accuracy: ..."): the evaluation lines are the validation loss, not more
    # training losses between them.
    lines = []
    for e in range(1, 11):
        train, val = 1.5 * math.exp(-e / 4) + 0.2, 1.6 * math.exp(-e / 5) + 0.5
        if style == "cs230":
            lines.append(
                f"2018-07-27 17:06:07,821:INFO: - Train metrics: accuracy: 0.5 ; loss: {train:.3f}"
            )
            lines.append(
                f"2018-07-27 17:06:08,355:INFO: - Eval metrics: accuracy: 0.4 ; loss: {val:.3f}"
            )
        else:
            lines.append(f"Train Epoch: {e} [0/60000 (0%)]\tLoss: {train:.6f}")
            lines.append(f"Test set: Average loss: {val:.4f}, Accuracy: 9826/10000 (98%)")
    p = tmp_path / "train.log"
    p.write_text("\n".join(lines) + "\n")
    log = read_log(p)
    assert len(log.loss) == 10 and log.val_loss is not None and len(log.val_loss) == 10
    assert log.loss.values[0] == pytest.approx(1.5 * math.exp(-1 / 4) + 0.2, abs=1e-3)
    assert log.val_loss.values[-1] == pytest.approx(1.6 * math.exp(-2) + 0.5, abs=1e-3)


def test_printed_log_of_an_energy_model_after_a_config_dump(tmp_path: Path) -> None:
    # A predictive-coding transformer's log (real23 v12): the objective is an "energy", and a
    # JSON config dump with a trailing comma on every line (one name, one empty cell when split
    # at the comma) comes first — no CSV header for that.
    lines = ["2025-10-24 12:03:06,410 - INFO - Saving the hyperparameters configurations:",
             "2025-10-24 12:03:06,410 - INFO - {"]  # fmt: skip
    lines += [f'      "param_{i}": {i},' for i in range(20)] + ["}"]
    for e in range(1, 21):
        lines.append(f"2025-11-20 13:45:08,427 - INFO - Epoch {e}/20 | Train Energy: {1.36 - 0.01 * e:.4f} "
                     f"| Train Perplexity: 983.6 | Val Energy: {1.40 - 0.005 * e:.4f} | Val Perplexity: 1145.2")  # fmt: skip
    log = _printed(tmp_path / "training.log", lines)
    assert log.format == "text" and log.loss.name == "Train Energy" and len(log.loss) == 20
    assert log.val_loss is not None and log.val_loss.name == "Val Energy"


def test_a_log_with_git_merge_conflict_markers_says_so(tmp_path: Path) -> None:
    # A results.csv committed mid-merge (real15 u06): the two sides' rows between markers.
    rows = [f"{e},{2.0 - 0.1 * e}" for e in range(5)]
    text = "epoch,loss\n" + "<<<<<<< HEAD\n" + "\n".join(rows) + "\n=======\n"
    text += "\n".join(rows) + "\n>>>>>>> 41feda3f487da5fa6af45686df24180f0dc078e0\n"
    p = tmp_path / "results.csv"
    p.write_text(text)
    with pytest.raises(LogFormatError, match=r"merge-conflict markers \(line 2: '<<<<<<< HEAD'\)"):
        read_log(p)


@pytest.mark.parametrize("header", ["epoch loss val_loss acc", "# epoch loss val_loss acc"])
def test_a_space_separated_table_is_read(tmp_path: Path, header: str) -> None:
    # numpy.savetxt (its "# " header) or a hand-written f"{epoch} {loss} ..." loop
    e = np.arange(30)
    rows = [f"{i} {2.0 * 0.9**i:.6f}   {2.1 * 0.92**i:.6f} {1 - 0.5 * 0.9**i:.4f}" for i in e]
    p = tmp_path / "train_log.txt"
    p.write_text("\n".join([header, *rows]) + "\n")
    log = read_log(p)
    assert log.columns["loss"] == "loss" and log.columns["val_loss"] == "val_loss"
    assert len(log.loss) == 30 and log.loss.values[0] == pytest.approx(2.0)


def test_a_table_without_a_header_row_says_so(tmp_path: Path) -> None:
    p = tmp_path / "train_log.txt"
    p.write_text("".join(f"{i} {0.2 * 0.95**i} {0.9 + 0.003 * i}\n" for i in range(40)))
    with pytest.raises(LogFormatError, match="no header row"):
        read_log(p)
    q = tmp_path / "log.csv"
    q.write_text("".join(f"{i},{0.2 * 0.95**i}\n" for i in range(40)))
    with pytest.raises(LogFormatError, match="no header row"):
        read_log(q)


@pytest.mark.parametrize("sep", [",", " ", "\t"])
def test_a_headerless_file_named_after_its_loss_is_read(tmp_path: Path, sep: str) -> None:
    # a hand-written loop's f.write(f"{epoch},{loss}\n"), appended by a second run
    run1 = [f"{i}{sep}{3.0 * 0.9**i:.4f}" for i in range(1, 21)]
    run2 = [f"{i}{sep}{1.0 * 0.97**i:.4f}" for i in range(1, 31)]
    p = tmp_path / "loss_log.txt"
    p.write_text("\n".join(run1 + run2) + "\n")
    log = read_log(p)
    assert log.columns["loss"] == "loss_log" and len(log.loss) == 30  # the last run
    assert log.loss.values[0] == pytest.approx(0.97)
    assert any("no header row" in n for n in log.notes)
    assert any("2 runs" in n for n in log.notes)
    # one value a line, named as a validation loss: diagnosed as that, and said so
    q = tmp_path / "val_loss.txt"
    q.write_text("".join(f"{2.0 * 0.95**i:.5f}\n" for i in range(40)))
    log = read_log(q)
    assert log.columns["loss"] == "val_loss" and len(log.loss) == 40
    assert any("no training loss" in n for n in log.notes)


def test_a_split_named_in_brackets_is_read(tmp_path: Path) -> None:
    # 'Loss (Training),Loss (Validation),Accuracy (Validation)' (session 23: real61's v06,
    # whose validation loss went unread and whose overfitting was called healthy)
    rows = [
        f"{i},{0.44 * 0.95**i + 0.2:.5f},{0.3 + 0.002 * i:.5f},{0.9 - 0.002 * i:.4f}"
        for i in range(30)
    ]
    p = tmp_path / "results.csv"
    p.write_text(
        "Epoch,Loss (Training),Loss (Validation),Accuracy (Validation)\n" + "\n".join(rows)
    )
    log = read_log(p)
    assert log.columns["loss"] == "Loss (Training)"
    assert log.columns["val_loss"] == "Loss (Validation)"


@pytest.mark.parametrize(("train", "val"), [("loss_t", "loss_v"), ("t_loss", "v_loss")])
def test_names_and_values_printed_side_by_side(tmp_path: Path, train: str, val: str) -> None:
    # print("epoch", e, "loss_t", lt, "loss_v", lv, "loss_min", best) in fixed-width columns
    # (session 23: real61's v01, "loss column 'epoch 0 loss_t ...' is not numeric")
    rows = [
        f"epoch {e:10d}  {train}  {700 * 0.98**e:.5f}  {val}  {710 * 0.98**e:.5f}  "
        f"loss_min  {9999.0 if e < 3 else 710 * 0.98**e:.5f}"
        for e in range(60)
    ]
    p = tmp_path / "train_log.txt"
    p.write_text("\n".join(rows) + "\n")
    log = read_log(p)
    assert log.columns["loss"] == train and log.columns["val_loss"] == val
    assert len(log.loss) == 60 and log.loss.values[0] == pytest.approx(700.0)
    assert log.val_loss is not None and log.val_loss.values[1] == pytest.approx(710 * 0.98)


def test_a_pandas_series_dump_named_after_its_loss_is_read(tmp_path: Path) -> None:
    # pd.Series(losses).to_csv("cifar_losses.csv"): header ",0", then "i,loss" (session 23:
    # real62 v17, whose header row was read as a first loss of 0)
    p = tmp_path / "cifar_losses.csv"
    p.write_text(",0\n" + "".join(f"{i},{4.6 - 0.0004 * i:.5f}\n" for i in range(300)))
    log = read_log(p)
    assert len(log.loss) == 300 and log.loss.values[0] == pytest.approx(4.6)
    assert any("no header row naming its columns" in n for n in log.notes)


def test_bare_numbers_with_section_lines_are_the_loss(tmp_path: Path) -> None:
    # print(loss.item()) each step, print(f"Epoch {e}") each epoch, print("Done!") at the end
    # (session 23: real58's v02, "no loss column (columns: Epoch 0)")
    lines: list[str] = []
    for e in range(3):
        lines.append(f"Epoch {e}")
        lines += [f"{4.0 + 6.0 * 0.97 ** (e * 50 + i):.6f}" for i in range(50)]
    p = tmp_path / "train_log.txt"
    p.write_text("\n".join([*lines, "Done!"]) + "\n")
    log = read_log(p)
    assert len(log.loss) == 150 and log.loss.values[0] == pytest.approx(10.0)
    assert any("bare numbers" in n and "section line" in n for n in log.notes)
    # numbers named as an LR are not a loss: the error stays
    q = tmp_path / "lr.txt"
    q.write_text("".join(f"{1e-3 * 0.99**i:.6g}\n" for i in range(40)))
    with pytest.raises(LogFormatError):
        read_log(q)


@pytest.mark.parametrize("nan", ["nan", "NaN"])
def test_a_list_of_numbers_is_the_loss(tmp_path: Path, nan: str) -> None:
    # print(losses) (a Python list, nan spelt "nan") or json.dump(losses) (spelt "NaN")
    # (session 23: real58's v04, "a JSON list must hold one object per row")
    values = [f"{2.0 * 0.95**i:.5f}" for i in range(40)]
    p = tmp_path / "train_loss.txt"
    p.write_text("[" + ", ".join([*values, nan]) + "]")
    d = diagnose(p)
    assert d.verdict == "diverged" and len(d.log.loss) == 41
    assert d.log.loss.values[1] == pytest.approx(1.9)
    # a list of records stays what it was
    q = tmp_path / "history.json"
    q.write_text(json.dumps([{"epoch": i, "loss": 2.0 * 0.95**i} for i in range(30)]))
    assert len(read_log(q).loss) == 30


def test_a_sweeps_curves_side_by_side_name_the_way_to_read_one(tmp_path: Path) -> None:
    # one loss column per run of an LR sweep, none named as a loss
    lrs = (0.005, 0.01, 0.05, 0.1)
    rows = [
        ",".join(f"{2.0 * (1 - k * 0.1) ** i + 0.1 * k:.4f}" for k in range(4)) for i in range(60)
    ]
    p = tmp_path / "sweep.csv"
    p.write_text(",".join(f"learning_rate_{lr}" for lr in lrs) + "\n" + "\n".join(rows) + "\n")
    with pytest.raises(
        LogFormatError, match=r"sweep over 'learning_rate'.*--loss learning_rate_0.1"
    ):
        read_log(p)
    # naming one: the other runs' columns are neither its LR nor its validation loss
    log = read_log(p, loss="learning_rate_0.1")
    assert log.columns["loss"] == "learning_rate_0.1"
    assert log.columns["lr"] is None and log.columns["val_loss"] is None


def _darknet_lines(n: int) -> list[str]:
    out = []
    avg = 0.0
    for i in range(1, n + 1):
        loss = 20.0 / (1 + i / 20) + 0.3
        avg = loss if i == 1 else 0.9 * avg + 0.1 * loss
        lr = 0.001 * min(1.0, (i / 100) ** 4)
        out.append(
            f" {i}: {loss:.6f}, {avg:.6f} avg loss, {lr:.6f} rate, 2.1 seconds, {64 * i} images"
        )
    return out


def test_a_darknet_printout_is_read(tmp_path: Path) -> None:
    p = tmp_path / "train.log"
    p.write_text(
        "yolov3_training\nLearning Rate: 0.001, Momentum: 0.9\n" + "\n".join(_darknet_lines(300))
    )
    log = read_log(p)
    assert log.format == "text" and len(log.loss) == 300
    assert log.loss.values[0] == pytest.approx(20.0 / 1.05 + 0.3, rel=1e-5)
    assert log.lr is not None and log.lr.values[-1] == pytest.approx(0.001)


def test_nul_holes_in_a_text_log_are_removed_with_a_note(tmp_path: Path) -> None:
    # A log truncated (> train.log) while the trainer kept writing at its old offset.
    lines = _darknet_lines(200)
    raw = ("\n".join(lines[:50]) + "\n").encode() + b"\x00" * 4000 + "\n".join(lines[50:]).encode()
    p = tmp_path / "train.log"
    p.write_bytes(raw)
    log = read_log(p)
    assert len(log.loss) == 200
    assert any("4000 NUL bytes" in n for n in log.notes)
    # a binary file stays an error
    q = tmp_path / "weights.log"
    q.write_bytes(bytes(range(256)) * 50)
    with pytest.raises(LogFormatError, match="binary content"):
        read_log(q)


def test_a_catboost_training_json_is_read(tmp_path: Path) -> None:
    its = [{"iteration": i, "learn": [0.65 * 0.995**i, 0.9], "test": [0.66 * 0.996**i],
            "passed_time": 0.4 * i, "remaining_time": 100.0} for i in range(300)]  # fmt: skip
    doc = {"meta": {"learn_metrics": [{"best_value": "Min", "name": "Logloss"}],
                    "test_metrics": [{"best_value": "Min", "name": "Logloss"}],
                    "iteration_count": 1000, "name": "experiment"}, "iterations": its}  # fmt: skip
    p = tmp_path / "catboost_training.json"
    p.write_text(json.dumps(doc))
    log = read_log(p)
    assert log.format == "catboost" and len(log.loss) == 300
    assert log.val_loss is not None and log.val_loss.values[0] == pytest.approx(0.66)
    assert any("Logloss" in n for n in log.notes)


def test_a_count_or_scale_of_the_loss_is_not_the_loss(tmp_path: Path) -> None:
    # real30 v07: a JSON Lines log whose only column with "loss" in its name counts tokens
    rows = [{"step": i, "num_loss_tokens": 500.0 + 7 * (i % 5), "loss_scale": 65536.0,
             "train_mean_nll": 2.4 * 0.99**i, "test/nll": 2.5 * 0.99**i} for i in range(60)]  # fmt: skip
    p = tmp_path / "metrics.jsonl"
    p.write_text("\n".join(json.dumps(r) for r in rows))
    log = read_log(p)
    assert log.columns["loss"] == "train_mean_nll" and log.columns["val_loss"] == "test/nll"


def test_a_printed_log_without_loss_values_says_so(tmp_path: Path) -> None:
    p = tmp_path / "training.log"
    p.write_text("".join(f"[2019-03-22 09:57:{i:02d} main.py:176] INFO  Epoch0 [{i}/7876] "
                         f"Stage 0 = 1.{i}(2.0)\n" for i in range(30)))  # fmt: skip
    with pytest.raises(LogFormatError, match="no two lines hold a value named as a loss"):
        read_log(p)


@pytest.mark.parametrize("split", [True, False])
def test_a_long_table_is_pivoted(tmp_path: Path, split: bool) -> None:
    # real33 v11: epoch,split,metric,value (and MLflow's key,value,step,timestamp history)
    lines = ["epoch,split,metric,value" if split else "key,value,step,timestamp"]
    for e in range(1, 31):
        if split:
            lines += [f"{e},train,loss,{2.0 * 0.9**e}", f"{e},val,loss,{2.1 * 0.92**e}",
                      f"{e},val,accuracy,{1 - 0.5 * 0.9**e}"]  # fmt: skip
        else:
            lines += [
                f"train_loss,{2.0 * 0.9**e},{e},{1000 + e}",
                f"val_loss,{2.1 * 0.92**e},{e},{1000 + e}",
            ]
    p = tmp_path / "training_log.csv"
    p.write_text("\n".join(lines) + "\n")
    log = read_log(p)
    assert log.columns["loss"] == "train_loss" and log.columns["val_loss"] == "val_loss"
    assert len(log.loss) == 30 and log.loss.values[0] == pytest.approx(1.8)
    assert log.val_loss is not None and log.val_loss.values[-1] == pytest.approx(2.1 * 0.92**30)


def _sentence_log(epochs: int, steps: int) -> str:
    # real34 v07 (PaddlePaddle): values in sentences, a step counter that restarts every epoch,
    # the LR on each epoch's header line, commas in a preamble line
    out = ["W1205 12:44:41.166 device_context.cc:447] NOTE: device: 0, GPU Compute Capability: 7.0"]
    for e in range(epochs):
        lr = 1e-3 if e < epochs // 2 else 1e-4
        out.append(f"Starting epoch {e} current lr is {lr}")
        for s in range(25, steps + 1, 25):
            loss = 0.1 / (1 + e + s / steps)
            out.append(f"Epoch {e}, Step {s}, total used time 7.1 (s), avg loss so far is {loss}")
        out.append(f"Epoch {e}, val loss is {0.05 / (1 + e)}, val mse is {0.02 / (1 + e)}.")
    return "\n".join(out) + "\n"


def test_a_log_that_prints_its_values_in_sentences(tmp_path: Path) -> None:
    p = tmp_path / "train.log"
    p.write_text(_sentence_log(12, 100))
    log = read_log(p)
    assert log.format == "text" and len(log.loss) == 12 * 4 and log.x_name == "step"
    assert log.columns["loss"] == "avg loss so far" and log.columns["val_loss"] == "val loss"
    assert log.val_loss is not None and len(log.val_loss) == 12
    # the step counter restarts every epoch: counted across epochs, strictly increasing
    assert np.all(np.diff(log.loss.steps) > 0) and log.loss.steps[-1] == 12 * 100
    assert any("restarts every 'epoch'" in n for n in log.notes)
    # the LR printed on each epoch's header line is the LR of the lines below it
    assert log.lr is not None and log.lr.values[0] == 1e-3 and log.lr.values[-1] == 1e-4


def test_an_appended_log_whose_epoch_restarts_too_is_still_several_runs(tmp_path: Path) -> None:
    p = tmp_path / "train.log"
    p.write_text(_sentence_log(5, 100) + _sentence_log(6, 100))
    log = read_log(p)
    assert len(log.loss) == 6 * 4  # the last run only
    assert any("2 runs in this log" in n for n in log.notes)


def test_fairseq_json_records_in_a_printed_log(tmp_path: Path) -> None:
    # fairseq's --log-format json: each line a logger prefix and a JSON record whose numbers are
    # quoted strings; the first line a Namespace(...) dump full of commas (no CSV header).
    lines = [
        "2025-05-29 21:53:44 | INFO | fairseq_cli.train | Namespace(activation_dropout=0.0, "
        "adam_eps=1e-08, arch='transformer', best_checkpoint_metric='loss', lr=[0.0005])"
    ]
    for i in range(1, 41):
        loss = 3.0 * 0.98**i
        lines.append(
            f'2025-05-29 21:54:{i:02d} | INFO | train_inner | {{"epoch": {1 + i // 20}, '
            f'"update": {1 + i / 1000:.3f}, "loss": "{loss:.3f}", "ppl": "{2**loss:.2f}", '
            f'"num_updates": "{50 * i}", "lr": "{1e-5 * i:.6g}", "gnorm": "0.7"}}'
        )
        if i % 20 == 0:
            lines.append(
                f'2025-05-29 22:{i:02d}:08 | INFO | valid | {{"epoch": {i // 20}, '
                f'"valid_loss": "{loss + 0.1:.3f}", "valid_num_updates": "{50 * i}"}}'
            )
    (tmp_path / "train.log").write_text("\n".join(lines) + "\n")
    log = read_log(tmp_path / "train.log")
    assert log.loss.name == "loss" and len(log.loss) == 40
    assert log.loss.values[0] == pytest.approx(3.0 * 0.98) and log.lr is not None
    assert log.lr.values[-1] == pytest.approx(4e-4)
    assert log.val_loss is not None and len(log.val_loss.finite()) == 2


def test_a_printed_epoch_table_is_read(tmp_path: Path) -> None:
    # real41 v01/v02: skorch's printed epoch table, a rule of dashes under the header, each
    # column's best so far in a colour code, and a line of text after it.
    rows = []
    for e in range(1, 31):
        loss, val = 1.6 * 0.9**e, 1.5 * 0.95**e
        best = "\x1b[32m" if e % 3 else ""
        rows.append(f"{e:7d}  {best}{loss:.4f}\x1b[0m  {val:10.4f}  {0.02:6.4f}  {30.5 + e:9.4f}")
    text = "  epoch    train_loss    valid_loss      lr        dur\n"
    text += "-------  ------------  ------------  ------  ---------\n" + "\n".join(rows)
    text += "\nStopping since valid_loss has not improved in the last 5 epochs.\n"
    p = tmp_path / "training_log.txt"
    p.write_text(text)
    log = read_log(p)
    assert log.columns == {"loss": "train_loss", "val_loss": "valid_loss", "lr": "lr"}
    assert len(log.loss) == 30 and log.loss.values[-1] == pytest.approx(1.6 * 0.9**30, abs=1e-4)


def test_a_log_in_a_legacy_encoding_is_read_and_says_so(tmp_path: Path) -> None:
    # real41 v05/v11: a logger's messages in GBK (or cp1252) around ASCII numbers
    lines = ["\u5f00\u59cb\u8bad\u7ec3 (start)"] + [
        f"epoch {e} \u8bad\u7ec3 loss: {2.0 * 0.9**e:.4f}" for e in range(20)
    ]
    p = tmp_path / "train.log"
    p.write_bytes("\n".join(lines).encode("gbk"))
    log = read_log(p)
    assert len(log.loss) == 20 and log.loss.values[0] == pytest.approx(2.0)
    assert any("not UTF-8" in n and "GB18030" in n for n in log.notes)
    # cp1252 (accented Latin words) is no Chinese: read as Latin-1
    q = tmp_path / "entrainement.log"
    latin = ["D\u00e9but de l'entra\u00eenement"] + [
        f"\u00e9poque {e} loss: {2.0 * 0.9**e:.4f}" for e in range(20)
    ]
    q.write_bytes("\n".join(latin).encode("cp1252"))
    log = read_log(q)
    assert len(log.loss) == 20 and any("Latin-1" in n for n in log.notes)


def test_a_log_of_perplexity_alone_is_read_as_its_cross_entropy(tmp_path: Path) -> None:
    # session 23, real65 v12/v18: a word-level LM's 'Epoch,Perplexity' per epoch, no loss
    p = tmp_path / "valid_dropout_0.50.csv"
    p.write_text(
        "Epoch,Perplexity\n" + "".join(f"{e},{20 + 500 * 0.8**e:.4f}\n" for e in range(40))
    )
    log = read_log(p)
    assert log.columns["loss"] == "ln(Perplexity)"
    assert log.loss.values[0] == pytest.approx(math.log(520.0))
    assert any("perplexity" in n for n in log.notes)
    # beside a loss column, the perplexity stays a metric
    q = tmp_path / "lm.csv"
    q.write_text(
        "epoch,loss,ppl\n"
        + "".join(f"{e},{3 - 0.01 * e},{math.exp(3 - 0.01 * e)}\n" for e in range(20))
    )
    assert read_log(q).columns["loss"] == "loss"


def test_a_loss_named_in_chinese_with_full_width_colons_is_read(tmp_path: Path) -> None:
    # session 23, real64 v02: a GPT-2 fine-tune's GBK log, '当前Batch：10/6035 | 当前损失值：10.113'
    lines = ["\u6a21\u578b\u8bad\u7ec3\u5f00\u59cb"] + [
        f"\u5f53\u524dBatch\uff1a{10 * i}/600 | \u5f53\u524d\u635f\u5931\u503c\uff1a"
        f"{10.0 * 0.99**i:.4f} | \u5f53\u524d\u51c6\u786e\u7387\uff1a{i / 2:.2f}%"
        for i in range(1, 41)
    ]
    p = tmp_path / "train_log.txt"
    p.write_bytes("\n".join(lines).encode("gbk"))
    log = read_log(p)
    assert len(log.loss) == 40 and log.loss.values[0] == pytest.approx(9.9)
    assert "\u635f\u5931" in log.columns["loss"]  # 损失, "loss"


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be"])
def test_a_utf16_log_with_its_byte_order_mark_is_read(tmp_path: Path, encoding: str) -> None:
    # Windows PowerShell's `python train.py > train.log` writes UTF-16 with a BOM
    text = "step,loss\n" + "".join(f"{i},{2.0 * 0.9**i}\n" for i in range(20))
    raw = text.encode(encoding)
    if encoding == "utf-16-be":
        raw = b"\xfe\xff" + raw
    p = tmp_path / "train.csv"
    p.write_bytes(raw)
    log = read_log(p)
    assert len(log.loss) == 20 and log.loss.values[1] == pytest.approx(1.8)


def test_appended_runs_split_where_each_epoch_has_several_lines(tmp_path: Path) -> None:
    # real40 v13: sessions appended to one log, each epoch written by two ranks; the epoch
    # is no position (two rows each) but its restart still starts a new run
    lines = []
    for run, epochs in ((0, 6), (1, 8)):
        for e in range(1, epochs + 1):
            for rank in range(2):
                loss = 2.0 * 0.9**e + 0.01 * rank + run
                lines.append(f"INFO - Epoch {e} Average Training Loss: {loss:.4f}")
    p = tmp_path / "training.log"
    p.write_text("\n".join(lines) + "\n")
    log = read_log(p)
    assert len(log.loss) == 16 and log.loss.values[0] == pytest.approx(2.8, abs=1e-3)
    assert any("2 runs in this log" in n for n in log.notes)


def _ultralytics_console(epochs: int, *, header_every_epoch: bool = True) -> str:
    """Ultralytics' console output: the loss table's header printed every epoch, its row
    redrawn in place (carriage returns, ANSI erase) by the progress bar, then validation."""
    head = (
        "      Epoch    GPU_mem   box_loss   seg_loss   cls_loss   dfl_loss  Instances       Size"
    )
    out = [
        "Ultralytics 8.3.1 Python-3.11 torch-2.4 CUDA:0",
        "Starting training for 100 epochs...",
        "",
    ]
    for e in range(1, epochs + 1):
        if header_every_epoch or e == 1:
            out.append(head)
        frames = []
        for b, done in ((1, "0%"), (25, "50%"), (50, "100%")):
            box, seg, cls, dfl = (1.2 / e + 0.01 * b, 3.0 / e, 2.0 / e, 1.5 - 0.01 * e)
            frames.append(f"\r\x1b[K      {e}/100      1.27G {box:10.4g} {seg:10.4g} {cls:10.4g} "
                          f"{dfl:10.4g}         73        640: {done} ━━━━━━━━━━━━ {b}/50  9.3s")  # fmt: skip
        out.append("".join(frames))
        out.append("\r\x1b[K                 Class     Images  Instances      Box(P          R"
                   "      mAP50  mAP50-95): 100% ━━━━ 1/1 2.9s/it")  # fmt: skip
        out.append(
            f"                   all         18         18      0.173      0.314   {0.1 * e:.3f}     0.0962"
        )
        out.append("")
    return "\n".join(out) + "\n"


def test_ultralytics_console_output_is_read_per_epoch(tmp_path: Path) -> None:
    # real40 v12: a YOLO11-seg run's printed stdout (not its results.csv), unreadable before
    p = tmp_path / "training.log"
    p.write_text(_ultralytics_console(12), encoding="utf-8")
    log = read_log(p)
    assert log.format == "text" and log.x_name == "epoch"
    assert log.loss.name == "loss" and log.loss.steps.tolist() == list(range(1, 13))
    # the epoch's last drawing of its row (batch 50 of 50), its four components summed
    e = 3
    assert log.loss.values[e - 1] == pytest.approx(
        (1.2 / e + 0.5) + 3.0 / e + 2.0 / e + 1.5 - 0.01 * e, rel=1e-3
    )
    assert any("sum of the 4 printed components" in n for n in log.notes)
    assert "GPU_mem" not in log.metrics  # a size with its unit is no curve
    assert diagnose(p).verdict in {"healthy", "lr_too_low", "plateau"}


def test_a_whitespace_table_printed_once_stays_a_table(tmp_path: Path) -> None:
    # one header, rows below: a space-separated file for the table reader, not a console log
    rows = ["epoch train_loss val_loss"] + [
        f"{e} {2.0 * 0.9**e:.4f} {2.1 * 0.9**e:.4f}" for e in range(20)
    ]
    p = tmp_path / "log.txt"
    p.write_text("\n".join(rows) + "\n")
    log = read_log(p)
    assert log.format == "csv" and log.loss.name == "train_loss" and len(log.loss) == 20


def test_jsonl_with_comment_lines_between_runs(tmp_path: Path) -> None:
    # real25 v10: a hand-written callback's JSON Lines, the runs separated by "// label" lines
    lines = ["// baseline"] + [json.dumps({"epoch": e, "loss": 1.0 - 0.05 * e}) for e in range(5)]
    lines += ["", "# run 2: lr 3e-4"] + [
        json.dumps({"epoch": e, "loss": 0.5 - 0.02 * e}) for e in range(8)
    ]
    log = read_log(write(tmp_path / "training_log.jsonl", "\n".join(lines) + "\n"))
    assert log.format == "jsonl" and len(log.loss) == 8 and log.loss.values[0] == pytest.approx(0.5)
    assert any("2 runs in this log" in n for n in log.notes)


def test_one_table_per_experiment_in_a_written_report(tmp_path: Path) -> None:
    # real49 v10: a report with a table per experiment, its header's names apart by two spaces
    # or more ("Validation Accuracy" is one column); the epoch restarts with each experiment
    lines = ["CNN Cat Dog Classification - Training Experiments", ""]
    for run, (start, rate) in enumerate(((0.64, 0.5), (0.66, 0.8))):
        lines += [
            f"Experiment {run + 1}",
            "- Learning rate: 0.001",
            "",
            "Epoch    Loss      Validation Accuracy",
        ]
        lines += [
            f"{e:<9d}{start * rate ** (e / 5):.4f}    {0.7 + 0.01 * e:.4f}" for e in range(1, 11)
        ]
        lines += ["", "Best Validation Accuracy: 76.04%", ""]
    log = _printed(tmp_path / "training_log.txt", lines)
    assert log.format == "text" and log.loss.name == "Loss" and len(log.loss) == 10
    assert log.loss.values[0] == pytest.approx(0.66 * 0.8**0.2, abs=1e-4)
    assert "Validation Accuracy" in log.metrics
    assert any("2 runs in this log" in n for n in log.notes)


def test_a_markdown_log_s_best_values_header_is_no_point_of_the_run(tmp_path: Path) -> None:
    # real66 v14: "## Best Performance:" lists "- Best Train Loss: 0.1175 (Epoch 15)" above the
    # "## Epoch no. = N" sections; read as a point, it put the last loss before the first.
    lines = ["# Training Log", "", "## Best Performance:", "- Best Accuracy: 0.9059 (Epoch 15)",
             "- Best Train Loss: 0.1175 (Epoch 15)", "- Best Validation Loss: 0.3135 (Epoch 15)",
             ""]  # fmt: skip
    for e in range(1, 16):
        lines += [f"## Epoch no. = {e}", f"- Accuracy: {0.35 + 0.037 * e:.4f}",
                  f"- Train Loss: {1.1 * 0.85**e:.4f}", f"- Validation Loss: {1.1 * 0.9**e:.4f}",
                  ""]  # fmt: skip
    log = _printed(tmp_path / "commontest_scores.md", lines)
    assert log.loss.name == "Train Loss" and len(log.loss) == 15
    assert log.loss.values[0] == pytest.approx(1.1 * 0.85, abs=1e-4)
    assert log.val_loss is not None and len(log.val_loss) == 15


def test_a_psnr_only_log_is_read_as_the_squared_error_it_stands_for(tmp_path: Path) -> None:
    # real69 v09: an image restorer's printed log, 'Date: ..., Epoch: [n/100],Val_PSNR: x,
    # Val_SSIM: y', no loss; PSNR = 10 log10(MAX^2 / MSE), so 10^(-PSNR/10) is the MSE
    # relative to the peak signal.
    lines = [f"Date: 2023-10-29 11:{25 + e % 30:02d}:34s, Time_Cost: 98s, Epoch: [{e}/40],"
             f"Val_PSNR: {25 + 15 * (1 - 0.9**e):.2f}, Val_SSIM: {0.99 - 0.1 * 0.9**e:.4f}"
             for e in range(1, 41)]  # fmt: skip
    log = _printed(tmp_path / "train_log.txt", lines)
    assert log.columns["loss"] == "10^(-Val_PSNR/10)" and len(log.loss) == 40
    psnr = float(f"{25 + 15 * (1 - 0.9):.2f}")
    assert log.loss.values[0] == pytest.approx(10 ** (-psnr / 10))
    assert log.loss_is_validation and any("PSNR" in n for n in log.notes)
    # beside a loss, the PSNR stays a metric
    both = [f"Epoch: [{e}/40], loss: {1 / e:.4f}, Val_PSNR: {20 + e:.2f}" for e in range(1, 41)]
    assert _printed(tmp_path / "log2.txt", both).columns["loss"] == "loss"


def test_a_cyclegan_loss_log_sums_its_named_terms(tmp_path: Path) -> None:
    # real69 v14/v15: pytorch-CycleGAN-and-pix2pix's loss_log.txt, a banner atop each run and
    # '(epoch: 1, iters: 100, time: 0.340, data: 0.139) D_A: 0.446 G_A: 0.423 cycle_A: 2.365
    # ...': no name says loss, the commas are no CSV; two banners, then the run.
    lines = ["================ Training Loss (Sat Apr 26 07:35:48 2025) ================"] * 2
    for e in range(1, 6):
        for it in range(100, 500, 100):
            k = (e - 1) * 4 + it // 100
            lines.append(f"(epoch: {e}, iters: {it}, time: 0.340, data: 0.001) D_A: 0.250 "
                         f"G_A: 0.300 cycle_A: {3.0 / k:.3f} idt_A: {1.0 / k:.3f} ")  # fmt: skip
    log = _printed(tmp_path / "loss_log.txt", lines)
    assert log.columns["loss"] == "loss" and len(log.loss) == 20
    assert log.loss.values[0] == pytest.approx(0.25 + 0.3 + 3.0 + 1.0)
    assert any("sum of the 4" in n for n in log.notes)
    assert "cycle_A_loss" in log.metrics


def test_a_history_printed_one_named_list_a_line(tmp_path: Path) -> None:
    # real71 v01: 'val_loss:[0.0325, 0.0333, ...]' and 'loss:[0.67, 0.09, ...]', a Keras
    # history printed one key a line (read as a CSV with duplicate column names before).
    loss = [round(0.6 * 0.8**e + 0.04, 6) for e in range(30)]
    val = [round(0.5 * 0.8**e + 0.03, 6) for e in range(30)]
    p = tmp_path / "loss_log.txt"
    p.write_text(f"val_loss:{val}\nloss:{loss}\n")
    log = read_log(p)
    assert log.columns["loss"] == "loss" and log.columns["val_loss"] == "val_loss"
    assert log.loss.values.tolist() == loss and len(log.val_loss) == 30
    # one line that is no named list: not this reader
    p.write_text(f"val_loss:{val}\nloss:{loss}\nEpoch 30 done\n")
    with pytest.raises(LogFormatError):
        read_log(p)


def test_a_log_of_step_name_value_lines(tmp_path: Path) -> None:
    # Karpathy's build-nanogpt log.txt: "250 val 4.1023", "251 train 4.0876", "250 hella 0.26"
    lines = []
    for step in range(200):
        if step % 25 == 0:
            lines += [
                f"{step} val {4.0 + 6.0 * 0.98**step:.4f}",
                f"{step} hella {0.25 + step / 4000:.4f}",
            ]
        lines.append(f"{step} train {4.0 + 7.0 * 0.98**step:.6f}")
    log = _printed(tmp_path / "log.txt", lines)
    assert log.format == "text" and log.loss.name == "train_loss" and len(log.loss) == 200
    assert log.val_loss is not None and log.val_loss.steps.tolist() == list(range(0, 200, 25))
    assert log.loss.values[10] == pytest.approx(4.0 + 7.0 * 0.98**10, rel=1e-5)
    assert "hella" in log.metrics
    # without a line naming the training split, the names say nothing about a loss
    with pytest.raises(LogFormatError):
        _printed(tmp_path / "other.txt", [f"{s} speed {100 + s}" for s in range(50)])


@pytest.mark.parametrize(
    ("prefix", "bar"),
    [("2026-01-18 20:37:25,858 - ", "|"), ("", "│"), ("[INFO] ", "|")],
)
def test_a_sideways_table_printed_each_epoch(tmp_path: Path, prefix: str, bar: str) -> None:
    # One row per metric, one column per split (real45 v05: "METRIC | TRAIN | VALIDATION"),
    # behind a logging prefix or not; config lines and a final test table around it.
    lines = [f"{prefix}CONFIGURATION:", f"{prefix}  - learning_rate: 0.0001"]
    for epoch in range(6):
        lines += [
            f"Epoch {epoch + 1}/6",
            f"{prefix}{'-' * 40}",
            f"{prefix}METRIC     {bar} TRAIN      {bar} VALIDATION",
            f"{prefix}Loss       {bar} {0.9 * 0.7**epoch:.4f}     {bar} {1.0 * 0.8**epoch:.4f}",
            f"{prefix}F1 Score   {bar} {0.5 + 0.05 * epoch:.4f}     {bar} {0.4 + 0.05 * epoch:.4f}",
            f"{prefix}{'-' * 40}",
        ]
    log = _printed(tmp_path / "training_log.txt", lines)
    assert log.format == "text" and log.loss.name == "train_loss" and len(log.loss) == 6
    assert log.loss.values[2] == pytest.approx(0.9 * 0.49, abs=1e-4)
    assert log.val_loss is not None and log.val_loss.name == "val_loss"
    assert log.val_loss.values[-1] == pytest.approx(0.8**5, abs=1e-4)
    assert "val_f1_score" in log.metrics
    # a split-free bar table (a config dump: "key | value") holds no curve
    with pytest.raises(LogFormatError):
        _printed(tmp_path / "cfg.txt", [f"{prefix}lr {bar} 0.1", f"{prefix}loss {bar} ce"] * 3)


def test_a_log_with_accuracy_but_no_loss_is_read_as_error_rates(tmp_path: Path) -> None:
    # Torch7's optim.Logger (real52 v11/v12): "% mean class accuracy (train set)", in percent.
    acc = [14.6 + 80 * (1 - 0.8**e) for e in range(30)]
    path = write(
        tmp_path / "train.log",
        "% mean class accuracy (train set)\t\n" + "".join(f" {a:.4e}\t\n" for a in acc),
    )
    log = read_log(path)
    assert log.loss_is_error_rate and not log.loss_is_validation
    assert log.loss.values[0] == pytest.approx(100 - 14.6, abs=1e-3)
    assert any("error rate" in n for n in log.notes)
    # fractions, with a validation accuracy beside: both become error rates
    rows = ["epoch,acc,val_acc"] + [
        f"{e},{0.5 + e / 100:.3f},{0.45 + e / 120:.3f}" for e in range(30)
    ]
    log = read_log(write(tmp_path / "h.csv", "\n".join(rows) + "\n"))
    assert log.loss.name == "1 - acc" and log.loss.values[0] == pytest.approx(0.5)
    assert log.val_loss is not None and log.val_loss.name == "1 - val_acc"
    # a validation accuracy alone is the curve judged, as a validation loss alone is
    rows = ["epoch,val_accuracy"] + [f"{e},{0.5 + e / 100:.3f}" for e in range(30)]
    log = read_log(write(tmp_path / "v.csv", "\n".join(rows) + "\n"))
    assert log.loss_is_validation and log.loss.name == "1 - val_accuracy"
    # a loss, when there is one, is always the curve
    rows = ["epoch,loss,acc"] + [f"{e},{2.0 / (1 + e):.4f},{0.5 + e / 100:.3f}" for e in range(30)]
    log = read_log(write(tmp_path / "l.csv", "\n".join(rows) + "\n"))
    assert log.loss.name == "loss" and not log.loss_is_error_rate


def test_an_error_rate_is_never_at_a_loss_chance_level(tmp_path: Path) -> None:
    # 69.3% error, flat: ln 2 for a cross-entropy, but no chance level for an error rate
    acc = [30.7 + 0.01 * ((-1) ** e) for e in range(40)]
    acc[:5] = [10.0, 20.0, 25.0, 28.0, 30.0]
    rows = ["epoch,accuracy"] + [f"{e},{a / 100:.4f}" for e, a in enumerate(acc)]
    d = diagnose(write(tmp_path / "a.csv", "\n".join(rows) + "\n"))
    assert d.log.loss_is_error_rate
    assert not any(f.statistic == "loss_at_chance" for f in d.findings)


def test_a_history_nested_one_level_down_beside_its_epochs(tmp_path: Path) -> None:
    # {"epochs": [...], "metrics": {"loss": [...], "learning_rate": [...]}} (real24 v01): the
    # lists under "metrics" are the log, the epoch list beside them its axis.
    n = 12
    doc = {
        "epochs": [float(e) for e in range(n)],
        "metrics": {
            "train_loss": [2.0 / (1 + e) for e in range(n)],
            "val_loss": [2.1 / (1 + 0.8 * e) for e in range(n)],
            "learning_rate": [1e-3] * n,
            "loss": [2.0 / (1 + e) for e in range(n)],
        },
        "config": {"batch_size": 32, "name": "run"},
    }
    log = read_log(write(tmp_path / "history.json", json.dumps(doc)))
    assert log.x_name == "epoch" and len(log.loss) == n
    assert log.val_loss is not None and log.lr is not None
    np.testing.assert_allclose(log.loss.values, doc["metrics"]["train_loss"])
    # a name at both levels keeps the top one; the nested one is named by its group
    doc["loss"] = [3.0 / (1 + e) for e in range(n)]
    log = read_log(write(tmp_path / "history2.json", json.dumps(doc)))
    assert "metrics/loss" in log.metrics or log.loss.name == "metrics/loss"


def test_a_csv_with_a_row_per_split_and_epoch(tmp_path: Path) -> None:
    # "epoch,split,loss,dice,lr" with a train row and a val row each epoch (real53 v15): each
    # row read under its split's names, not one loss curve alternating between the two.
    rows = ["epoch,split,loss,dice,lr"]
    for e in range(1, 21):
        rows.append(f"{e},train,{1.0 / e:.4f},{0.5 + e / 50:.3f},0.001")
        rows.append(f"{e},val,{0.6 + 0.4 / e:.4f},{0.45 + e / 60:.3f},0.001")
    log = read_log(write(tmp_path / "history.csv", "\n".join(rows) + "\n"))
    assert log.x_name == "epoch" and len(log.loss) == 20
    np.testing.assert_allclose(log.loss.values, [1.0 / e for e in range(1, 21)], atol=1e-4)
    assert log.val_loss is not None and log.val_loss.name == "val_loss"
    np.testing.assert_allclose(log.val_loss.values[-1], 0.62, atol=1e-4)
    assert "val_dice" in log.metrics and log.lr is not None
    # a text column of another kind (a run's name) is no split
    rows = ["epoch,run,loss"] + [f"{e},baseline,{1.0 / e:.4f}" for e in range(1, 21)]
    log = read_log(write(tmp_path / "runs.csv", "\n".join(rows) + "\n"))
    assert len(log.loss) == 20 and log.val_loss is None


def test_a_table_after_a_printed_preamble(tmp_path: Path) -> None:
    # pytorch-classification's log.txt behind an argument dump (real54 v05): "==>Arguments:",
    # "lr:0.1", ..., "==>Training log:", then a tab-separated table with trailing tabs.
    lines = ["==>Arguments:", "arch:resnet50", "epochs:30", "lr:0.1", "==>Training log:"]
    lines.append("Learning Rate\tTrain Loss\tValid Loss\tTrain Acc\tValid Acc\t")
    for e in range(30):
        lr = 0.1 if e < 20 else 0.01
        lines.append(
            f"{lr:.6f}\t{2.3 / (1 + e / 5):.6f}\t{2.4 / (1 + e / 6):.6f}\t{20 + e:.4f}\t{19 + e:.4f}\t"
        )
    log = read_log(write(tmp_path / "log.txt", "\n".join(lines) + "\n"))
    assert log.columns == {"loss": "Train Loss", "val_loss": "Valid Loss", "lr": "Learning Rate"}
    assert len(log.loss) == 30 and log.loss.values[0] == pytest.approx(2.3)
    assert any("skipped 5 lines of a printed preamble" in n for n in log.notes)
    # text after the table (not only numbers below the header): no preamble is guessed
    with pytest.raises(LogFormatError):
        read_log(write(tmp_path / "log2.txt", "\n".join([*lines, "Best acc: 48.0"]) + "\n"))


def test_a_printed_log_naming_its_losses_by_split_alone(tmp_path: Path) -> None:
    # "epoch 201 | train 1.1132 (seg 0.0766, thick 1.0367) | val 1.3223 (...) | lr 3.91e-06"
    # (real55 v10): no line says "loss", a split's name alone names that split's loss.
    lines = ["nohup: ignoring input", "Train samples: 72470 | Val samples: 9082"]
    for e in range(1, 31):
        tr, va = 2.0 / (1 + e / 4), 2.2 / (1 + e / 5)
        lines.append(
            f"epoch {e} | train {tr:.4f} (seg {tr / 10:.4f}, thick {tr * 0.9:.4f}) | "
            f"val {va:.4f} (seg {va / 10:.4f}, thick {va * 0.9:.4f}) | lr 1.00e-03 | "
            f"epoch time 12m 44s"
        )
    log = _printed(tmp_path / "training_log.txt", lines)
    assert log.columns == {"loss": "train_loss", "val_loss": "val_loss", "lr": "lr"}
    assert log.x_name == "epoch" and len(log.loss) == 30
    assert log.loss.values[3] == pytest.approx(1.0, abs=1e-4)
    # a split's name with a count after it once (a header line) names no loss
    with pytest.raises(LogFormatError):
        _printed(
            tmp_path / "other.txt",
            ["train 72470 samples", *[f"step {s} acc 0.{s}" for s in range(1, 9)]],
        )


def test_a_column_named_error_is_the_objective_where_none_says_loss(tmp_path: Path) -> None:
    # Torch7's optim.Logger "training error" (real57 v13); a loss column still wins over it.
    values = [476.58 / (1 + e / 3) for e in range(40)]
    log = read_log(
        write(
            tmp_path / "loss_log.txt",
            "training error\t\n" + "".join(f" {v:.4e}\t\n" for v in values),
        )
    )
    assert log.loss.name == "training error" and len(log.loss) == 40
    rows = ["epoch,loss,error"] + [
        f"{e},{2.0 / (1 + e):.4f},{0.5 / (1 + e):.4f}" for e in range(20)
    ]
    assert read_log(write(tmp_path / "b.csv", "\n".join(rows) + "\n")).loss.name == "loss"
