"""lrkit.integrations.torch.Scheduler: step convention, resume, group ratios, plateau, warnings."""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

torch = pytest.importorskip("torch")

from lrkit import schedules as S  # noqa: E402
from lrkit.control import ReduceOnPlateau  # noqa: E402
from lrkit.errors import ConfigError  # noqa: E402
from lrkit.integrations.torch import Scheduler  # noqa: E402
from lrkit.testing import example_schedules  # noqa: E402

N = 40
_X = torch.linspace(-1.0, 1.0, 24, dtype=torch.float64).reshape(8, 3)
_Y = torch.sin(_X.sum(dim=1, keepdim=True))
_METRICS = [1.0, 0.9, 0.9, 0.95, 0.91, 0.92, 0.93, 0.94]  # one per "epoch" of 5 updates

SCHEDULES = [
    S.warmup(S.cosine(lr=0.1, steps=30, min_lr=0.001), steps=10),
    S.one_cycle(max_lr=0.1, steps=N),
    S.cyclic(base_lr=0.001, max_lr=0.1, step_size_up=3, mode="triangular2"),
    S.warmup(S.wsd(lr=0.1, steps=35, decay_steps=10), steps=5, zero_first=True),
]


def build(
    schedule: S.Schedule, opt_name: str = "sgd", plateau: bool = False, seed: int = 0
) -> tuple[torch.nn.Module, torch.optim.Optimizer, Scheduler]:
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))
    model.double()
    groups = [
        {"params": model[0].parameters()},
        {"params": model[2].parameters(), "lr": 0.05},  # half the default LR
    ]
    if opt_name == "sgd":
        opt: torch.optim.Optimizer = torch.optim.SGD(groups, lr=0.1, momentum=0.9)
    else:
        opt = torch.optim.Adam(groups, lr=0.1)
    rule = ReduceOnPlateau(factor=0.5, patience=1) if plateau else None
    return model, opt, Scheduler(opt, schedule, plateau=rule)


