"""``lrkit.integrations.torch.Guard``: fault injection on digits-mlp (NaN loss, ×1000 LR spike),
exact rollbacks, LR cuts composed with schedulers, bounded host snapshots, giving up."""

from __future__ import annotations

import json
import logging
import math

import pytest

torch = pytest.importorskip("torch", reason="torch is not installed (pip install 'lrkit[torch]')")

from lrkit import schedules as S  # noqa: E402
from lrkit.control import GuardPolicy  # noqa: E402
from lrkit.errors import ConfigError, GuardError, LRKitError  # noqa: E402
from lrkit.integrations.torch import Guard, Scheduler  # noqa: E402
from lrkit.tasks import get_task  # noqa: E402

# -- fault injection on a real task --------------------------------------------------------

EPOCHS, LR, BS, FAULT_AT = 10, 1e-2, 64, 70


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    # tiny matmuls: torch's thread pool costs far more than it saves on a shared 2-core CI box
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def train_digits(seed: int, fault: str | None, guarded: bool) -> tuple[float, Guard | None]:
    """digits-mlp, Adam + cosine; fault "nan" (the loss of one batch is NaN) or "lr" (the LR
    is ×1000 for 3 updates). Returns the final validation accuracy (NaN logits count as 0)."""
    task = get_task("digits-mlp")
    torch.manual_seed(seed)
    model = task.make_model()
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    x, y = task.train
    n = len(x)
    sched = Scheduler(opt, S.cosine(lr=LR, steps=EPOCHS * math.ceil(n / BS)))
    guard = Guard(model, opt, sched, snapshot_every=25, log=False) if guarded else None
    gen = torch.Generator().manual_seed(seed)
    step = 0
    for _ in range(EPOCHS):
        perm = torch.randperm(n, generator=gen)
        for i in range(0, n, BS):
            idx = perm[i : i + BS]
            loss = task.loss_fn(model(x[idx]), y[idx])
            if fault == "nan" and step == FAULT_AT:
                loss = loss * float("nan")
            if guard is not None and guard.check(step, loss):
                step += 1
                continue
            opt.zero_grad()
            loss.backward()
            if fault == "lr" and FAULT_AT <= step < FAULT_AT + 3:
                for g in opt.param_groups:
                    g["lr"] *= 1000.0  # the scheduler resets it at its next step
            opt.step()
            sched.step()
            step += 1
    with torch.no_grad():
        logits = model(task.val[0])
        logits = torch.where(torch.isfinite(logits), logits, torch.zeros_like(logits))
    return task.metric(logits, task.val[1]), guard


@pytest.fixture(scope="module")
def clean_accuracy():
    acc, _ = train_digits(0, None, False)
    assert acc > 0.95
    return acc


@pytest.mark.parametrize("fault", ["nan", "lr"])
def test_guarded_faulty_run_matches_clean_run(clean_accuracy, fault):
    unguarded, _ = train_digits(0, fault, False)
    guarded, guard = train_digits(0, fault, True)
    assert guard is not None
    # the fault is real: without the guard the run is ruined (NaN weights or diverged)
    assert unguarded < clean_accuracy - 0.2, (fault, unguarded, clean_accuracy)
    # with it the final accuracy is within 1 point of the clean run
    assert abs(guarded - clean_accuracy) <= 0.01, (fault, guarded, clean_accuracy)
    rollbacks = [e for e in guard.events if e.kind == "rollback"]
    assert guard.scheduler is not None
    if fault == "nan":
        # a bad batch, not a bad LR (skip_first): skipped, no rollback, no LR cut
        skips = [e for e in guard.events if e.kind == "skip"]
        assert not rollbacks and len(skips) == 1
        assert skips[0].step == FAULT_AT and math.isnan(skips[0].loss)
    else:
        assert len(rollbacks) == 1 and rollbacks[0].step >= FAULT_AT
        assert rollbacks[0].restore_step is not None and rollbacks[0].restore_step <= FAULT_AT
        assert rollbacks[0].scale == 0.5
        # the cut is given back after recover_after (100) clean steps
        recoveries = [e for e in guard.events if e.kind == "recover"]
        assert len(recoveries) == 1 and recoveries[0].step >= rollbacks[0].step + 100
    assert guard.scale == 1.0
    assert guard.scheduler.guard_scale == 1.0  # type: ignore[attr-defined]
    for p in guard.model.parameters():
        assert torch.isfinite(p).all()


