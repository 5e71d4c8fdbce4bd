"""The torchrun example of docs/distributed.md, run as written with 2 processes."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="torch is not installed (pip install 'lrkit[torch]')")
if not torch.distributed.is_available():
    pytest.skip("torch.distributed is not available in this torch build", allow_module_level=True)

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _dist_harness as H  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def _run(script: Path, tmp_path: Path) -> tuple[int, str, str]:
    env = {
        **os.environ,
        "OMP_NUM_THREADS": "1",
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
    }
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2"]
    cmd += ["--master_port", str(H.free_port()), str(script)]
    # its own session, so a timeout kills torchrun and its workers together
    proc = subprocess.Popen(
        cmd,
        env=env,
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=150)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise AssertionError("the torchrun example was still running after 150 s") from None
    return proc.returncode, out, err


def test_torchrun_example_runs(tmp_path: Path) -> None:
    doc = (ROOT / "docs" / "distributed.md").read_text()
    blocks = re.findall(r"```python\n(# train_ddp\.py.*?)```", doc, flags=re.S)
    assert len(blocks) == 1
    script = tmp_path / "train_ddp.py"
    script.write_text(blocks[0])
    # A clean exit is required. Only the known teardown abort, after rank 0 finished and
    # printed its result, and with no Python traceback from the script, earns another try.
    for _ in range(3):
        rc, out, err = _run(script, tmp_path)
        if rc == 0:
            break
        finished = any(ln.startswith("suggestion") for ln in out.splitlines())
        known = H.teardown_abort(err, "train_ddp.py")
        assert finished and known, out[-3000:] + err[-3000:]
    assert rc == 0, "the teardown abort happened in 3 runs in a row:\n" + err[-3000:]
    line = [ln for ln in out.splitlines() if ln.startswith("suggestion")]
    assert len(line) == 1  # printed by rank 0 only
    loss = float(re.search(r"final loss ([0-9.]+)", line[0]).group(1))
    assert loss < 0.6  # it trained (chance is ln 2 = 0.69)
