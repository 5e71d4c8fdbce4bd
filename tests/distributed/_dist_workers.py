"""Rank bodies for the 2-process tests (run by ``_dist_harness.run_ranks``)."""

from __future__ import annotations

import hashlib
import math
from typing import Any

import torch
from torch.nn.parallel import DistributedDataParallel as DDP

N, BATCH, FEATURES = 512, 64, 10
FINDER = {"start_lr": 1e-4, "end_lr": 10.0, "steps": 60, "smoothing": 0.9}


def data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(N, FEATURES, generator=g)
    w = torch.randn(FEATURES, 1, generator=g)
    return x, torch.tanh(x @ w) + 0.1 * torch.randn(N, 1, generator=g)


def classes(x: torch.Tensor) -> torch.Tensor:
    """Three classes of ``x`` (a fixed linear rule), for the ``val_metric="auto"`` runs."""
    return (x @ torch.randn(FEATURES, 3, generator=torch.Generator().manual_seed(3))).argmax(1)


def model() -> torch.nn.Module:
    torch.manual_seed(1)
    return torch.nn.Sequential(
        torch.nn.Linear(FEATURES, 32), torch.nn.Tanh(), torch.nn.Linear(32, 1)
    )


def shard_batches(rank: int, world: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Global batches of ``BATCH`` rows, each cut into ``world`` equal shards; this rank's."""
    x, y = data()
    per = BATCH // world
    return [
        (x[i + rank * per : i + (rank + 1) * per], y[i + rank * per : i + (rank + 1) * per])
        for i in range(0, N, BATCH)
    ]


def checksum(module: torch.nn.Module) -> str:
    h = hashlib.sha256()
    for t in module.state_dict().values():
        h.update(t.detach().cpu().contiguous().numpy().tobytes())
    return h.hexdigest()


class FaultyLoss:
    """MSE that raises, or returns NaN, at call ``at`` on rank ``on``."""

    def __init__(self, rank: int, fault: str | None, at: int, on: int = 1) -> None:
        self.rank, self.fault, self.at, self.on, self.calls = rank, fault, at, on, 0

    def __call__(self, out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        k, self.calls = self.calls, self.calls + 1
        loss = torch.nn.functional.mse_loss(out, y)
        if self.rank == self.on and k == self.at:
            if self.fault == "raise":
                raise RuntimeError(f"injected failure on rank {self.rank} at call {k}")
            if self.fault == "nan":
                return loss * math.nan
        return loss


def start_mae() -> float:
    """Mean absolute error of the untrained ``model()`` on all of ``data()``: the start of
    metric-scored trials whose ranks each score half of it."""
    x, y = data()
    with torch.no_grad():
        return float((model()(x) - y).abs().mean())


def check_metric_trials(ranks: list[dict[str, Any]], where: str) -> None:
    """The trainer front-ends' ``metric_tuned`` scenario: the same trials on both ranks, each
    rank's metric on its shard, the start's metric the whole validation set's; ``where``
    names the trainer's validation data in the notes."""
    import pytest

    r0, r1 = (r["metric_tuned"] for r in ranks)
    assert r0 == r1  # each rank scored its shard with val_metric; the mean over both
    trials = r0["trials"]
    assert trials is not None and trials["metric_mode"] == "min"
    assert len(trials["val_metrics"]) == len(trials["val_losses"]) >= 4
    # the start's metric: the two halves' mean is the whole validation set's
    assert trials["start_val_metric"] == pytest.approx(start_mae(), rel=1e-5)
    assert any(where in n for n in r0["notes"])


def check_auto_alike(ranks: list[dict[str, Any]]) -> None:
    """The trainer front-ends' ``auto`` scenario: a classifier's default equals
    ``val_metric="accuracy"`` with its note; where one rank reads no class scores, both keep
    the loss, as ``val_metric=None``."""
    r0, r1 = (r["auto"] for r in ranks)
    assert r0 == r1
    cls, acc = r0["cls"], r0["accuracy"]
    assert cls["trials"] is not None and cls["trials"]["val_metrics"] is not None
    assert cls["trials"] == acc["trials"] and cls["suggestion"] == acc["suggestion"]
    assert any("val_metric='auto'" in n and "over 3 classes" in n for n in cls["notes"])
    split, loss = r0["split"], r0["loss"]
    assert split["trials"] is not None and split["trials"]["val_metrics"] is None
    assert split["trials"] == loss["trials"] and split["suggestion"] == loss["suggestion"]
    assert not any("val_metric='auto'" in n for n in split["notes"])


def find_lr_single(**options: Any) -> dict[str, Any]:
    """The reference: one process on the union of the shards (the full batches)."""
    from lrkit.finder import find_lr

    torch.set_num_threads(1)
    net = model()
    opt = torch.optim.SGD(net.parameters(), lr=0.01, momentum=0.9)
    res = find_lr(
        net,
        shard_batches(0, 1),
        loss_fn=torch.nn.functional.mse_loss,
        optimizer=opt,
        **{**FINDER, **options},
    )
    return res.to_dict()


def find_lr_ddp(
    rank: int, world: int, fault: str | None = None, at: int = 5, **options: Any
) -> dict[str, Any]:
    from lrkit.finder import find_lr

    net = model()
    ddp = DDP(net)
    opt = torch.optim.SGD(ddp.parameters(), lr=0.01, momentum=0.9)
    before = checksum(net)
    out: dict[str, Any] = {"before": before}
    try:
        res = find_lr(
            ddp,
            shard_batches(rank, world),
            loss_fn=FaultyLoss(rank, fault, at),
            optimizer=opt,
            **{**FINDER, **options},
        )
        out["result"] = res.to_dict()
    except Exception as exc:
        out["error"] = (type(exc).__name__, [c.__name__ for c in type(exc).__mro__], str(exc))
    out["after"] = checksum(net)
    out["opt_state"] = len(opt.state)
    return out


def finder_scenarios(rank: int, world: int) -> dict[str, Any]:
    """Every finder scenario in one process group (spawning ranks is the slow part in CI)."""
    return {
        "plain": find_lr_ddp(rank, world),
        "nan": find_lr_ddp(rank, world, fault="nan", at=30),
        "raise": find_lr_ddp(rank, world, fault="raise", at=5),
        # the group is still usable after a rank failed at the agreement point
        "after": find_lr_ddp(rank, world, steps=20),
        # fine-tuning trials scored on each rank's own validation shard: the ranks must agree
        "finetune": find_lr_ddp(
            rank,
            world,
            regime="finetune",
            val_data=shard_batches(rank, world)[-2:],
            trial_steps=4,
        ),
        # ... and scored on a metric (mean absolute error, lower is better): agreed the same way
        "finetune_metric": find_lr_ddp(
            rank,
            world,
            regime="finetune",
            val_data=shard_batches(rank, world)[-2:],
            trial_steps=4,
            val_metric=mean_abs_error,
            val_metric_mode="min",
        ),
    }


def mean_abs_error(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """A validation metric for the regression toy (lower is better)."""
    return (out.reshape(-1) - y.reshape(-1)).abs().mean()


def guard_ddp(rank: int, world: int, nan_at: int = 25, spike_at: int = 45) -> dict[str, Any]:
    """A torch loop with ``Guard`` under DDP; rank 1 alone sees a NaN, then a 3-step spike."""
    from lrkit.control import GuardPolicy
    from lrkit.integrations.torch import Guard, Scheduler
    from lrkit.schedules import cosine

    net = model()
    ddp = DDP(net)
    opt = torch.optim.SGD(ddp.parameters(), lr=0.05, momentum=0.9)
    sched = Scheduler(opt, cosine(lr=0.05, steps=80))
    policy = GuardPolicy(window=20, warmup=10, checkpoint_every=10, patience=3)
    guard = Guard(ddp, opt, sched, policy=policy, log=False)
    batches = shard_batches(rank, world)
    for step in range(80):
        x, y = batches[step % len(batches)]
        loss = torch.nn.functional.mse_loss(ddp(x), y)
        if rank == 1 and step == nan_at:
            loss = loss * math.nan
        if rank == 1 and spike_at <= step < spike_at + 3:
            loss = loss * 1000.0
        if guard.check(step, loss):
            continue
        opt.zero_grad()
        loss.backward()
        if guard.check_grads(step):
            continue
        opt.step()
        sched.step()
    torch.distributed.barrier()  # would hang if the ranks' collectives had fallen out of step
    return {
        "events": [(e.kind, e.step) for e in guard.events],
        "checksum": checksum(net),
        "lr": opt.param_groups[0]["lr"],
        "scale": guard.scale,
    }


def _elastic_env() -> None:
    """What torchrun sets: Lightning then joins these processes instead of launching its own."""
    import os

    os.environ.setdefault("TORCHELASTIC_RUN_ID", "lrkit-test")
    os.environ.setdefault("GROUP_RANK", "0")


def lightning_ddp(rank: int, world: int) -> dict[str, Any]:
    """Lightning ``strategy="ddp"``: the LR of every update, and ``GuardCallback`` with a NaN
    and a finite spike on rank 1 only."""
    import warnings

    _elastic_env()
    import lightning.pytorch as pl
    from torch.utils.data import DataLoader, TensorDataset

    from lrkit.control import GuardPolicy
    from lrkit.integrations.lightning import GuardCallback, configure_optimizers
    from lrkit.schedules import cosine, warmup

    warnings.filterwarnings("ignore")
    schedule = warmup(cosine(lr=0.05, steps=40), steps=5)

    class Net(pl.LightningModule):
        def __init__(self, faults: bool) -> None:
            super().__init__()
            self.net, self.faults, self.batches = model(), faults, 0

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            x, y = batch
            loss = torch.nn.functional.mse_loss(self.net(x), y)
            k, self.batches = self.batches, self.batches + 1
            if self.faults and self.global_rank == 1 and k == 25:
                loss = loss * math.nan
            if self.faults and self.global_rank == 1 and 45 <= k < 48:
                loss = loss * 1000.0
            return loss

        def configure_optimizers(self) -> Any:
            opt = torch.optim.SGD(self.parameters(), lr=0.05, momentum=0.9)
            return configure_optimizers(opt, schedule)

    class Record(pl.Callback):
        def __init__(self) -> None:
            self.lrs: list[tuple[int, float]] = []

        def on_before_optimizer_step(self, trainer: Any, pl_module: Any, optimizer: Any) -> None:
            sched = trainer.lr_scheduler_configs[0].scheduler
            self.lrs.append((sched.last_epoch, optimizer.param_groups[0]["lr"]))

    x, y = data()
    loader = DataLoader(TensorDataset(x, y), batch_size=BATCH // world)
    common = {
        "accelerator": "cpu",
        "devices": world,
        "num_nodes": 1,
        "strategy": "ddp",
        "logger": False,
        "enable_checkpointing": False,
        "enable_progress_bar": False,
        "enable_model_summary": False,
    }
    from lrkit.integrations.lightning import find_lr

    finder_net = Net(False)
    before = checksum(finder_net)
    found = find_lr(
        pl.Trainer(max_steps=20, **common), finder_net, train_dataloaders=loader, **FINDER
    )
    restored = checksum(finder_net) == before
    # fine-tuning: the trials take the trainer's validation loaders, sharded like fit's
    tuned = find_lr(
        pl.Trainer(max_steps=20, **common), Net(False), train_dataloaders=loader,
        val_dataloaders=DataLoader(TensorDataset(x, y), batch_size=16), regime="finetune",
        trial_steps=3, **FINDER,
    )  # fmt: skip
    # and scored on a metric: each rank's on its shard, the mean over both
    metric_tuned = find_lr(
        pl.Trainer(max_steps=20, **common), Net(False), train_dataloaders=loader,
        val_dataloaders=DataLoader(TensorDataset(x, y), batch_size=16), regime="finetune",
        trial_steps=3, val_metric=lambda m, b: (m.net(b[0]) - b[1]).abs().mean(),
        val_metric_mode="min", **FINDER,
    )  # fmt: skip

    # val_metric="auto" (the default): class scores on every rank -> accuracy; where rank 1's
    # forward gives no class scores, every rank keeps the validation loss
    class Cls(pl.LightningModule):
        def __init__(self, split: bool) -> None:
            super().__init__()
            torch.manual_seed(1)
            self.net = torch.nn.Sequential(
                torch.nn.Linear(FEATURES, 32), torch.nn.Tanh(), torch.nn.Linear(32, 3)
            )
            self.split = split

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out = self.net(x)
            return out[:, :1] if self.split and rank == 1 else out

        def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
            return torch.nn.functional.cross_entropy(self.net(batch[0]), batch[1])

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=0.05, momentum=0.9)

    labels = classes(x)

    def cls_run(split: bool, **kw: Any) -> dict[str, Any]:
        return find_lr(
            pl.Trainer(max_steps=20, **common), Cls(split),
            train_dataloaders=DataLoader(TensorDataset(x, labels), batch_size=BATCH // world),
            val_dataloaders=DataLoader(TensorDataset(x, labels), batch_size=16),
            regime="finetune", trial_steps=3, **FINDER, **kw,
        ).to_dict()  # fmt: skip

    auto = {
        "cls": cls_run(False),
        "accuracy": cls_run(False, val_metric="accuracy"),
        "split": cls_run(True),
        "loss": cls_run(True, val_metric=None),
    }
    rec = Record()
    pl.Trainer(max_steps=20, accumulate_grad_batches=2, callbacks=[rec], **common).fit(
        Net(False), loader
    )
    policy = GuardPolicy(window=20, warmup=10, checkpoint_every=10, patience=3)
    cb = GuardCallback(policy=policy, log=False)
    net = Net(True)
    pl.Trainer(max_steps=70, callbacks=[cb], **common).fit(net, loader)
    torch.distributed.barrier()
    return {
        "finder": found.to_dict(),
        "finder_restored": restored,
        "tuned": tuned.to_dict(),
        "metric_tuned": metric_tuned.to_dict(),
        "auto": auto,
        "lrs": rec.lrs,
        "expected": [float(schedule(k)) for k in range(len(rec.lrs))],
        "events": [(e.kind, e.step) for e in cb.events],
        "checksum": checksum(net),
        "scale": cb.to_dict()["scale"],
    }


def accelerate_lrs(rank: int, world: int) -> dict[str, Any]:
    """The LR of every optimizer update under ``Accelerator().prepare`` (2 processes), for
    lrkit's Scheduler with accelerate's defaults, ``split_batches=True`` and gradient
    accumulation, and for torch's ``LambdaLR`` (the s(2k) it gives there, for contrast)."""
    import warnings

    from accelerate import Accelerator
    from accelerate.utils import DataLoaderConfiguration
    from torch.utils.data import DataLoader, TensorDataset

    from lrkit.integrations.torch import Scheduler
    from lrkit.schedules import cosine, warmup

    warnings.filterwarnings("ignore")
    schedule = warmup(cosine(lr=0.05, steps=30), steps=4)
    x, y = data()
    out: dict[str, Any] = {"expected": [float(schedule(k)) for k in range(40)]}
    for name, split, accum, torch_sched in (
        ("default", False, 1, False),
        ("split_batches", True, 1, False),
        ("accumulate", False, 2, False),
        ("torch_lambda", False, 1, True),
    ):
        acc = Accelerator(
            cpu=True,
            gradient_accumulation_steps=accum,
            dataloader_config=DataLoaderConfiguration(split_batches=split),
        )
        net = model()
        opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
        if torch_sched:
            sched: Any = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: float(schedule(k)) / 0.05)
        else:
            sched = Scheduler(opt, schedule)
        loader = DataLoader(TensorDataset(x, y), batch_size=16)
        net, opt, loader, sched = acc.prepare(net, opt, loader, sched)
        lrs: list[float] = []
        for xb, yb in loader:
            with acc.accumulate(net):
                loss = torch.nn.functional.mse_loss(net(xb), yb)
                acc.backward(loss)
                if acc.sync_gradients:
                    lrs.append(opt.param_groups[0]["lr"])
                opt.step()
                sched.step()
                opt.zero_grad()
        out[name] = {"lrs": lrs, "processes": acc.num_processes}
        acc.free_memory()
    return out


def hf_ddp(rank: int, world: int) -> dict[str, Any]:
    """The Hugging Face Trainer on 2 processes: find_lr, the LR of every update, and
    GuardCallback with a NaN loss on rank 1 only."""
    import tempfile
    import warnings

    import transformers

    from lrkit.control import GuardPolicy
    from lrkit.integrations.transformers import GuardCallback, find_lr, lrkit_scheduler
    from lrkit.schedules import cosine, warmup

    warnings.filterwarnings("ignore")
    x, y = data()

    class Net(torch.nn.Module):
        def __init__(self, nan_at: int = -1) -> None:
            super().__init__()
            self.body, self.nan_at, self.calls = model(), nan_at, 0

        def forward(self, x: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
            loss = torch.nn.functional.mse_loss(self.body(x), labels)
            if self.training:
                k, self.calls = self.calls, self.calls + 1
                if rank == 1 and k == self.nan_at:
                    loss = loss * math.nan
            return {"loss": loss}

    class Data(torch.utils.data.Dataset):
        def __len__(self) -> int:
            return N

        def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
            return {"x": x[i], "labels": y[i]}

    class Record(transformers.TrainerCallback):
        def __init__(self) -> None:
            self.lrs: list[float] = []

        def on_pre_optimizer_step(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
            self.lrs.append(kw["optimizer"].param_groups[0]["lr"])

    schedule = warmup(cosine(lr=0.05, steps=30), steps=4)
    out: dict[str, Any] = {"expected": [float(schedule(k)) for k in range(30)]}
    with tempfile.TemporaryDirectory() as tmp:
        args = transformers.TrainingArguments(
            output_dir=tmp,
            max_steps=30,
            per_device_train_batch_size=BATCH // world,
            report_to=[],
            use_cpu=True,
            ddp_backend="gloo",
            disable_tqdm=True,
            logging_strategy="no",
            save_strategy="no",
            remove_unused_columns=False,
            seed=0,
        )
        finder_model = Net()
        before = checksum(finder_model)
        trainer = transformers.Trainer(model=finder_model, args=args, train_dataset=Data())
        out["finder"] = find_lr(trainer, **{**FINDER, "steps": 20}).to_dict()
        out["finder_restored"] = checksum(finder_model) == before
        # fine-tuning: the trials take the Trainer's eval dataset (its per-rank eval loader)
        tuned = transformers.Trainer(
            model=Net(), args=args, train_dataset=Data(), eval_dataset=Data()
        )
        opts = {**FINDER, "steps": 20, "regime": "finetune", "trial_steps": 3}
        out["tuned"] = find_lr(tuned, **opts).to_dict()
        mae = lambda m, b: (m.body(b["x"]) - b["labels"]).abs().mean()  # noqa: E731
        out["metric_tuned"] = find_lr(
            tuned, val_metric=mae, val_metric_mode="min", **opts
        ).to_dict()
        # val_metric="auto": class scores on every rank -> accuracy; where rank 1's logits are
        # no class scores, every rank keeps the validation loss
        labels = classes(x)

        class Cls(torch.nn.Module):
            def __init__(self, split: bool) -> None:
                super().__init__()
                torch.manual_seed(1)
                self.body = torch.nn.Sequential(
                    torch.nn.Linear(FEATURES, 32), torch.nn.Tanh(), torch.nn.Linear(32, 3)
                )
                self.split = split

            def forward(self, x: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
                logits = self.body(x)
                loss = torch.nn.functional.cross_entropy(logits, labels)
                return {
                    "loss": loss,
                    "logits": logits[:, :1] if self.split and rank == 1 else logits,
                }

        class ClsData(torch.utils.data.Dataset):
            def __len__(self) -> int:
                return N

            def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
                return {"x": x[i], "labels": labels[i]}

        def cls_run(split: bool, **kw: Any) -> dict[str, Any]:
            t = transformers.Trainer(
                model=Cls(split), args=args, train_dataset=ClsData(), eval_dataset=ClsData()
            )
            return find_lr(t, **opts, **kw).to_dict()

        out["auto"] = {
            "cls": cls_run(False),
            "accuracy": cls_run(False, val_metric="accuracy"),
            "split": cls_run(True),
            "loss": cls_run(True, val_metric=None),
        }
        net = Net(nan_at=12)
        opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
        rec = Record()
        guard = GuardCallback(
            policy=GuardPolicy(window=10, warmup=5, checkpoint_every=5), log=False
        )
        trainer = transformers.Trainer(
            model=net,
            args=args,
            train_dataset=Data(),
            optimizers=(opt, lrkit_scheduler(opt, schedule)),
            callbacks=[rec, guard],
        )
        trainer.train()
    torch.distributed.barrier()
    out.update(
        lrs=rec.lrs,
        events=[(e.kind, e.step) for e in guard.events],
        checksum=checksum(net),
        processes=args.world_size,
    )
    return out