def test_clean_run_is_untouched_by_the_guard(clean_accuracy):
    guarded, guard = train_digits(0, None, True)
    assert guard is not None and guard.rollbacks == 0 and guard.scale == 1.0
    # at most a rare skipped outlier batch: the accuracy is the clean one within noise
    assert abs(guarded - clean_accuracy) <= 0.01


# -- exact mechanics on a tiny model -------------------------------------------------------


def tiny(lr=0.1, momentum=0.9):
    torch.manual_seed(0)
    model = torch.nn.Sequential(
        torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 1)
    )
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    return model, opt


def step_once(model, opt, sched=None, seed=0):
    g = torch.Generator().manual_seed(seed)
    loss = model(torch.randn(8, 3, generator=g)).pow(2).mean()
    opt.zero_grad()
    loss.backward()
    opt.step()
    if sched is not None:
        sched.step()
    return loss


def policy(**kw):
    # the exact rollback mechanics: every NaN rolls back, cuts are kept (tested on their own)
    base = {"warmup": 0, "checkpoint_every": 3, "patience": 1, "window": 5}
    base |= {"skip_first": False, "recover_after": None}
    return GuardPolicy(**{**base, **kw})


def test_rollback_restores_model_optimizer_and_scheduler_exactly():
    model, opt = tiny()
    sched = Scheduler(opt, S.cosine(lr=0.1, steps=100))
    guard = Guard(model, opt, sched, policy=policy(), log=False)
    saved = None
    for k in range(5):
        assert not guard.check(k, 1.0)
        if k == 2:  # the policy's checkpoint (3rd good loss): the state before update 2
            assert guard.snapshot_steps[-1] == 2
            saved = (
                {n: t.clone() for n, t in model.state_dict().items()},
                {
                    i: {n: v.clone() for n, v in s.items()}
                    for i, s in opt.state_dict()["state"].items()
                },
                sched.last_epoch,
            )
        step_once(model, opt, sched, seed=k)
    assert saved is not None and sched.last_epoch == 5
    assert guard.check(5, float("nan"))  # skip this batch
    for n, t in model.state_dict().items():
        assert torch.equal(t, saved[0][n]), n  # parameters and BatchNorm buffers
    for i, s in opt.state_dict()["state"].items():
        for n, v in s.items():
            assert torch.equal(v, saved[1][i][n])
    # the schedule goes back with the weights: its position = updates the weights received
    assert sched.last_epoch == saved[2] == 2
    assert opt.param_groups[0]["lr"] == pytest.approx(0.5 * S.cosine(lr=0.1, steps=100)(2))
    assert all(p.grad is None for p in model.parameters())
    # later updates follow the schedule at half the LR; snapshots are not aliased by training
    step_once(model, opt, sched)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.5 * S.cosine(lr=0.1, steps=100)(3))
    snap = guard._snapshots[-1]
    assert snap.step == 2
    for i, st in snap.optimizer["state"].items():
        for n, v in st.items():
            assert torch.equal(v, saved[1][i][n])


def test_lr_cut_without_scheduler_and_with_a_torch_scheduler():
    model, opt = tiny(lr=0.2)
    guard = Guard(model, opt, policy=policy(), log=False)
    for k in range(3):
        guard.check(k, 1.0)
        step_once(model, opt)
    opt.param_groups[0]["lr"] = 200.0  # a fault after the snapshot: the snapshot's LR returns
    guard.check(3, math.nan)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.1)
    guard.check(4, math.nan)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.05)

    model, opt = tiny(lr=0.2)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.1)
    guard = Guard(model, opt, sched, policy=policy(), log=False)
    for k in range(4):
        guard.check(k, 1.0)
        step_once(model, opt, sched)
    guard.check(4, math.nan)  # back to the snapshot at step 2 (LR 0.02), cut to 0.01
    assert sched.last_epoch == 2 and opt.param_groups[0]["lr"] == pytest.approx(0.01)
    assert sched.base_lrs == [pytest.approx(0.1)]
    step_once(model, opt, sched)
    step_once(model, opt, sched)
    assert opt.param_groups[0]["lr"] == pytest.approx(0.001)  # the decay continues, cut kept


