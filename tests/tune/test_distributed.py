"""Many worker processes on one study: PostgreSQL and SQLite, exact budget, killed workers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

optuna = pytest.importorskip("optuna", reason="optuna is needed for lrkit.tune")

OBJECTIVE = f"{Path(__file__).with_name('objectives.py')}:quadratic"


def wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def _worker(config: dict, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "lrkit.tune", json.dumps(config)],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _trials(url: str, name: str) -> list:
    # Read with plain Optuna (psycopg2 driver named explicitly: SQLAlchemy defaults to psycopg 3).
    url = url.replace("postgresql://", "postgresql+psycopg2://")
    return optuna.load_study(study_name=name, storage=url).get_trials(deepcopy=False)


def _complete(url: str, name: str) -> list:
    return [t for t in _trials(url, name) if t.state.name == "COMPLETE"]


def test_four_postgres_workers_reach_the_exact_budget(
    postgres_db: Callable[[], str], tmp_path: Path
) -> None:
    url = postgres_db()  # fresh database: the workers race to create the schema
    config = {
        "objective": OBJECTIVE,
        "storage": url,
        "study_name": "four",
        "trials": 24,
        "strategy": "random",
        "low": 1e-5,
        "high": 1e-1,
    }
    procs = [_worker({**config, "seed": i}, {"LRKIT_TEST_SLEEP": "0.05"}) for i in range(4)]
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err
    complete = _complete(url, "four")
    assert len(complete) == 24
    assert len({t.number for t in complete}) == 24
    # Every worker saw the whole study in its result.
    assert all(json.loads(out.strip().splitlines()[-1])["n_complete"] == 24 for out, _ in outs)
    # The work was shared (no worker ran everything alone).
    pids = {f.name.split("-")[0] for f in tmp_path.glob("*.start")}
    assert len(pids) <= 4


def test_killed_postgres_worker_loses_nothing(
    postgres_db: Callable[[], str], tmp_path: Path
) -> None:
    url = postgres_db()
    config = {
        "objective": OBJECTIVE,
        "storage": url,
        "study_name": "kill",
        "trials": 10,
        "strategy": "random",
        "heartbeat_interval": 1,
        "grace_period": 2,
    }
    env = {"LRKIT_TEST_SLEEP": "0.6", "LRKIT_TEST_DIR": str(tmp_path)}
    victim = _worker({**config, "seed": 0}, env)
    wait_for(lambda: any(tmp_path.glob(f"{victim.pid}-*.start")), 60, "the victim's first trial")
    others = [_worker({**config, "seed": i}, env) for i in (1, 2)]

    def victim_mid_trial() -> bool:
        started = {f.stem for f in tmp_path.glob(f"{victim.pid}-*.start")}
        ended = {f.stem for f in tmp_path.glob(f"{victim.pid}-*.end")}
        return len(ended) >= 1 and bool(started - ended)

    wait_for(victim_mid_trial, 60, "the victim to be in the middle of a trial")
    os.kill(victim.pid, signal.SIGKILL)
    victim.wait(timeout=10)
    started = {f.stem for f in tmp_path.glob(f"{victim.pid}-*.start")}
    ended = {f.stem for f in tmp_path.glob(f"{victim.pid}-*.end")}
    killed_number = int(next(iter(started - ended)).split("-")[1])
    done_by_victim = {int(s.split("-")[1]) for s in ended}
    for p in others:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err

    trials = _trials(url, "kill")
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    assert len(complete) == 10
    assert len({t.number for t in complete}) == 10
    by_number = {t.number: t for t in trials}
    # The killed trial was failed by heartbeat and re-run by a surviving worker.
    assert by_number[killed_number].state.name == "FAIL"
    retries = [t for t in complete if t.system_attrs.get("failed_trial") == killed_number]
    assert len(retries) == 1
    assert retries[0].params == by_number[killed_number].params
    # What the victim finished before dying is still there, complete.
    assert done_by_victim <= {t.number for t in complete}


@pytest.mark.parametrize("no_heartbeat_thread", [False, True])
def test_sqlite_resumes_after_a_kill(tmp_path: Path, no_heartbeat_thread: bool) -> None:
    """With ``no_heartbeat_thread`` the killed worker's trial has only the heartbeat lrkit
    writes before the objective: without it, that RUNNING trial would never turn stale and
    the second worker would wait for it forever."""
    url = f"sqlite:///{tmp_path / 'tune.db'}"
    marks = tmp_path / "marks"
    marks.mkdir()
    config = {
        "objective": OBJECTIVE,
        "storage": url,
        "study_name": "resume",
        "trials": 6,
        "strategy": "grid",
        "heartbeat_interval": 1,
        "grace_period": 2,
    }
    env = {"LRKIT_TEST_SLEEP": "0.4", "LRKIT_TEST_DIR": str(marks)}
    first = _worker(
        config, {**env, "LRKIT_TEST_NO_HEARTBEAT_THREAD": "1"} if no_heartbeat_thread else env
    )
    wait_for(
        lambda: (
            len(list(marks.glob("*.end"))) >= 2
            and len(list(marks.glob("*.start"))) > len(list(marks.glob("*.end")))
        ),
        60,
        "two finished trials and a third running",
    )
    os.kill(first.pid, signal.SIGKILL)
    first.wait(timeout=10)
    before = {t.number: t.value for t in _complete(url, "resume")}
    assert 2 <= len(before) < 6

    second = _worker(config, {**env, "LRKIT_TEST_DIR": ""})
    try:
        _, err = second.communicate(timeout=120)
    finally:
        if second.poll() is None:  # never leave a worker behind
            second.kill()
            second.wait(timeout=10)
    assert second.returncode == 0, err
    complete = _complete(url, "resume")
    assert len(complete) == 6
    # Completed trials were kept as they were, never redone: the grid has 6 distinct LRs.
    assert {t.number: t.value for t in complete if t.number in before} == before
    assert len({round(t.params["lr"], 12) for t in complete}) == 6