def train(
    model: torch.nn.Module, opt: torch.optim.Optimizer, sched: Scheduler, start: int, stop: int
) -> list[list[float]]:
    """Updates start..stop-1; returns the LRs of every group just before each ``opt.step()``."""
    lrs = []
    for k in range(start, stop):
        lrs.append([float(g["lr"]) for g in opt.param_groups])
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(_X), _Y).backward()
        opt.step()
        sched.step()
        if sched.plateau is not None and (k + 1) % 5 == 0:
            sched.report(_METRICS[((k + 1) // 5 - 1) % len(_METRICS)])
    return lrs


def test_first_and_last_update() -> None:
    s = S.linear(start=1.0, end=0.0, steps=9)  # 10 updates: 1.0 ... 0.0
    model, opt, sched = build(s)
    assert opt.param_groups[0]["lr"] == s(0) == 1.0
    lrs = train(model, opt, sched, 0, 10)
    assert lrs[0][0] == s(0)
    assert lrs[-1][0] == s(9) == 0.0
    assert [v[0] for v in lrs] == s(np.arange(10)).tolist()
    assert sched.last_epoch == sched.step_count == 10
    assert sched.get_last_lr() == [s(10), s(10) * 0.5]


@pytest.mark.parametrize("schedule", SCHEDULES, ids=repr)
def test_lrs_are_the_schedule(schedule: S.Schedule) -> None:
    model, opt, sched = build(schedule)
    lrs = np.asarray(train(model, opt, sched, 0, N))
    np.testing.assert_array_equal(lrs[:, 0], schedule(np.arange(N)))
    np.testing.assert_array_equal(lrs[:, 1], schedule(np.arange(N)) * 0.5)


def _checkpoint(model: Any, opt: Any, sched: Scheduler) -> dict[str, Any]:
    buf = io.BytesIO()
    torch.save(
        {"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict()}, buf
    )
    buf.seek(0)
    return torch.load(buf, weights_only=True)


@settings(max_examples=20, deadline=None)
@given(
    k=st.integers(0, N),
    which=st.integers(0, len(SCHEDULES) - 1),
    opt_name=st.sampled_from(["sgd", "adam"]),
    plateau=st.booleans(),
    sched_first=st.booleans(),
)
def test_resume_gives_the_uninterrupted_run(
    k: int, which: int, opt_name: str, plateau: bool, sched_first: bool
) -> None:
    schedule = SCHEDULES[which]
    model, opt, sched = build(schedule, opt_name, plateau)
    full = train(model, opt, sched, 0, N)
    final = [p.detach().clone() for p in model.parameters()]

    model, opt, sched = build(schedule, opt_name, plateau)
    first = train(model, opt, sched, 0, k)
    ckpt = _checkpoint(model, opt, sched)

    # a fresh process: new model (other init), new optimizer, new scheduler
    model, opt, sched = build(schedule, opt_name, plateau, seed=1)
    model.load_state_dict(ckpt["model"])
    if sched_first:
        sched.load_state_dict(ckpt["sched"])
        opt.load_state_dict(ckpt["opt"])
    else:
        opt.load_state_dict(ckpt["opt"])
        sched.load_state_dict(ckpt["sched"])
    rest = train(model, opt, sched, k, N)
    assert first + rest == full
    for a, b in zip(model.parameters(), final, strict=True):
        assert torch.equal(a.detach(), b)


@pytest.mark.parametrize(("name", "schedule"), example_schedules(), ids=lambda v: repr(v)[:60])
def test_group_ratios_for_every_schedule(name: str, schedule: S.Schedule) -> None:
    w1 = torch.nn.Parameter(torch.zeros(2))
    w2 = torch.nn.Parameter(torch.zeros(2))
    w3 = torch.nn.Parameter(torch.zeros(2))
    opt = torch.optim.SGD(
        [{"params": [w1]}, {"params": [w2], "lr": 0.05}, {"params": [w3], "lr": 0.3}], lr=0.1
    )
    sched = Scheduler(opt, schedule)
    n = 25
    expected = schedule(np.arange(n))
    got = []
    for _ in range(n):
        got.append([g["lr"] for g in opt.param_groups])
        opt.step()
        sched.step()
    arr = np.asarray(got)
    np.testing.assert_array_equal(arr[:, 0], expected)
    np.testing.assert_array_equal(arr[:, 1], expected * 0.5)
    np.testing.assert_allclose(arr[:, 2], expected * 3.0, rtol=1e-15)  # 0.3 / 0.1 is not 3.0


def test_plateau_composes_with_warmup_and_cosine() -> None:
    s = S.warmup(S.cosine(lr=0.1, steps=30), steps=10)
    model, opt, sched = build(s, plateau=True)
    lrs = train(model, opt, sched, 0, N)
    scales = []
    rule = ReduceOnPlateau(factor=0.5, patience=1)
    scale = 1.0
    for k in range(N):
        scales.append(scale)
        if (k + 1) % 5 == 0:
            scale = rule.update(_METRICS[((k + 1) // 5 - 1) % len(_METRICS)])
    assert min(scales) < 1.0, "the metric sequence must trigger at least one cut"
    expected = s(np.arange(N)) * np.asarray(scales)
    np.testing.assert_array_equal(np.asarray(lrs)[:, 0], expected)
    assert sched.get_last_lr()[0] == s(N) * sched.scale
    assert sched.plateau is not None and sched.scale == sched.plateau.scale


def test_get_last_lr_matches_the_groups() -> None:
    model, opt, sched = build(SCHEDULES[0])
    for k in range(12):
        assert sched.get_last_lr() == [g["lr"] for g in opt.param_groups]
        assert sched.get_last_lr()[0] == SCHEDULES[0](k)
        train(model, opt, sched, k, k + 1)


@pytest.mark.parametrize("plateau", [False, True])
def test_no_warnings_in_a_normal_loop(plateau: bool) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model, opt, sched = build(SCHEDULES[1], "adam", plateau)
        train(model, opt, sched, 0, N)
        ckpt = _checkpoint(model, opt, sched)
        model, opt, sched = build(SCHEDULES[1], "adam", plateau)
        opt.load_state_dict(ckpt["opt"])
        sched.load_state_dict(ckpt["sched"])
        train(model, opt, sched, N, N + 5)
        sched.get_last_lr()


def test_warns_when_scheduler_steps_before_optimizer() -> None:
    _, _, sched = build(SCHEDULES[0])
    with pytest.warns(UserWarning, match="before `optimizer.step"):
        sched.step()


def test_warns_on_resume_with_another_schedule() -> None:
    _, _, sched = build(SCHEDULES[0])
    state = sched.state_dict()
    _, _, other = build(SCHEDULES[1])
    with pytest.warns(UserWarning, match="different schedule"):
        other.load_state_dict(state)


@pytest.mark.parametrize("opt_cls", [torch.optim.Adam, torch.optim.AdamW, torch.optim.SGD])
def test_tensor_lr(opt_cls: Callable[..., torch.optim.Optimizer]) -> None:
    s = S.warmup(S.cosine(lr=0.01, steps=20), steps=5)
    w = torch.nn.Parameter(torch.ones(3, dtype=torch.float64))
    kwargs: dict[str, Any] = {"lr": torch.tensor(0.01)}
    if opt_cls is torch.optim.SGD:
        kwargs["momentum"] = 0.9
    opt = opt_cls([w], **kwargs)
    lr_tensor = opt.param_groups[0]["lr"]
    sched = Scheduler(opt, s)
    got = []
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(30):
            got.append(float(opt.param_groups[0]["lr"]))
            opt.zero_grad()
            (w * w).sum().backward()
            opt.step()
            sched.step()
    assert opt.param_groups[0]["lr"] is lr_tensor, "the LR tensor is updated in place"
    # the tensor is float32: values agree to its precision
    np.testing.assert_allclose(got, s(np.arange(30)), rtol=1e-6)
    last = sched.get_last_lr()[0]
    assert isinstance(last, torch.Tensor) and last is not lr_tensor
    assert float(last) == pytest.approx(s(30), rel=1e-6)
    ckpt = _checkpoint(torch.nn.Linear(1, 1), opt, sched)
    opt2 = opt_cls([torch.nn.Parameter(torch.ones(3, dtype=torch.float64))], **kwargs)
    sched2 = Scheduler(opt2, s)
    opt2.load_state_dict(ckpt["opt"])
    sched2.load_state_dict(ckpt["sched"])
    assert float(opt2.param_groups[0]["lr"]) == float(opt.param_groups[0]["lr"])


def test_state_dict_is_plain_data() -> None:
    _, _, sched = build(S.clip(S.cosine(lr=0.1, steps=10), min_lr=0.01), plateau=True)
    state = sched.state_dict()
    assert S.from_dict(state["schedule"]) == sched.schedule
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    assert torch.load(buf, weights_only=True) == state


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"schedule": "cosine"}, "schedule"),
        ({"schedule": S.constant(0.1), "plateau": 0.5}, "plateau"),
    ],
)
def test_invalid_arguments(kwargs: dict[str, Any], match: str) -> None:
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    with pytest.raises(ConfigError, match=match):
        Scheduler(opt, **kwargs)


def test_report_without_plateau_raises() -> None:
    _, _, sched = build(SCHEDULES[0])
    with pytest.raises(ConfigError, match="plateau"):
        sched.report(1.0)


def test_load_rejects_a_foreign_state() -> None:
    _, opt, sched = build(SCHEDULES[0])
    foreign = torch.optim.lr_scheduler.StepLR(opt, step_size=2).state_dict()
    with pytest.raises(ConfigError, match="not an lrkit Scheduler state"):
        sched.load_state_dict(foreign)


def test_ratios_when_every_group_sets_its_own_lr() -> None:
    """torch fills in SGD's default lr=1e-3 that no group uses: the largest group LR is the reference."""
    from lrkit.schedules import constant

    a = torch.nn.Parameter(torch.zeros(2))
    b = torch.nn.Parameter(torch.zeros(2))
    opt = torch.optim.SGD([{"params": [a], "lr": 0.1}, {"params": [b], "lr": 0.05}])
    Scheduler(opt, constant(0.2))
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([0.2, 0.1])


def test_ratios_follow_the_default_lr_when_a_group_uses_it() -> None:
    from lrkit.schedules import constant

    a = torch.nn.Parameter(torch.zeros(2))
    b = torch.nn.Parameter(torch.zeros(2))
    opt = torch.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.2}], lr=0.1)
    Scheduler(opt, constant(1.0))
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([1.0, 2.0])