def test_gives_up_with_a_clear_error_after_max_rollbacks():
    model, opt = tiny()
    guard = Guard(model, opt, policy=policy(max_rollbacks=2), log=False)
    for k in range(3):
        guard.check(k, 1.0)
    assert guard.check(3, math.nan) and guard.check(4, math.nan)
    with pytest.raises(GuardError) as info:
        guard.check(5, math.nan)
    err = info.value
    assert isinstance(err, LRKitError)
    assert err.step == 5 and math.isnan(err.loss) and err.rollbacks == 2
    msg = str(err)
    assert "step 5" in msg and "loss=nan" in msg and "2 rollbacks" in msg and "max_rollbacks" in msg
    assert guard.events[-1].kind == "stop"


def test_fault_before_the_first_checkpoint_rolls_back_to_the_start():
    model, opt = tiny()
    start = {n: t.clone() for n, t in model.state_dict().items()}
    guard = Guard(model, opt, policy=policy(checkpoint_every=50), log=False)
    for k in range(3):
        guard.check(k, 1.0)
        step_once(model, opt)
    assert guard.check(3, math.nan)
    assert guard.events[-1].restore_step == 0
    for n, t in model.state_dict().items():
        assert torch.equal(t, start[n])


def test_snapshots_are_bounded_and_in_host_memory():
    model, opt = tiny()
    guard = Guard(model, opt, policy=policy(checkpoint_every=1), max_snapshots=2, log=False)
    for k in range(10):
        guard.check(k, 1.0)
        step_once(model, opt)
    assert guard.snapshot_steps == [8, 9]
    assert sum(e.kind == "snapshot" for e in guard.events) == 11  # the start + 10
    snap = guard._snapshots[-1]
    params = {p.data_ptr() for p in model.parameters()}
    for t in snap.model.values():
        assert t.device.type == "cpu" and t.data_ptr() not in params


def test_repeated_rollback_falls_back_to_the_older_snapshot():
    model, opt = tiny()
    guard = Guard(model, opt, policy=policy(checkpoint_every=2), log=False)
    for k in range(4):
        guard.check(k, 1.0)  # snapshots: the start (0), then 1 and 3 (2nd and 4th good loss)
        step_once(model, opt)
    assert guard.snapshot_steps == [1, 3]
    guard.check(4, math.nan)
    guard.check(5, math.nan)
    assert [e.restore_step for e in guard.events if e.kind == "rollback"] == [3, 1]
    assert guard.snapshot_steps == [1]


def test_first_nan_is_skipped_then_a_cut_is_given_back_on_every_lr_path():
    # default skip_first: a NaN with intact weights is a bad batch (skip, no rollback, no cut);
    # a second one within patience is an LR problem; recover_after clean steps undo the cut
    for kind in ("none", "torch", "lrkit"):
        model, opt = tiny(lr=0.2)
        sched: torch.optim.lr_scheduler.LRScheduler | None = None
        if kind == "torch":
            sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1000, gamma=0.1)
        elif kind == "lrkit":
            sched = Scheduler(opt, S.constant(lr=0.2))
        pol = policy(skip_first=True, recover_after=4, patience=2, checkpoint_every=100)
        guard = Guard(model, opt, sched, policy=pol, log=False)
        for k in range(3):
            assert not guard.check(k, 1.0)
            step_once(model, opt, sched)
        before = [p.detach().clone() for p in model.parameters()]
        assert guard.check(3, math.nan)  # skipped
        assert guard.rollbacks == 0 and guard.scale == 1.0
        assert opt.param_groups[0]["lr"] == pytest.approx(0.2)
        assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
        assert guard.check(4, math.nan)  # again within patience: rollback + cut
        assert guard.rollbacks == 1 and opt.param_groups[0]["lr"] == pytest.approx(0.1)
        for k in range(5, 9):
            assert not guard.check(k, 1.0)
            step_once(model, opt, sched)
        assert [e.kind for e in guard.events][-1] == "recover", kind
        assert guard.scale == 1.0 and opt.param_groups[0]["lr"] == pytest.approx(0.2), kind
        if isinstance(sched, torch.optim.lr_scheduler.StepLR):
            assert sched.base_lrs == [pytest.approx(0.2)]
        assert guard.to_dict()["recoveries"] == 1


