"""find_lr on PyTorch models: state restoration, data forms, options and errors."""

from __future__ import annotations

import math
import random
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
from torch import nn  # noqa: E402

from lrkit.errors import ConfigError, FinderError, LRKitWarning  # noqa: E402
from lrkit.finder import FinderResult, find_lr  # noqa: E402

N, D, C = 512, 8, 3


def make_data(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(N, D, generator=g)
    w = torch.randn(D, C, generator=g)
    return x, (x @ w).argmax(dim=1)


def make_model() -> nn.Module:
    return nn.Sequential(
        nn.Linear(D, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Dropout(0.2), nn.Linear(32, C)
    )


def snapshot(model: nn.Module, opt: torch.optim.Optimizer) -> dict:
    return {
        "params": [p.detach().clone() for p in model.parameters()],
        "grads": [None if p.grad is None else p.grad.clone() for p in model.parameters()],
        "buffers": {k: v.clone() for k, v in model.named_buffers()},
        "training": [m.training for m in model.modules()],
        "groups": [{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups],
        "state": {
            i: {k: v.clone() if torch.is_tensor(v) else v for k, v in opt.state[p].items()}
            for i, p in enumerate(model.parameters())
            if p in opt.state
        },
        "rng": (torch.get_rng_state(), np.random.get_state()[1].copy(), random.getstate()),
        "opt_called": getattr(opt, "_opt_called", "absent"),
    }


def assert_same(a: dict, b: dict) -> None:
    assert all(torch.equal(x, y) for x, y in zip(a["params"], b["params"]))
    for x, y in zip(a["grads"], b["grads"]):
        assert (x is None and y is None) or torch.equal(x, y)
    assert a["buffers"].keys() == b["buffers"].keys()
    assert all(torch.equal(a["buffers"][k], b["buffers"][k]) for k in a["buffers"])
    assert a["training"] == b["training"]
    assert a["groups"] == b["groups"]
    assert a["state"].keys() == b["state"].keys()
    for i in a["state"]:
        for k, v in a["state"][i].items():
            w = b["state"][i][k]
            assert torch.equal(v, w) if torch.is_tensor(v) else v == w
    assert torch.equal(a["rng"][0], b["rng"][0])
    assert (a["rng"][1] == b["rng"][1]).all() and a["rng"][2] == b["rng"][2]
    assert a["opt_called"] == b["opt_called"]


@pytest.fixture
def trained() -> tuple[nn.Module, torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler]:
    """A model mid-training: Adam state, a scheduler attached, grads left over, mixed modes."""
    torch.manual_seed(0)
    model = make_model()
    opt = torch.optim.Adam(
        [
            {"params": model[0].parameters(), "lr": 1e-3},
            {"params": [*model[1].parameters(), *model[4].parameters()], "lr": 5e-4},
        ]
    )
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    x, y = make_data()
    for i in range(3):
        opt.zero_grad()
        nn.functional.cross_entropy(
            model(x[i * 64 : (i + 1) * 64]), y[i * 64 : (i + 1) * 64]
        ).backward()
        opt.step()
        sched.step()
    model[3].eval()  # an odd mode that must survive
    return model, opt, sched


def test_everything_is_restored(trained) -> None:
    model, opt, sched = trained
    sched_state = sched.state_dict()
    torch.manual_seed(123)
    np.random.seed(5)
    random.seed(7)
    before = snapshot(model, opt)
    group_ids = [id(g) for g in opt.param_groups]
    state_ids = {id(t) for st in opt.state.values() for t in st.values()}
    res = find_lr(
        model,
        make_data(),
        loss_fn=nn.functional.cross_entropy,
        optimizer=opt,
        steps=40,
        batch_size=64,
    )
    assert isinstance(res, FinderResult) and res.suggestion > 0
    assert_same(before, snapshot(model, opt))
    assert sched.state_dict() == sched_state
    assert [g["initial_lr"] for g in opt.param_groups] == [1e-3, 5e-4]
    # restored in place: references a training loop holds stay valid
    assert [id(g) for g in opt.param_groups] == group_ids
    assert {id(t) for st in opt.state.values() for t in st.values()} == state_ids
    # the training loop continues as if nothing happened
    x, y = make_data()
    nn.functional.cross_entropy(model(x[:64]), y[:64]).backward()
    opt.step()
    sched.step()


@pytest.mark.parametrize("where", ["loss", "data"])
def test_restored_after_keyboard_interrupt(trained, where: str) -> None:
    model, opt, _ = trained
    before = snapshot(model, opt)
    calls = [0]

    def loss_fn(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        calls[0] += 1
        if where == "loss" and calls[0] == 15:
            raise KeyboardInterrupt
        return nn.functional.cross_entropy(out, y)

    x, y = make_data()

    def batches():
        for i in range(0, N, 32):
            if where == "data" and i == 32 * 12:
                raise KeyboardInterrupt
            yield x[i : i + 32], y[i : i + 32]

    class Loader:
        def __iter__(self):
            return batches()

    with pytest.raises(KeyboardInterrupt):
        find_lr(model, Loader(), loss_fn=loss_fn, optimizer=opt, steps=40)
    assert_same(before, snapshot(model, opt))


def test_restored_after_an_error_in_the_model(trained) -> None:
    model, opt, _ = trained
    bad = [(torch.randn(16, D), torch.randint(0, C, (16,)))] * 3 + [(torch.randn(16, D + 1), None)]
    before = snapshot(model, opt)
    with pytest.raises(RuntimeError):
        find_lr(model, bad, loss_fn=nn.functional.cross_entropy, optimizer=opt, steps=20)
    assert_same(before, snapshot(model, opt))


def test_fresh_optimizer_has_no_state_afterwards() -> None:
    torch.manual_seed(0)
    model = make_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    find_lr(model, make_data(), loss_fn=nn.functional.cross_entropy, optimizer=opt, steps=20)
    assert len(opt.state) == 0
    assert all(p.grad is None for p in model.parameters())
    assert not hasattr(opt, "_opt_called")


def test_any_xy_iterable_works_and_is_reiterated() -> None:
    x, y = make_data()
    batches = [(x[i : i + 64], y[i : i + 64]) for i in range(0, N, 64)]  # 8 batches for 30 steps
    torch.manual_seed(0)
    model = make_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=64)
    for data in (batches, loader, tuple(batches)):
        res = find_lr(
            model, data, loss_fn=nn.functional.cross_entropy, optimizer=opt, steps=30, end_lr=1.0
        )
        assert len(res.lrs) == 30


def test_one_shot_generator_ends_the_sweep() -> None:
    x, y = make_data()
    gen = ((x[i : i + 32], y[i : i + 32]) for i in range(0, N, 32))  # 16 batches, no second pass
    model = make_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    res = find_lr(model, gen, loss_fn=nn.functional.cross_entropy, optimizer=opt, steps=40)
    assert len(res.lrs) == 16 and res.steps == 40


def test_same_seed_same_curve_and_repeats_combine() -> None:
    model = make_model()
    opt = torch.optim.Adam(model.parameters())
    kw = dict(loss_fn=nn.functional.cross_entropy, optimizer=opt, steps=30, batch_size=64)
    a = find_lr(model, make_data(), seed=3, **kw)
    b = find_lr(model, make_data(), seed=3, **kw)
    assert a.losses == b.losses and a.suggestion == b.suggestion
    c = find_lr(model, make_data(), seed=3, repeats=3, **kw)
    assert c.repeats == 3 and len(c.repeat_suggestions) == 3
    assert c.repeat_suggestions[0] == pytest.approx(a.suggestion)  # first repeat == single run
    assert c.losses != a.losses  # the median of three differs from one run


def test_gradient_accumulation_uses_that_many_batches_per_step() -> None:
    x, y = make_data()
    seen = []

    def loss_fn(out, target):
        seen.append(len(target))
        return nn.functional.cross_entropy(out, target)

    model = make_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    res = find_lr(
        model,
        (x, y),
        loss_fn=loss_fn,
        optimizer=opt,
        steps=20,
        batch_size=16,
        accumulation_steps=4,
        end_lr=1.0,
    )
    assert len(seen) == 4 * len(res.lrs)


def test_gradient_accumulation_matches_one_big_batch() -> None:
    # with batch-mean losses, 4 micro-batches of 16 == 1 batch of 64 (no dropout/BN noise)
    x, y = make_data()
    losses = []
    for bs, acc in ((64, 1), (16, 4)):
        torch.manual_seed(0)
        model = nn.Sequential(nn.Linear(D, 16), nn.Tanh(), nn.Linear(16, C))
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        batches = [(x[i : i + bs], y[i : i + bs]) for i in range(0, N, bs)]
        res = find_lr(
            model,
            batches,
            loss_fn=nn.functional.cross_entropy,
            optimizer=opt,
            steps=12,
            accumulation_steps=acc,
            start_lr=1e-3,
            end_lr=1.0,
        )
        losses.append(res.losses)
    assert losses[0] == pytest.approx(losses[1], rel=1e-5)


def test_val_data_loss_is_recorded() -> None:
    x, y = make_data()
    model = make_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    calls = []

    def loss_fn(out, target):
        calls.append(torch.is_grad_enabled())
        return nn.functional.cross_entropy(out, target)

    find_lr(
        model,
        (x, y),
        loss_fn=loss_fn,
        optimizer=opt,
        steps=12,
        batch_size=64,
        val_data=(x[:100], y[:100]),
        end_lr=1.0,
    )
    assert calls.count(False) == 12 * 2  # val batches of 64 -> 2 per step, without grad


def test_linear_mode_and_methods() -> None:
    model = make_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    res = find_lr(
        model,
        make_data(),
        loss_fn=nn.functional.cross_entropy,
        optimizer=opt,
        start_lr=1e-3,
        end_lr=2.0,
        steps=30,
        mode="linear",
        method="valley",
    )
    assert np.allclose(np.diff(res.lrs), np.diff(res.lrs)[0])
    assert res.method == "valley" and res.suggestion == res.suggestions["valley"]


def test_param_group_ratios_are_kept_during_the_sweep() -> None:
    model = nn.Linear(D, C)
    opt = torch.optim.SGD(
        [{"params": [model.weight], "lr": 1.0}, {"params": [model.bias], "lr": 0.1}]
    )
    seen = []

    def loss_fn(out, target):
        seen.append([g["lr"] for g in opt.param_groups])
        return nn.functional.cross_entropy(out, target)

    res = find_lr(model, make_data(), loss_fn=loss_fn, optimizer=opt, steps=10, end_lr=1e-2)
    assert seen[0] == pytest.approx([res.lrs[0], res.lrs[0] * 0.1])
    assert [g["lr"] for g in opt.param_groups] == [1.0, 0.1]


def test_bad_input_errors() -> None:
    model = make_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    ce = nn.functional.cross_entropy
    with pytest.raises(ConfigError, match="empty"):
        find_lr(model, [], loss_fn=ce, optimizer=opt)
    with pytest.raises(ConfigError, match="empty"):
        find_lr(
            model, (torch.zeros(0, D), torch.zeros(0, dtype=torch.long)), loss_fn=ce, optimizer=opt
        )
    with pytest.raises(ConfigError, match="start_lr must be < end_lr"):
        find_lr(model, make_data(), loss_fn=ce, optimizer=opt, start_lr=1.0, end_lr=0.1)
    with pytest.raises(ConfigError, match="steps"):
        find_lr(model, make_data(), loss_fn=ce, optimizer=opt, steps=3)
    with pytest.raises(ConfigError, match="accumulation_steps"):
        find_lr(model, make_data(), loss_fn=ce, optimizer=opt, accumulation_steps=0)
    with pytest.raises(ConfigError, match="repeats"):
        find_lr(model, make_data(), loss_fn=ce, optimizer=opt, repeats=0)
    with pytest.raises(ConfigError, match="optimizer"):
        find_lr(model, make_data(), loss_fn=ce, optimizer="adam")
    with pytest.raises(ConfigError, match=r"\(x, y\) pairs"):
        find_lr(model, [torch.zeros(4, D)] * 3, loss_fn=ce, optimizer=opt)
    before = [p.clone() for p in model.parameters()]
    with pytest.raises(FinderError, match="first step"):
        find_lr(model, make_data(), loss_fn=lambda o, t: ce(o, t) * math.nan, optimizer=opt)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_divergence_stops_the_sweep() -> None:
    model = nn.Linear(D, C)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    res = find_lr(
        model, make_data(), loss_fn=nn.functional.cross_entropy, optimizer=opt, end_lr=1e4, steps=60
    )
    assert res.diverged_at is not None and len(res.lrs) < 60


def test_amp_on_cpu_runs_and_restores() -> None:
    torch.manual_seed(0)
    model = make_model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    before = snapshot(model, opt)
    res = find_lr(
        model,
        make_data(),
        loss_fn=nn.functional.cross_entropy,
        optimizer=opt,
        steps=20,
        end_lr=1.0,
        amp=True,
    )
    assert all(math.isfinite(v) for v in res.losses)
    assert_same(before, snapshot(model, opt))


def test_explicit_cpu_device() -> None:
    model = make_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    res = find_lr(
        model,
        make_data(),
        loss_fn=nn.functional.cross_entropy,
        optimizer=opt,
        steps=15,
        device="cpu",
    )
    assert len(res.lrs) == 15


def test_plain_sgd_gets_a_note_and_a_warning_momentum_and_adam_do_not() -> None:
    x, y = make_data()
    model = make_model()
    plain = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.warns(LRKitWarning, match="plain SGD"):
        r = find_lr(
            model, (x, y), loss_fn=nn.functional.cross_entropy, optimizer=plain, steps=40, seed=0
        )
    assert len(r.notes) == 1 and "plain SGD" in r.notes[0]
    # the note names the interval: the fitted minimum / 3.5 to 3.5x it
    lr_min = float(r.lrs[int(np.argmin(r.fitted))])
    assert f"{lr_min / 3.5:.3g} to {3.5 * lr_min:.3g}" in r.notes[0]
    assert r.to_dict()["notes"] == list(r.notes)
    # it is the interval itself (plain SGD's best LR sits above [lr_min / 10, lr_min]) and a
    # follow-up search (lrkit.tune's auto) is told to cover it
    assert r.interval == pytest.approx((lr_min / 3.5, 3.5 * lr_min))
    assert r.search_range == pytest.approx((lr_min / 3.5, 3.5 * lr_min))
    assert r.to_dict()["search_range"] == pytest.approx([lr_min / 3.5, 3.5 * lr_min])
    for opt in (
        torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9),
        torch.optim.Adam(model.parameters(), lr=1e-3),
    ):
        with warnings.catch_warnings():
            warnings.simplefilter("error", LRKitWarning)
            r = find_lr(
                model, (x, y), loss_fn=nn.functional.cross_entropy, optimizer=opt, steps=40, seed=0
            )
        assert r.notes == ()
    # param groups: momentum in any group means the note does not apply
    mixed = torch.optim.SGD(
        [
            {"params": [model[0].weight], "momentum": 0.9},
            {"params": [p for n, p in model.named_parameters() if n != "0.weight"]},
        ],
        lr=0.1,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LRKitWarning)
        r = find_lr(
            model, (x, y), loss_fn=nn.functional.cross_entropy, optimizer=mixed, steps=40, seed=0
        )
    assert r.notes == ()


def test_find_lr_on_task_equals_the_call_by_hand_and_quiet_keeps_notes_only() -> None:
    from lrkit.finder import find_lr_on_task
    from lrkit.tasks import get_task, make_optimizer

    task = get_task("digits-mlp")
    state = torch.get_rng_state()
    r = find_lr_on_task(task, "adam", seed=3, steps=30)
    assert torch.equal(torch.get_rng_state(), state)
    torch.manual_seed(3)
    model = task.make_model()
    opt = make_optimizer("adam", model.parameters(), task.lr)
    ref = find_lr(model, task.train, loss_fn=task.loss_fn, optimizer=opt, steps=30,
                  batch_size=task.batch_size, seed=3)  # fmt: skip
    assert r.losses == ref.losses and r.suggestion == ref.suggestion
    with warnings.catch_warnings():
        warnings.simplefilter("error", LRKitWarning)
        quiet = find_lr_on_task("digits-mlp", "sgd", steps=30, quiet=True)
    assert any("plain SGD" in n for n in quiet.notes)
