"""Lightning adapter, with a real ``lightning.Trainer`` on CPU: the LR of each optimizer update."""

from __future__ import annotations

import csv
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch is not installed (pip install torch)")
pl = pytest.importorskip(
    "lightning.pytorch", reason="lightning is not installed (pip install 'lrkit[lightning]')"
)

from lrkit import schedules as S  # noqa: E402
from lrkit.control import ReduceOnPlateau  # noqa: E402
from lrkit.errors import ConfigError  # noqa: E402
from lrkit.integrations.lightning import LearningRateLogger, configure_optimizers  # noqa: E402
from lrkit.testing._integration import (  # noqa: E402
    check_adapter,
    check_lrs,
    check_missing_dependency,
)

BATCHES_PER_EPOCH = 5

warnings.filterwarnings("ignore", ".*does not have many workers.*")
warnings.filterwarnings("ignore", ".*GPU available but not used.*")


class Tiny(pl.LightningModule):
    def __init__(self, schedule, ratios=(1.0,), plateau=None, val_metric=None):
        super().__init__()
        torch.manual_seed(0)
        self.layers = torch.nn.ModuleList(torch.nn.Linear(3, 1) for _ in ratios)
        self.schedule, self.ratios, self.plateau = schedule, ratios, plateau
        self.val_metric = val_metric  # a constant val_loss forces plateau cuts

    def training_step(self, batch, batch_idx):
        x, y = batch
        pred = sum(layer(x) for layer in self.layers)
        return torch.nn.functional.mse_loss(pred, y)

    def validation_step(self, batch, batch_idx):
        self.log("val_loss", torch.tensor(self.val_metric))

    def configure_optimizers(self):
        groups = [
            {"params": layer.parameters(), "lr": 0.01 * r}
            for layer, r in zip(self.layers, self.ratios, strict=True)
        ]
        opt = torch.optim.SGD(groups, lr=0.01)
        if self.plateau is None:
            return configure_optimizers(opt, self.schedule)
        return configure_optimizers(opt, self.schedule, plateau=self.plateau, monitor="val_loss")


class Recorder(pl.Callback):
    """The LR of every param group just before each optimizer update, keyed by global_step."""

    def __init__(self):
        self.steps, self.lrs = [], []

    def on_before_optimizer_step(self, trainer, pl_module, optimizer):
        self.steps.append(trainer.global_step)
        self.lrs.append([g["lr"] for g in optimizer.param_groups])


def loader(n_batches=BATCHES_PER_EPOCH):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(4 * n_batches, 3, generator=g)
    ds = torch.utils.data.TensorDataset(x, x.sum(1, keepdim=True))
    return torch.utils.data.DataLoader(ds, batch_size=4)


def trainer(max_steps, tmp_path, *, callbacks=(), accumulate=1, val=False, **kw):
    return pl.Trainer(
        max_steps=max_steps,
        accumulate_grad_batches=accumulate,
        callbacks=list(callbacks),
        accelerator="cpu",
        devices=1,
        logger=kw.pop("logger", False),
        enable_checkpointing=bool(kw.pop("checkpointing", False)),
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        limit_val_batches=1 if val else 0,
        default_root_dir=tmp_path,
        **kw,
    )


def run_lightning(schedule, steps, *, resume_at=None, ratios=(1.0,), accumulate=1, tmp_path):
    """Fit for ``steps`` optimizer updates; with ``resume_at``, checkpoint there mid-run and
    continue in a new Trainer with a freshly built model and optimizer."""
    rec = Recorder()
    first = steps if resume_at is None else resume_at
    ckpt = pl.callbacks.ModelCheckpoint(
        dirpath=tmp_path, every_n_train_steps=first, save_top_k=-1, save_last=False
    )
    extra = [ckpt] if resume_at is not None else []
    t = trainer(
        first,
        tmp_path,
        callbacks=[rec, *extra],
        accumulate=accumulate,
        checkpointing=resume_at is not None,
    )
    t.fit(Tiny(schedule, ratios), loader())
    if resume_at is not None:
        (path,) = sorted(tmp_path.glob("*.ckpt"))
        t2 = trainer(steps, tmp_path / "resumed", callbacks=[rec], accumulate=accumulate)
        t2.fit(Tiny(schedule, ratios), loader(), ckpt_path=path)
    assert rec.steps == list(range(steps)), f"optimizer updates at global steps {rec.steps}"
    return np.asarray(rec.lrs)


def test_contract(tmp_path):
    n = [0]

    def run(schedule, steps, **kw):
        n[0] += 1
        return run_lightning(schedule, steps, tmp_path=tmp_path / str(n[0]), **kw)

    check_adapter(
        run,
        schedules=[S.warmup(S.cosine(lr=0.1, steps=9, min_lr=0.01), steps=3)],
        steps=12,
        resumes=1,
        ratios=(1.0, 0.5),
        seed=3,
    )


def test_gradient_accumulation_counts_updates_and_resumes(tmp_path):
    # 3 batches per update, 5 batches per epoch: updates straddle epochs and the checkpoint
    s = S.multistep(lr=0.1, milestones=[1, 4, 6], gamma=0.5)
    lrs = run_lightning(s, 8, resume_at=5, accumulate=3, tmp_path=tmp_path)
    check_lrs(s, lrs, what="accumulate_grad_batches=3, resumed after 5 updates")


