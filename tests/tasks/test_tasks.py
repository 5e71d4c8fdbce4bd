"""Built-in tasks, user task files, make_optimizer and train()."""

from __future__ import annotations

import dataclasses
import json
import math
import textwrap

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from lrkit.errors import ConfigError, TaskError  # noqa: E402
from lrkit.tasks import (  # noqa: E402
    OPTIMIZERS,
    Task,
    TrainResult,
    accuracy,
    available,
    get_task,
    make_optimizer,
    train,
)


@pytest.fixture(scope="module")
def digits() -> Task:
    return get_task("digits-mlp")


def small(task: Task, n: int = 256) -> Task:
    x, y = task.train
    return dataclasses.replace(task, train=(x[:n], y[:n]), epochs=2)


def test_available_lists_the_builtins() -> None:
    assert available() == ["digits-mlp", "mnist1d-cnn", "mnist1d-mlp"]


@pytest.mark.parametrize("name", ["mnist1d-mlp", "mnist1d-cnn", "digits-mlp"])
def test_builtin_tasks_have_consistent_shapes(name: str) -> None:
    task = get_task(name)
    assert task.name == name
    (x, y), (xv, yv) = task.train, task.val
    assert x.dtype == torch.float32 and y.dtype == torch.int64
    assert x.shape[1:] == xv.shape[1:] and len(x) == len(y) and len(xv) == len(yv)
    assert set(y.unique().tolist()) == set(range(10))
    torch.manual_seed(0)
    logits = task.make_model()(x[:5])
    assert logits.shape == (5, 10)
    loss = task.loss_fn(logits, y[:5])
    assert loss.ndim == 0 and math.isclose(float(loss.detach()), math.log(10), rel_tol=0.3)
    assert 0.0 <= task.metric(logits, y[:5]) <= 1.0
    assert task.optimizer in OPTIMIZERS and task.epochs >= 1
    json.dumps(task.describe())


def test_mnist1d_sizes_and_cache(tmp_path, monkeypatch) -> None:
    from lrkit.tasks import _data

    task = get_task("mnist1d-mlp")
    assert len(task.train[0]) == 4000 and len(task.val[0]) == 1000 and task.train[0].shape[1] == 40
    # a fresh cache folder gets an .npz, written atomically (no temp file left behind)
    monkeypatch.setenv("LRKIT_CACHE", str(tmp_path))
    _data.mnist1d_arrays.cache_clear()
    try:
        x, y, _, _ = _data.mnist1d_arrays()
        assert [p.name for p in tmp_path.iterdir()] == ["mnist1d-v1-seed42.npz"]
        _data.mnist1d_arrays.cache_clear()
        x2, y2, _, _ = _data.mnist1d_arrays()  # read back from the cache
        assert np.array_equal(x, x2) and np.array_equal(y, y2)
        assert np.array_equal(x, task.train[0].numpy())
    finally:
        _data.mnist1d_arrays.cache_clear()


def test_accuracy() -> None:
    logits = torch.tensor([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0], [0.0, 1.0]])
    assert accuracy(logits, torch.tensor([0, 1, 1, 1])) == 0.75


def test_train_is_deterministic_and_learns(digits: Task) -> None:
    state = torch.get_rng_state()
    a = train(digits, 1e-2, seed=1, epochs=3)
    b = train(digits, 1e-2, seed=1, epochs=3)
    assert torch.equal(state, torch.get_rng_state())  # the caller's RNG is untouched
    assert isinstance(a, TrainResult)
    assert [r.val_metric for r in a.history] == [r.val_metric for r in b.history]
    assert [r.epoch for r in a.history] == [1, 2, 3]
    assert a.history[-1].step == 3 * digits.steps_per_epoch
    assert a.final_metric > 0.85 and a.best_metric >= a.final_metric and not a.diverged
    assert a.history[0].train_loss > a.history[-1].train_loss
    c = train(digits, 1e-2, seed=2, epochs=3)
    assert [r.val_metric for r in a.history] != [r.val_metric for r in c.history]
    d = json.loads(json.dumps(a.to_dict(), allow_nan=False))
    assert d["final_metric"] == a.final_metric and len(d["history"]) == 3


def test_train_overrides_recipe(digits: Task) -> None:
    r = train(small(digits), 0.1, optimizer="sgd_momentum", epochs=1, batch_size=32)
    assert r.optimizer == "sgd_momentum" and r.batch_size == 32 and r.history[-1].step == 8


