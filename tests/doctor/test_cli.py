"""``lrkit doctor``: real exit codes via a subprocess, output via ``lrkit.cli.main``."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from lrkit.cli import main

from . import curves


def _csv(path: Path, d: dict) -> Path:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(list(d))
        for row in zip(*d.values()):
            w.writerow([repr(float(v)) for v in row])
    return path


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lrkit", "doctor", *args], capture_output=True, text=True, timeout=60
    )


def test_exit_codes_subprocess(tmp_path: Path) -> None:
    healthy = _run(str(_csv(tmp_path / "ok.csv", curves.healthy())))
    assert healthy.returncode == 0, healthy.stderr
    assert "Verdict: the run looks healthy (healthy)" in healthy.stdout

    sick = _run(str(_csv(tmp_path / "low.csv", curves.lr_too_low())), "--format", "json")
    assert sick.returncode == 1, sick.stderr
    out = json.loads(sick.stdout)
    # a straight fall under a constant LR: ×3, not ×10 (the LR is too small, by an unknown factor)
    assert out["verdict"] == "lr_too_low" and out["prescription"]["lr"] == pytest.approx(3e-5)

    (tmp_path / "empty.csv").write_text("")
    bad = _run(str(tmp_path / "empty.csv"))
    assert bad.returncode == 2
    assert bad.stderr.strip() == f"lrkit: error: {tmp_path / 'empty.csv'}: file is empty"
    assert "Traceback" not in bad.stderr


def _main(args: list[str]) -> int:
    with pytest.raises(SystemExit) as exit_:
        main(["doctor", *args])
    return int(exit_.value.code or 0)


def test_text_output_and_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("matplotlib")
    log = _csv(tmp_path / "plateau.csv", curves.plateau())
    png = tmp_path / "out.png"
    assert _main([str(log), "--plot", str(png)]) == 1
    out = capsys.readouterr().out
    assert "plateau" in out and "Prescription: decay the learning rate by 10×" in out
    assert png.stat().st_size > 10_000 and png.read_bytes()[:4] == b"\x89PNG"


def test_unreadable_inputs_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "trunc.jsonl").write_text('{"step": 0, "loss": 2.3}\n{"step": 1, "lo')
    (tmp_path / "cols.csv").write_text("a,b\n1,2\n3,4\n")
    for name, msg in [
        ("trunc.jsonl", "truncated: last line 2 is not valid JSON"),
        ("cols.csv", "no loss column (columns: a, b); name it with --loss COLUMN"),
        ("missing.csv", "no such file or directory"),
    ]:
        assert _main([str(tmp_path / name)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"lrkit: error: {tmp_path / name}: ") and msg in err
        assert len(err.splitlines()) == 1


def test_column_options(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    d = curves.lr_too_high()
    log = _csv(tmp_path / "x.csv", {"k": d["step"], "objective": d["train_loss"], "eta": d["lr"]})
    assert (
        _main([str(log), "--loss", "objective", "--lr", "eta", "--step", "k", "--format", "json"])
        == 1
    )
    out = json.loads(capsys.readouterr().out)
    assert out["verdict"] == "lr_too_high"
    assert out["log"]["columns"] == {"loss": "objective", "val_loss": None, "lr": "eta"}
    assert out["prescription"]["lr"] == pytest.approx(0.03)


def test_empty_directory_exits_2_with_one_line(tmp_path: Path) -> None:
    # issue #20: not "tensorboard is required", but what is wrong with the folder
    (tmp_path / "empty").mkdir()
    r = _run(str(tmp_path / "empty"))
    assert r.returncode == 2
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "holds no log lrkit can read" in lines[0], r.stderr
    assert "tensorboard" not in lines[0].split("looked for")[0].lower()


def test_inconclusive_exits_0(tmp_path: Path) -> None:
    p = tmp_path / "short.csv"
    p.write_text("epoch,loss\n0,2.3\n1,2.1\n")
    r = _run(str(p))
    assert r.returncode == 0, r.stderr
    assert "(inconclusive)" in r.stdout


def test_rules_only_turns_the_learned_opinion_off(tmp_path: Path) -> None:
    import numpy as np

    from lrkit.doctor import Thresholds, diagnose

    # A noise floor with no LR column: a plateau to the rules, which the forest may overrule.
    rng = np.random.default_rng(0)
    s = np.arange(300, dtype=float)
    data = {"step": s, "loss": (0.6 + 1.7 * np.exp(-s / 20)) * np.exp(rng.normal(0, 0.2, 300))}
    log = _csv(tmp_path / "floor.csv", data)
    rules = json.loads(_run(str(log), "--rules-only", "--format", "json").stdout)
    assert rules["verdict"] == "plateau"
    assert not any(f["statistic"] == "learned_probability" for f in rules["findings"])
    default = json.loads(_run(str(log), "--format", "json").stdout)
    assert default["verdict"] == diagnose(str(log)).verdict
    assert rules["verdict"] == diagnose(str(log), thresholds=Thresholds(learned_margin=0)).verdict
    learned = [f for f in default["findings"] if f["statistic"] == "learned_probability"]
    assert bool(learned) == (default["verdict"] != rules["verdict"])