def test_a_single_spike_is_skipped_not_rolled_back():
    model, opt = tiny()
    guard = Guard(model, opt, policy=policy(patience=3, window=10), log=False)
    for k in range(10):
        assert not guard.check(k, 1.0 + 0.01 * (k % 3))
    assert guard.check(10, 50.0)  # suspected spike: skip the batch
    assert not guard.check(11, 1.0)
    assert [e.kind for e in guard.events if e.kind != "snapshot"] == ["skip"]
    assert guard.rollbacks == 0 and guard.scale == 1.0


def test_check_grads_catches_non_finite_gradients():
    model, opt = tiny()
    guard = Guard(model, opt, policy=policy(), log=False)
    guard.check(0, 1.0)
    loss = model(torch.randn(8, 3)).pow(2).mean()
    loss.backward()
    assert not guard.check_grads(0)
    next(model.parameters()).grad[0, 0] = math.inf
    assert guard.check_grads(0)
    assert guard.events[-1].kind == "rollback"
    assert all(p.grad is None for p in model.parameters())


def test_events_to_dict_and_logging(caplog):
    model, opt = tiny()
    lines: list[str] = []
    guard = Guard(model, opt, policy=policy(), log=lines.append)
    for k in range(3):
        guard.check(k, 1.0)
    guard.check(3, math.nan)
    assert any("rolled back to step" in line and "LR scale now 0.5" in line for line in lines)
    d = json.loads(json.dumps(guard.to_dict()))
    assert d["rollbacks"] == d["lr_cuts"] == 1 and d["scale"] == 0.5
    assert d["events"][-1]["kind"] == "rollback" and d["events"][-1]["loss"] == "nan"
    assert "Guard(scale=0.5, rollbacks=1" in repr(guard)

    model, opt = tiny()
    guard = Guard(model, opt, policy=policy())  # default: the "lrkit.guard" logger
    with caplog.at_level(logging.WARNING, logger="lrkit.guard"):
        for k in range(3):
            guard.check(k, 1.0)
        guard.check(3, math.inf)
    assert "loss is inf at step 3" in caplog.text


def test_state_dict_resumes_the_policy():
    model, opt = tiny()
    guard = Guard(model, opt, policy=policy(), log=False)
    for k in range(3):
        guard.check(k, 1.0)
    guard.check(3, math.nan)
    state = json.loads(json.dumps(guard.state_dict()))
    again = Guard(model, opt, policy=policy(), log=False)
    again.load_state_dict(state)
    assert again.scale == 0.5 and again.rollbacks == 1
    assert not again.check(4, 1.0) and again.snapshot_steps == [4]


def test_validation():
    model, opt = tiny()
    with pytest.raises(ConfigError, match="model must be"):
        Guard("m", opt)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="optimizer must be"):
        Guard(model, "o")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="max_snapshots"):
        Guard(model, opt, max_snapshots=0)
    with pytest.raises(ConfigError, match="lr_cut must be < 1"):
        Guard(model, opt, lr_cut=1.5)
    with pytest.raises(ConfigError, match="snapshot_every"):
        Guard(model, opt, snapshot_every=0)
    with pytest.raises(ConfigError, match="either to the Guard or inside policy"):
        Guard(model, opt, policy=GuardPolicy(), lr_cut=0.1)
    with pytest.raises(ConfigError, match="log must be"):
        Guard(model, opt, log=3)  # type: ignore[arg-type]


def test_scheduler_guard_scale_hook():
    _, opt = tiny(lr=0.1)
    sched = Scheduler(opt, S.constant(0.1))
    assert sched.guard_scale == 1.0
    sched.guard_scale = 0.25
    assert opt.param_groups[0]["lr"] == pytest.approx(0.025)  # applied at once
    state = sched.state_dict()
    assert state["guard_scale"] == 0.25
    _, opt2 = tiny(lr=0.1)
    other = Scheduler(opt2, S.constant(0.1))
    other.load_state_dict(state)
    assert other.guard_scale == 0.25 and opt2.param_groups[0]["lr"] == pytest.approx(0.025)
    old = {k: v for k, v in state.items() if k != "guard_scale"}  # saved before the hook
    other.load_state_dict(old)
    assert other.guard_scale == 1.0 and opt2.param_groups[0]["lr"] == pytest.approx(0.1)
    with pytest.raises(ConfigError, match="guard_scale"):
        sched.guard_scale = 0.0
