"""``lrkit.integrations.lightning.GuardCallback``: fault injection on digits-mlp under
``Trainer.fit`` (NaN loss, ×1000 LR spike), withheld updates, exact rollback, giving up."""

from __future__ import annotations

import json
import warnings

import pytest

torch = pytest.importorskip("torch", reason="torch is not installed (pip install 'lrkit[torch]')")
pl = pytest.importorskip(
    "lightning.pytorch", reason="lightning is not installed (pip install 'lrkit[lightning]')"
)

from lrkit import schedules as S  # noqa: E402
from lrkit.control import GuardPolicy  # noqa: E402
from lrkit.errors import ConfigError, GuardError  # noqa: E402
from lrkit.integrations.lightning import GuardCallback, configure_optimizers  # noqa: E402
from lrkit.integrations.torch import Scheduler  # noqa: E402
from lrkit.tasks import get_task  # noqa: E402

pytestmark = pytest.mark.filterwarnings(
    "ignore:.*does not have many workers:UserWarning",
    "ignore:.*LeafSpec.*:DeprecationWarning",
)

EPOCHS, LR, BS, FAULT_AT = 10, 1e-2, 64, 70


class Digits(pl.LightningModule):
    def __init__(self, fault: str | None, steps: int, fault_at: int = FAULT_AT) -> None:
        super().__init__()
        self.task = get_task("digits-mlp")
        self.net = self.task.make_model()
        self.fault, self.steps, self.fault_at = fault, steps, fault_at
        self.batches = 0

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = self.task.loss_fn(self.net(x), y)
        k, self.batches = self.batches, self.batches + 1
        if self.fault == "nan" and k == self.fault_at:
            loss = loss * float("nan")
        if self.fault == "nan-forever" and k >= self.fault_at:
            loss = loss * float("nan")
        return loss

    def on_before_optimizer_step(self, optimizer):
        # after the callbacks' hook: a fault the guard cannot see coming
        if self.fault == "lr" and self.fault_at <= self.batches - 1 < self.fault_at + 3:
            for g in optimizer.param_groups:
                g["lr"] *= 1000.0

    def configure_optimizers(self):
        opt = torch.optim.Adam(self.parameters(), lr=LR)
        return configure_optimizers(opt, S.cosine(lr=LR, steps=self.steps))


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # tiny matmuls: torch's thread pool costs far more than it saves on a shared 2-core CI box
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def fit(
    seed: int,
    fault: str | None,
    guard: GuardCallback | None,
    epochs: int = EPOCHS,
    fault_at: int = FAULT_AT,
):
    pl.seed_everything(seed, verbose=False)
    task = get_task("digits-mlp")
    x, y = task.train
    gen = torch.Generator().manual_seed(seed)
    data = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x, y), batch_size=BS, shuffle=True, generator=gen
    )
    module = Digits(fault, epochs * len(data), fault_at)
    trainer = pl.Trainer(
        max_epochs=epochs,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[] if guard is None else [guard],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.fit(module, data)
    with torch.no_grad():
        logits = module.net(task.val[0])
        logits = torch.where(torch.isfinite(logits), logits, torch.zeros_like(logits))
    return task.metric(logits, task.val[1]), module, trainer


@pytest.fixture(scope="module")
def clean_accuracy():
    acc, _, _ = fit(0, None, None)
    assert acc > 0.95
    return acc


@pytest.mark.parametrize("fault", ["nan", "lr"])
def test_guarded_faulty_fit_matches_clean_fit(clean_accuracy, fault):
    unguarded, _, _ = fit(0, fault, None)
    guard = GuardCallback(snapshot_every=25, log=False)
    guarded, module, trainer = fit(0, fault, guard)
    assert unguarded < clean_accuracy - 0.2, (fault, unguarded, clean_accuracy)
    assert abs(guarded - clean_accuracy) <= 0.01, (fault, guarded, clean_accuracy)
    rollbacks = [e for e in guard.events if e.kind == "rollback"]
    if fault == "nan":
        # a bad batch, not a bad LR (skip_first): withheld, no rollback, no LR cut
        skips = [e for e in guard.events if e.kind == "skip"]
        assert not rollbacks and len(skips) == 1 and skips[0].step == FAULT_AT
    else:
        assert len(rollbacks) == 1 and rollbacks[0].step >= FAULT_AT
        assert rollbacks[0].restore_step is not None and rollbacks[0].restore_step <= FAULT_AT
        assert rollbacks[0].scale == 0.5
        recoveries = [e for e in guard.events if e.kind == "recover"]  # the cut given back
        assert len(recoveries) == 1 and recoveries[0].step >= rollbacks[0].step + 100
    sched = trainer.lr_scheduler_configs[0].scheduler
    assert isinstance(sched, Scheduler) and sched.guard_scale == 1.0
    # the schedule position equals the updates the weights received (Adam's own counter)
    adam_steps = {int(s["step"]) for s in trainer.optimizers[0].state.values()}
    assert adam_steps == {sched.last_epoch}
    assert sched.last_epoch < module.batches  # the undone and withheld batches
    assert all(torch.isfinite(p).all() for p in module.parameters())
    json.dumps(guard.to_dict())


def test_withheld_update_changes_nothing_and_rollback_is_exact():
    # a NaN at batch 5 (patience 1, snapshots every 2 good losses): the NaN update is withheld,
    # then the state of the last snapshot comes back, scheduler included
    states = {}

    class Record(pl.Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            states[batch_idx] = (
                {n: t.clone() for n, t in pl_module.state_dict().items()},
                trainer.lr_scheduler_configs[0].scheduler.last_epoch,
            )

    policy = GuardPolicy(warmup=0, checkpoint_every=2, patience=1, window=5, skip_first=False)
    guard = GuardCallback(policy=policy, log=False)
    pl.seed_everything(0, verbose=False)
    task = get_task("digits-mlp")
    x, y = task.train
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x[:512], y[:512]), 64)
    module = Digits("nan", 8, fault_at=5)
    trainer = pl.Trainer(
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[Record(), guard],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.fit(module, data)
    rb = [e for e in guard.events if e.kind == "rollback"]
    assert len(rb) == 1 and rb[0].step == 5 and rb[0].restore_step == 3
    # batch 6 started from the state batch 3 started from
    for n, t in states[6][0].items():
        assert torch.equal(t, states[3][0][n]), n
    assert states[6][1] == states[3][1] == 3
    sched = trainer.lr_scheduler_configs[0].scheduler
    assert sched.last_epoch == 5  # 8 batches - 3 undone/withheld (3, 4, 5)


def test_gives_up_inside_fit_with_guard_error():
    guard = GuardCallback(
        policy=GuardPolicy(warmup=0, checkpoint_every=5, patience=1, max_rollbacks=2), log=False
    )
    with pytest.raises(GuardError, match="after 2 rollbacks") as info:
        fit(0, "nan-forever", guard, epochs=1, fault_at=10)
    assert info.value.rollbacks == 2


def _rollback_on_nan() -> GuardPolicy:
    # these tests need a rollback from one NaN batch and a cut that stays: not the defaults
    return GuardPolicy(checkpoint_every=25, skip_first=False, recover_after=None)


def test_state_dict_and_validation():
    with pytest.raises(ConfigError, match="lr_cut"):
        GuardCallback(lr_cut=2.0)
    guard = GuardCallback(policy=_rollback_on_nan(), log=False)
    fit(0, "nan", guard, epochs=4)
    state = guard.state_dict()
    json.dumps(state)
    again = GuardCallback(policy=_rollback_on_nan(), log=False)
    again.load_state_dict(state)
    assert again.state_dict()["policy"]["scale"] == 0.5
    assert state["step"] == 4 * 22


def test_a_second_fit_continues_the_same_module_and_restarts_for_another():
    guard = GuardCallback(policy=_rollback_on_nan(), log=False)
    _, module, _ = fit(0, "nan", guard, epochs=4)
    first = guard.guard
    task = get_task("digits-mlp")
    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(*task.train), BS)
    again = pl.Trainer(
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[guard],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        again.fit(module, data)  # same module, new optimizer: the same run goes on
    assert guard.guard is not first and guard.guard.optimizer is again.optimizers[0]
    assert guard.to_dict()["scale"] == 0.5 and guard.to_dict()["rollbacks"] == 1
    assert guard.state_dict()["step"] == 5 * 22
    fit(1, None, guard, epochs=1)  # another module: a fresh run
    assert guard.to_dict()["scale"] == 1.0 and guard.state_dict()["step"] == 22
