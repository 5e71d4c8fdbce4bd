"""Lightning ``strategy="ddp"`` started as ``python script.py`` (Lightning's own launcher):
``find_lr`` starts the other rank as ``fit`` would, both ranks get the same result, and the
``fit`` afterwards reuses the processes and trains normally."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="torch is not installed (pip install 'lrkit[torch]')")
pytest.importorskip(
    "lightning", reason="lightning is not installed (pip install 'lrkit[lightning]')"
)
if not torch.distributed.is_available():
    pytest.skip("torch.distributed is not available in this torch build", allow_module_level=True)

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _dist_harness as H  # noqa: E402

SRC = H.SRC

SCRIPT = textwrap.dedent(
    """
    import hashlib, os, warnings
    warnings.filterwarnings("ignore")
    import lightning.pytorch as pl
    import torch
    from lrkit.integrations.lightning import find_lr

    pl.seed_everything(0, verbose=False)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(512, 8, generator=g)
    y = (x[:, :3].sum(1, keepdim=True) > 0).float()


    class Net(pl.LightningModule):
        def __init__(self):
            super().__init__()
            self.body = torch.nn.Sequential(
                torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1)
            )
            self.lr = 1e-3

        def training_step(self, batch, batch_idx):
            out = self.body(batch[0])
            return torch.nn.functional.binary_cross_entropy_with_logits(out, batch[1])

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=self.lr)


    def checksum(module):
        flat = torch.cat([p.detach().flatten() for p in module.parameters()])
        return hashlib.sha256(flat.numpy().tobytes()).hexdigest()[:16]


    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=32)
    model = Net()
    before = checksum(model)
    trainer = pl.Trainer(
        accelerator="cpu", devices=2, strategy="ddp", max_epochs=1, logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
    )
    res = find_lr(trainer, model, train_dataloaders=loader, start_lr=1e-4, end_lr=10.0, steps=30)
    rank = trainer.global_rank
    curve = hashlib.sha256(repr((res.lrs, res.losses)).encode()).hexdigest()[:16]
    report = open(f"rank{rank}.txt", "w")  # one file per rank: the shared stdout interleaves
    report.write(f"FIND rank={rank} pid={os.getpid()} suggestion={res.suggestion!r} "
                 f"curve={curve} restored={checksum(model) == before}\\n")
    model.lr = res.suggestion
    trainer.fit(model, loader)
    report.write(f"FIT rank={rank} pid={os.getpid()} world={trainer.world_size} "
                 f"step={trainer.global_step} changed={checksum(model) != before} "
                 f"params={checksum(model)}\\n")
    report.close()
    """
)


def fields(line: str) -> dict[str, str]:
    return dict(re.findall(r"(\w+)=(\S+)", line))


def _run(script: Path, tmp_path: Path, env: dict[str, str]) -> tuple[int, str]:
    # its own session: on a timeout the whole group (the launched rank too) is killed
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        pytest.fail(f"python train.py still running after 120 s:\n{out[-3000:]}")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    return proc.returncode, out


def test_find_lr_under_lightnings_own_launcher_then_fit(tmp_path) -> None:
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("LOCAL_RANK", "RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT", "NODE_RANK")
    }
    env.update(PYTHONPATH=SRC, OMP_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    # A clean exit is required. Only the known teardown abort, after both ranks wrote their
    # FIT line, and with no Python traceback from the script, earns another try.
    for _ in range(3):
        for f in tmp_path.glob("rank*.txt"):
            f.unlink()
        rc, out = _run(script, tmp_path, env)
        if rc == 0:
            break
        done = [p for p in tmp_path.glob("rank*.txt") if "FIT " in p.read_text()]
        assert len(done) == 2 and H.teardown_abort(out, "train.py"), out[-3000:]
    assert rc == 0, "the teardown abort happened in 3 runs in a row:\n" + out[-3000:]
    lines = [
        line for f in sorted(tmp_path.glob("rank*.txt")) for line in f.read_text().splitlines()
    ]
    finds = [fields(line) for line in lines if line.startswith("FIND ")]
    fits = [fields(line) for line in lines if line.startswith("FIT ")]
    assert sorted(f["rank"] for f in finds) == ["0", "1"], out[-3000:]
    assert len({f["pid"] for f in finds}) == 2  # rank 1 was started by find_lr
    f0, f1 = sorted(finds, key=lambda f: f["rank"])
    assert f0["suggestion"] == f1["suggestion"] and f0["curve"] == f1["curve"]
    assert f0["restored"] == f1["restored"] == "True"
    # fit ran once per rank in the same two processes (no second launch) and trained
    assert sorted(f["rank"] for f in fits) == ["0", "1"], out[-3000:]
    assert {f["pid"] for f in fits} == {f["pid"] for f in finds}
    assert all(f["world"] == "2" and f["step"] == "8" for f in fits)  # 512 / 32 / 2 ranks
    assert all(f["changed"] == "True" for f in fits)
    assert fits[0]["params"] == fits[1]["params"]  # DDP kept the ranks equal
