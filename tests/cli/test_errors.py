"""Bad input to the commands: exit code 2 and one line on stderr, before any work."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="the task commands need torch")

from lrkit.cli import main  # noqa: E402

TASK_FILE = """
import torch
from torch import nn
from lrkit.tasks import Task, accuracy, cross_entropy


def make():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(128, 10, generator=g)
    y = x[:, :3].argmax(1)
    return Task(name="tiny", make_model=lambda: nn.Sequential(nn.Linear(10, 16), nn.ReLU(),
                nn.Linear(16, 3)), train=(x[:96], y[:96]), val=(x[96:], y[96:]),
                loss_fn=cross_entropy, metric=accuracy, optimizer="adam", lr=1e-2,
                batch_size=32, epochs=2)


def broken():
    def model():
        return undefined_model  # noqa: F821  (the same NameError on every trial)

    t = make()
    return Task(name="broken", make_model=model, train=t.train, val=t.val, loss_fn=t.loss_fn,
                metric=t.metric, epochs=1)
"""


@pytest.fixture
def task_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny_task.py"
    path.write_text(TASK_FILE)
    return path


def _lrkit(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exc.value.code or 0), out, err


def _one_line_error(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    code, _, err = _lrkit(capsys, *args)
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("lrkit: error: "), err
    return err


@pytest.mark.parametrize("command", ["sweep", "pbt"])
def test_a_device_that_is_not_a_device_is_one_line(
    command: str, task_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _one_line_error(capsys, command, f"{task_file}:make", "--device", "gpu", "--no-plot")
    assert "--device" in err and "'gpu'" in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
@pytest.mark.parametrize("device", ["cuda", "cuda:1"])
@pytest.mark.parametrize("command", ["sweep", "pbt"])
def test_cuda_without_cuda_is_one_line(
    command: str, device: str, task_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _one_line_error(capsys, command, f"{task_file}:make", "--device", device, "--no-plot")
    assert f"--device={device!r} is not available" in err and "--device cpu" in err


@pytest.mark.parametrize(
    "command", [["find"], ["sweep"], ["pbt"], ["tune", "--strategy", "random"], ["study"]]
)
def test_an_unwritable_out_fails_before_any_training(
    command: list[str], task_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    start = time.perf_counter()
    err = _one_line_error(
        capsys, command[0], f"{task_file}:make", *command[1:], "--out", str(blocker / "out")
    )
    assert "--out" in err and "a-file" in err
    # Before any training: a study or a tune alone takes far longer than this.
    assert time.perf_counter() - start < 5


def test_out_that_is_a_file_is_one_line(
    task_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    err = _one_line_error(capsys, "find", f"{task_file}:make", "--out", str(blocker))
    assert "--out" in err and "is a file" in err


def test_missing_out_folders_are_created(
    task_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "new" / "nested"
    code, stdout, err = _lrkit(
        capsys, "sweep", f"{task_file}:make", "--lrs", "1e-2,1e-1", "--out", str(out), "--no-plot"
    )
    assert code == 0, err
    assert (out / "sweep-tiny-adam.json").is_file() and f"saved {out}" in stdout


def test_plot_creates_the_folder_of_out(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    png = tmp_path / "newdir" / "deeper" / "x.png"
    code, out, err = _lrkit(capsys, "plot", "cosine(lr=0.1, steps=50)", "--out", str(png))
    assert code == 0, err
    assert png.read_bytes()[:4] == b"\x89PNG" and f"saved {png}" in out


def test_plot_into_a_file_parent_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    err = _one_line_error(
        capsys, "plot", "cosine(lr=0.1, steps=50)", "--out", str(blocker / "x.png")
    )
    assert "--out" in err


def test_plot_draws_exactly_the_schedule_steps(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _lrkit(capsys, "plot", "one_cycle(max_lr=0.1, steps=2000)")
    assert code == 0
    assert "(step 1999)" in out and "2000" not in out.split("(step")[-1]


def test_tune_stops_on_the_same_error_and_says_which(
    task_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    start = time.perf_counter()
    err = _one_line_error(
        capsys, "tune", f"{task_file}:broken", "--strategy", "random", "--trials", "20",
        "--out", str(tmp_path), "--no-progress",
    )  # fmt: skip
    assert "trial 0 (lr=" in err and "NameError" in err and "undefined_model" in err
    assert time.perf_counter() - start < 30


def test_tune_writes_to_lrkit_out_by_default(
    task_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, err = _lrkit(
        capsys, "tune", f"{task_file}:make", "--strategy", "random", "--trials", "2",
        "--epochs", "1", "--seed", "0", "--no-progress", "--no-plot",
    )  # fmt: skip
    assert code == 0, err
    assert (tmp_path / "lrkit-out" / "lrkit-tiny_task-random.json").is_file()
    assert "value: the objective (higher is better)" in out and "cost:" in out


def test_find_notes_name_the_cli_flags() -> None:
    import numpy as np

    from lrkit.cli.find import cli_note
    from lrkit.finder._result import make_result

    lrs = np.geomspace(1e-5, 1.0, 60)
    flat = make_result(lrs, np.full(60, 2.0) + 0.001 * np.sin(np.arange(60)))
    notes = [cli_note(n) for n in flat.notes]
    assert any("(--steps)" in n for n in notes) and not any("steps=" in n for n in notes)
