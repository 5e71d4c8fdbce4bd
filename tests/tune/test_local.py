"""``lrkit.tune.run_local`` and ``WorkerConfig``: N local worker processes share one study."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("optuna", reason="optuna is needed for lrkit.tune")

from lrkit.errors import ConfigError
from lrkit.tune import WorkerConfig, run_local

OBJECTIVE = f"{Path(__file__).with_name('objectives.py')}:quadratic"


def test_worker_config_round_trips_through_json() -> None:
    cfg = WorkerConfig(task="digits-mlp", strategy="random", trials=5, seed=3, epochs=1)
    d = json.loads(cfg.to_json())
    assert d["study_name"] == "lrkit-digits-mlp-random" and "storage" not in d
    assert WorkerConfig.from_mapping(d) == WorkerConfig(**{**d})
    with pytest.raises(ConfigError, match="exactly one of task and objective"):
        WorkerConfig()
    with pytest.raises(ConfigError, match="unknown worker config keys"):
        WorkerConfig.from_mapping({"task": "digits-mlp", "trails": 3})
    with pytest.raises(ConfigError, match="trials must be >= 1"):
        WorkerConfig(objective=OBJECTIVE, trials=0)


def test_several_workers_need_a_storage() -> None:
    with pytest.raises(ConfigError, match="needs a shared --storage"):
        run_local(WorkerConfig(objective=OBJECTIVE), workers=2, progress=False)


def test_two_local_workers_share_one_exact_budget(tmp_path: Path) -> None:
    # In a child process, so the test can time out however the workers behave.
    cfg = WorkerConfig(objective=OBJECTIVE, strategy="random", trials=6, seed=0, low=1e-5,
                       high=1e-1, storage=f"sqlite:///{tmp_path / 's.db'}", study_name="two")  # fmt: skip
    code = (
        "import json, os, sys\n"
        "from lrkit.tune import WorkerConfig, run_local\n"
        "r = run_local(WorkerConfig.from_mapping(json.loads(sys.argv[1])), workers=2, progress=False)\n"
        "print(json.dumps({'n': len(r.trials), 'complete': r.n_complete,"
        " 'nums': [t.number for t in r.trials], 'pid': os.getpid()}))\n"
    )
    marks = tmp_path / "marks"
    marks.mkdir()
    proc = subprocess.run(
        [sys.executable, "-c", code, cfg.to_json()],
        capture_output=True, text=True, timeout=180,
        env={**__import__("os").environ, "LRKIT_TEST_DIR": str(marks), "LRKIT_TEST_SLEEP": "0.2"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert (got["n"], got["complete"], got["nums"]) == (6, 6, [0, 1, 2, 3, 4, 5])
    # Worker processes ran the trials (the parent only created the study and read it back);
    # on a loaded machine one worker may start late and find the budget already met.
    pids = {p.name.split("-")[0] for p in marks.glob("*.end")}
    assert 1 <= len(pids) <= 2 and str(got["pid"]) not in pids