def test_plateau_cuts_after_validation_and_survives_resume(tmp_path):
    s = S.cosine(lr=0.1, steps=20)

    # constant val_loss: epoch 0 improves (from inf), epoch 1 is bad > patience 0 -> cut x0.5,
    # epoch 2 -> x0.25; the cuts apply from the first update of the next epoch
    def fit(max_steps, root, ckpt_path=None, extra=()):
        rec = Recorder()
        model = Tiny(s, plateau=ReduceOnPlateau(factor=0.5, patience=0), val_metric=1.0)
        t = trainer(max_steps, root, callbacks=[rec, *extra], val=True, checkpointing=bool(extra))
        t.fit(model, loader(), loader(1), ckpt_path=ckpt_path)
        return rec

    full = fit(15, tmp_path / "full")
    scale = np.repeat([1.0, 1.0, 0.5], BATCHES_PER_EPOCH)
    np.testing.assert_allclose(np.asarray(full.lrs)[:, 0], s(np.arange(15)) * scale, rtol=1e-12)

    ckpt = pl.callbacks.ModelCheckpoint(
        dirpath=tmp_path / "c", every_n_train_steps=12, save_top_k=-1
    )
    fit(12, tmp_path / "a", extra=[ckpt])
    (path,) = sorted((tmp_path / "c").glob("*.ckpt"))
    resumed = fit(15, tmp_path / "b", ckpt_path=path)
    assert resumed.steps == [12, 13, 14]
    np.testing.assert_allclose(
        np.asarray(resumed.lrs)[:, 0], s(np.arange(12, 15)) * 0.5, rtol=1e-12
    )


def test_logger_callback_logs_s_of_k_at_step_k(tmp_path):
    s = S.warmup(S.cosine(lr=0.1, steps=10), steps=4)
    logger = pl.loggers.CSVLogger(tmp_path, name="run")
    t = trainer(
        12,
        tmp_path,
        callbacks=[LearningRateLogger(groups=True)],
        logger=logger,
        log_every_n_steps=1,
        accumulate=2,
    )
    t.fit(Tiny(s, ratios=(1.0, 0.25)), loader())
    with open(logger.log_dir + "/metrics.csv") as f:
        rows = [r for r in csv.DictReader(f) if r.get("lr")]
    steps = np.asarray([int(r["step"]) for r in rows])
    assert steps.tolist() == list(range(12))
    check_lrs(
        s,
        [[float(r["lr/group0"]), float(r["lr/group1"])] for r in rows],
        ratios=(1.0, 0.25),
        rtol=1e-6,
        what="logged by LearningRateLogger",
    )
    assert float(t.callback_metrics["lr"]) == pytest.approx(s(11), rel=1e-6)


def test_configure_optimizers_validates():
    opt = torch.optim.SGD(torch.nn.Linear(1, 1).parameters(), lr=0.1)
    with pytest.raises(ConfigError, match="monitor"):
        configure_optimizers(opt, S.constant(0.1), plateau=ReduceOnPlateau())
    with pytest.raises(ConfigError, match="plateau"):
        configure_optimizers(opt, S.constant(0.1), monitor="val_loss")
    with pytest.raises(ConfigError, match="plateau_interval"):
        configure_optimizers(
            opt, S.constant(0.1), plateau=ReduceOnPlateau(), monitor="m", plateau_interval="batch"
        )  # type: ignore[arg-type]
    opts, (step_entry, plateau_entry) = configure_optimizers(
        opt, S.constant(0.1), plateau=ReduceOnPlateau(), monitor="val_loss"
    )
    assert opts == [opt] and step_entry["interval"] == "step"
    assert plateau_entry["reduce_on_plateau"] and plateau_entry["monitor"] == "val_loss"


@pytest.mark.parametrize("blocked", [["lightning"], ["torch"]])
def test_missing_framework_raises_dependency_error(blocked):
    extra = "lightning" if blocked == ["lightning"] else "torch"
    assert blocked[0] in check_missing_dependency("lrkit.integrations.lightning", blocked, extra)


# the README example, verbatim
README = """
import torch
import lightning as L
from lrkit import schedules as S
from lrkit.integrations.lightning import LearningRateLogger, configure_optimizers


class Model(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Linear(8, 1)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return torch.nn.functional.mse_loss(self.net(x), y)

    def configure_optimizers(self):
        opt = torch.optim.AdamW(self.parameters(), lr=1e-3)
        return configure_optimizers(opt, S.warmup(S.cosine(lr=1e-3, steps=40), steps=10))


x = torch.randn(512, 8)
data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, x.sum(1, keepdim=True)), batch_size=32)
trainer = L.Trainer(max_steps=50, accumulate_grad_batches=2, callbacks=[LearningRateLogger()],
                    accelerator="cpu", logger=False, enable_checkpointing=False)
trainer.fit(Model(), data)  # update k (not batch k) runs at s(k), k = 0 .. 49
"""


def test_readme_example(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(README, "README-lightning", "exec"), scope)
    assert scope["trainer"].global_step == 50
    assert float(scope["trainer"].callback_metrics["lr"]) == pytest.approx(
        1e-3 * 0.5 * (1 + np.cos(np.pi * 39 / 40)), rel=1e-6
    )