def test_schedule_sets_lr_of_every_update(digits: Task) -> None:
    seen = []

    def schedule(k: int) -> float:
        seen.append(k)
        return 0.05 / (1 + k)

    task = small(digits)
    r = train(task, 1.0, schedule=schedule, optimizer="sgd")
    steps = 2 * task.steps_per_epoch
    assert seen == list(range(steps))
    assert r.history[-1].lr == pytest.approx(0.05 / steps)
    # the same schedule gives the same run as setting the LR by hand
    assert r.final_metric == train(task, 2.0, schedule=schedule, optimizer="sgd").final_metric


def test_divergence_is_reported_not_raised(digits: Task) -> None:
    r = train(small(digits), 1e6, optimizer="sgd")
    assert r.diverged and r.diverged_step is not None
    assert len(r.history) <= 2 and 0.0 <= r.final_metric <= 0.3
    assert json.dumps(r.to_dict(), allow_nan=False)


def test_train_bad_arguments(digits: Task) -> None:
    with pytest.raises(ConfigError, match="lr"):
        train(digits, -1.0)
    with pytest.raises(ConfigError, match="epochs"):
        train(digits, 1e-3, epochs=0)
    with pytest.raises(ConfigError, match="schedule"):
        train(small(digits), 1e-3, schedule=lambda k: math.nan)
    with pytest.raises(ConfigError, match="optimizer"):
        train(small(digits), 1e-3, optimizer="lion")


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_make_optimizer(name: str) -> None:
    p = [torch.nn.Parameter(torch.zeros(2))]
    opt = make_optimizer(name, p, 0.01)
    assert opt.param_groups[0]["lr"] == 0.01
    expected = {"sgd": 0.0, "sgd_momentum": 0.9}.get(name)
    if expected is not None:
        assert opt.param_groups[0]["momentum"] == expected
    assert make_optimizer(name.upper().replace("_", "-"), p, 0.01).__class__ is opt.__class__


def test_make_optimizer_errors() -> None:
    p = [torch.nn.Parameter(torch.zeros(2))]
    with pytest.raises(ConfigError, match="name='rmsprop'"):
        make_optimizer("rmsprop", p, 0.01)
    with pytest.raises(ConfigError, match="lr"):
        make_optimizer("adam", p, math.inf)


def test_user_task_file(tmp_path, digits: Task) -> None:
    path = tmp_path / "my_task.py"
    path.write_text(
        textwrap.dedent(
            """
            import dataclasses
            from lrkit.tasks import get_task

            def make():
                return dataclasses.replace(get_task("digits-mlp"), name="mine", epochs=1)

            def task():
                return make()

            def not_a_task():
                return 3
            """
        )
    )
    assert get_task(f"{path}:make").name == "mine"
    assert get_task(str(path)).name == "mine"  # factory defaults to `task`
    with pytest.raises(TaskError, match="not_a_task"):
        get_task(f"{path}:not_a_task")
    with pytest.raises(TaskError, match="no callable 'missing'"):
        get_task(f"{path}:missing")
    with pytest.raises(TaskError, match="not found"):
        get_task(f"{tmp_path / 'nope.py'}:make")
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('boom')\n")
    with pytest.raises(TaskError, match="boom"):
        get_task(f"{broken}:make")


def test_unknown_task_name() -> None:
    with pytest.raises(TaskError, match="unknown task 'mnist'"):
        get_task("mnist")


def test_task_validates_its_fields(digits: Task) -> None:
    x, y = digits.train
    with pytest.raises(TaskError, match="differ in length"):
        dataclasses.replace(digits, train=(x, y[:-1]))
    with pytest.raises(TaskError, match="empty"):
        dataclasses.replace(digits, val=(x[:0], y[:0]))
    with pytest.raises(TaskError, match="lr"):
        dataclasses.replace(digits, lr=0.0)


def test_train_accepts_every_optimizer_name_that_lrkit_optim_builds() -> None:
    from lrkit.optim import available

    task = get_task("digits-mlp")
    for name, ok in available().items():
        if not ok:  # an LR-free package that is not installed
            continue
        lr = 1.0 if name in ("prodigy", "dadapt_adam") else 1e-3
        result = train(task, lr, optimizer=name, epochs=1)
        assert 0.0 <= result.final_metric <= 1.0, name


def test_hypergradient_optimizers_refuse_a_schedule() -> None:
    from lrkit.errors import ConfigError

    with pytest.raises(ConfigError, match="hdsgd"):
        train(get_task("digits-mlp"), 1e-2, schedule=lambda k: 1e-2, optimizer="hdsgd", epochs=1)
