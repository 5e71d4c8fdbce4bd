"""Behaviour of lrkit.sweep: chunking, divergence, validation, results, errors."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from torch import nn

from lrkit.errors import ConfigError, LRKitError
from lrkit.sweep import SweepResult, _memory, sweep

from .conftest import make_model


def mse(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Squared error to one-hot targets: overflows to inf/NaN at a large LR, unlike CE."""
    return ((out - nn.functional.one_hot(y, 3).to(out.dtype)) ** 2).mean()


def accuracy(out: torch.Tensor, y: torch.Tensor) -> float:
    return float((out.argmax(-1) == y).double().mean())


@pytest.mark.parametrize("model_name", ["mlp", "cnn"])
def test_result_does_not_depend_on_chunk(data, model_name) -> None:
    model = make_model(model_name)
    kw = dict(
        loss_fn=nn.CrossEntropyLoss(),
        lrs=np.geomspace(1e-3, 1.0, 5),
        optimizer="adam",
        steps=9,
        batch_size=32,
        val_data=data,
        metric=accuracy,
    )
    whole = sweep(model, data, chunk=5, **kw)
    parts = sweep(model, data, chunk=2, **kw)
    assert (whole.chunk, parts.chunk) == (5, 2)
    np.testing.assert_allclose(whole.losses, parts.losses, rtol=0, atol=1e-13)
    np.testing.assert_allclose(whole.val_loss, parts.val_loss, rtol=0, atol=1e-13)
    np.testing.assert_array_equal(whole.val_metric, parts.val_metric)


def test_auto_chunk_splits_when_budget_is_small(data, monkeypatch) -> None:
    model = make_model("mlp")
    per_copy = _memory.bytes_per_copy(model, data[0][:32], 539, 2, 8)
    monkeypatch.setattr(_memory, "memory_budget", lambda device: int(per_copy * 2.5))
    r = sweep(
        model,
        data,
        loss_fn=nn.CrossEntropyLoss(),
        lrs=[1e-3, 1e-2, 1e-1, 1.0, 2.0],
        optimizer="adam",
        steps=3,
        batch_size=32,
    )
    assert r.chunk == 2
    assert _memory.auto_chunk(5, per_copy, 10**12) == 5
    assert _memory.auto_chunk(5, per_copy, 1) == 1


def test_bytes_per_copy_counts_state_and_activations(data) -> None:
    model = make_model("mlp")
    sgd = _memory.bytes_per_copy(model, data[0][:32], 100, 0, 8)
    adam = _memory.bytes_per_copy(model, data[0][:32], 100, 2, 8)
    bigger_batch = _memory.bytes_per_copy(model, data[0][:64], 100, 0, 8)
    assert adam - sgd == 100 * 2 * 8
    assert bigger_batch > sgd


@pytest.mark.parametrize("model_name", ["mlp", "cnn"])
def test_diverging_copies_are_frozen_others_go_on(data, model_name) -> None:
    model = make_model(model_name)
    r = sweep(
        model,
        data,
        loss_fn=mse,
        lrs=[0.3, 1e3],
        optimizer="sgd",
        steps=10,
        batch_size=32,
        val_data=data,
        metric=accuracy,
    )
    # LR 0.3, not 1e-2 as before: after 10 steps 1e-2 is below chance accuracy, so it now
    # counts as failed (see test_chance_level_copies_fail) and cannot be best_lr.
    assert r.diverged.tolist() == [False, True]
    k = r.diverged_at[1]
    assert 0 < k < 10
    assert np.isnan(r.losses[1, k:]).all() and np.isfinite(r.losses[1, :k]).all()
    assert np.isfinite(r.losses[0]).all()
    assert r.best_lr == 0.3
    assert np.isnan(r.val_metric[1, -1]) and np.isfinite(r.val_metric[0, -1])
    alone = sweep(model, data, loss_fn=mse, lrs=[0.3], optimizer="sgd", steps=10, batch_size=32)
    np.testing.assert_allclose(alone.losses[0], r.losses[0], rtol=0, atol=1e-13)


def test_all_diverged_gives_no_best(data) -> None:
    r = sweep(
        make_model("mlp"),
        data,
        loss_fn=mse,
        lrs=[1e3, 1e6],
        optimizer="sgd",
        steps=6,
        batch_size=32,
    )
    assert r.diverged.all() and r.best_lr is None and r.best_index is None


def test_validation_per_epoch_and_best_lr(data) -> None:
    x, y = data
    val = (x[:40], y[:40])
    lrs = [1e-4, 1e-2, 0.3]
    r = sweep(
        make_model("mlp"),
        data,
        loss_fn=nn.CrossEntropyLoss(),
        lrs=lrs,
        optimizer="adam",
        steps=10,
        batch_size=32,
        val_data=val,
        metric=accuracy,
    )
    # 3 batches per epoch: evaluated after updates 3, 6, 9 and at the end (10)
    assert r.eval_steps.tolist() == [3, 6, 9, 10]
    assert r.val_metric.shape == r.val_loss.shape == (3, 4)
    assert r.criterion == "val_metric"
    assert r.best_index == int(np.argmax(r.val_metric[:, -1]))
    # validation loss is the loss_fn on the validation set of each copy
    assert r.val_loss[0, -1] > r.val_loss[2, -1]
    by_loss = sweep(
        make_model("mlp"),
        data,
        loss_fn=nn.CrossEntropyLoss(),
        lrs=lrs,
        optimizer="adam",
        steps=10,
        batch_size=32,
        val_data=val,
    )
    assert by_loss.criterion == "val_loss" and by_loss.val_metric is None
    assert by_loss.best_index == int(np.argmin(by_loss.val_loss[:, -1]))
    no_val = sweep(
        make_model("mlp"),
        data,
        loss_fn=nn.CrossEntropyLoss(),
        lrs=lrs,
        optimizer="adam",
        steps=10,
        batch_size=32,
    )
    assert no_val.criterion == "train_loss" and no_val.eval_steps.size == 0
    assert no_val.best_lr == 0.3


def test_epochs_and_steps(data) -> None:
    r = sweep(
        make_model("mlp"), data, loss_fn=nn.CrossEntropyLoss(), lrs=[0.1], epochs=2, batch_size=40
    )
    assert r.losses.shape == (1, 6)  # 96 samples -> batches of 40, 40, 16
    r1 = sweep(make_model("mlp"), data, loss_fn=nn.CrossEntropyLoss(), lrs=[0.1], batch_size=40)
    assert r1.steps == 3


def test_to_dict_is_json_and_plot(data, tmp_path) -> None:
    r = sweep(
        make_model("mlp"),
        data,
        loss_fn=mse,
        lrs=[0.3, 1e3],  # 1e-2 would end at chance level after 6 steps: failed, no best_lr
        optimizer="sgd",
        steps=6,
        batch_size=32,
        val_data=data,
        metric=accuracy,
    )
    assert isinstance(r, SweepResult)
    d = json.loads(json.dumps(r.to_dict(), allow_nan=False))
    assert d["best_lr"] == 0.3 and d["lrs"] == [0.3, 1e3]
    assert len(d["losses"]) == 2 and None in d["losses"][1]
    assert d["diverged_at"][0] == -1
    with pytest.raises(AttributeError):
        r.best_index = 0  # type: ignore[misc]
    fig = r.plot(path=str(tmp_path / "s.png"))
    assert (tmp_path / "s.png").stat().st_size > 1000
    assert len(fig.axes) >= 2


def test_unsupported_module_is_a_clear_error(data) -> None:
    class ItemModel(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(12, 3, dtype=torch.float64)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out = self.fc(x)
            return out * 2 if out.sum().item() > 0 else out  # data-dependent branch

    with pytest.raises(ConfigError, match=r"ItemModel cannot be trained under torch\.func\.vmap"):
        sweep(ItemModel(), data, loss_fn=nn.CrossEntropyLoss(), lrs=[0.1], steps=2)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(lrs=[0.1, -1.0]), r"lrs\[1\]=-1\.0"),
        (dict(lrs=[]), "at least one"),
        (dict(lrs=[0.1], optimizer="rmsprop"), "optimizer='rmsprop'"),
        (dict(lrs=[0.1], steps=3, epochs=1), "not both"),
        (dict(lrs=[0.1], steps=0), "steps=0"),
        (dict(lrs=[0.1], chunk=0), "chunk=0"),
        (dict(lrs=[0.1], momentum=1.5), "momentum=1.5"),
        (dict(lrs=[0.1], metric=accuracy), "val_data=None"),
        (dict(lrs=[0.1], schedule=lambda k: -1.0), r"schedule\(0\)=-1\.0"),
        (dict(lrs=[0.1], schedule=lambda k: 0.0), "zero for all"),
        (dict(lrs=[0.1], dtype="int32"), "dtype='int32'"),
        (dict(lrs=[0.1], engine="batched-mlp", model=make_model("cnn")), "engine='batched-mlp'"),
    ],
)
def test_bad_arguments(data, kwargs, match) -> None:
    model = kwargs.pop("model", make_model("mlp"))
    with pytest.raises(ConfigError, match=match) as info:
        sweep(model, data, loss_fn=nn.CrossEntropyLoss(), **kwargs)
    assert isinstance(info.value, ValueError) and isinstance(info.value, LRKitError)


def test_bad_train_data() -> None:
    with pytest.raises(ConfigError, match="train_data"):
        sweep(make_model("mlp"), iter([]), loss_fn=nn.CrossEntropyLoss(), lrs=[0.1])


def test_import_does_not_import_torch() -> None:
    code = "import sys, lrkit.sweep; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_non_vectorised_optimizers_train_sequentially_and_match_ordinary_training() -> None:
    """Any lrkit.optim name works: those without a vectorised form run copy by copy."""
    import copy

    from lrkit.optim import make

    torch.manual_seed(0)
    x, y = torch.randn(96, 6, dtype=torch.float64), torch.randint(0, 3, (96,))
    model = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 3)).double()
    lrs = [1e-3, 1e-2]
    r = sweep(
        model,
        (x, y),
        loss_fn=nn.CrossEntropyLoss(),
        lrs=lrs,
        optimizer="hdsgd",
        steps=6,
        batch_size=32,
        shuffle=False,
        val_data=(x, y),
    )
    assert r.engine == "sequential" and r.losses.shape == (2, 6)
    for i, lr in enumerate(lrs):
        net = copy.deepcopy(model)
        opt = make("hdsgd", net.parameters(), lr)
        for step in range(6):
            j = (step % 3) * 32
            loss = nn.functional.cross_entropy(net(x[j : j + 32]), y[j : j + 32])
            assert float(loss) == pytest.approx(r.losses[i, step], rel=1e-12)
            opt.zero_grad()
            loss.backward()
            opt.step()
    assert r.val_loss is not None and np.isfinite(r.val_loss).all()


def test_hypergradient_sweep_refuses_a_schedule() -> None:
    x, y = torch.randn(32, 4), torch.randint(0, 2, (32,))
    model = nn.Sequential(nn.Linear(4, 2))
    with pytest.raises(ConfigError, match="hdadam"):
        sweep(
            model,
            (x, y),
            loss_fn=nn.CrossEntropyLoss(),
            lrs=[1e-3],
            optimizer="hdadam",
            steps=2,
            schedule=lambda k: 1.0,
        )


def test_val_data_as_a_dataloader_equals_the_pair_and_bad_val_data_is_clear(data) -> None:
    x, y = data
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=25)
    kw = dict(loss_fn=nn.CrossEntropyLoss(), lrs=[0.01, 0.1], steps=6, batch_size=32)
    a = sweep(make_model("mlp"), data, val_data=(x, y), **kw)
    b = sweep(make_model("mlp"), data, val_data=loader, **kw)
    np.testing.assert_array_equal(a.val_loss, b.val_loss)
    with pytest.raises(ConfigError, match=r"val_data samples have shape \(5,\).*\(12,\)"):
        sweep(make_model("mlp"), data, val_data=(x[:, :5], y), **kw)
    with pytest.raises(ConfigError, match="same number"):
        sweep(make_model("mlp"), data, val_data=(x, y[:10]), **kw)
    with pytest.raises(ConfigError, match="val_data must be"):
        sweep(make_model("mlp"), data, val_data=3, **kw)
    with pytest.raises(ConfigError, match="empty or yields something else"):
        sweep(make_model("mlp"), data, val_data=[], **kw)


@pytest.mark.parametrize("model_name", ["mlp", "cnn"])
def test_chance_level_copies_fail(data, model_name) -> None:
    """A copy that ends no better than predicting the majority class is failed, never best."""
    _, y = data
    majority = float(np.bincount(y.numpy()).max() / len(y))
    r = sweep(make_model(model_name), data, loss_fn=mse, lrs=[1e-2, 0.3, 1e3], optimizer="sgd",
              steps=10, batch_size=32, val_data=data, metric=accuracy)  # fmt: skip
    assert r.chance_score == pytest.approx(majority)
    assert r.val_metric is not None and r.val_metric[0, -1] <= majority  # learned nothing yet
    assert r.at_chance.tolist() == [True, False, False]
    assert r.failed.tolist() == [True, False, True] and r.n_failed == 2
    assert r.best_lr == 0.3
    d = json.loads(json.dumps(r.to_dict(), allow_nan=False))
    assert d["at_chance"] == [True, False, False] and d["n_failed"] == 2
    # only chance-level and diverged copies: no best LR at all
    none = sweep(make_model(model_name), data, loss_fn=mse, lrs=[1e-2, 1e3], optimizer="sgd",
                 steps=10, batch_size=32, val_data=data, metric=accuracy)  # fmt: skip
    assert none.best_lr is None and none.n_failed == 2
    # ranked by validation loss (no metric): chance is the loss of the label frequencies
    by_loss = sweep(make_model(model_name), data, loss_fn=nn.CrossEntropyLoss(),
                    lrs=[1e-4, 0.3], optimizer="sgd", steps=10, batch_size=32,
                    val_data=data)  # fmt: skip
    freq = torch.bincount(y).double() / len(y)
    assert by_loss.chance_score == pytest.approx(float(-(freq * freq.log()).sum()))
    assert by_loss.at_chance.tolist() == [True, False] and by_loss.best_lr == 0.3


def test_chance_level_of_a_regression_is_the_mean(data) -> None:
    x, _ = data
    target = x[:, :2] @ torch.tensor([[1.0], [-2.0]], dtype=x.dtype)
    model = nn.Sequential(nn.Linear(12, 8), nn.Tanh(), nn.Linear(8, 1)).double()
    r = sweep(model, (x, target), loss_fn=nn.MSELoss(), lrs=[1e-5, 0.1], optimizer="adam",
              steps=30, batch_size=32, val_data=(x, target))  # fmt: skip
    assert r.chance_score == pytest.approx(float(target.var(unbiased=False)))
    assert r.at_chance.tolist() == [True, False] and r.best_lr == 0.1


def test_sweep_progress_counts_copies_across_chunks(data) -> None:
    seen: list[tuple[int, int]] = []
    sweep(make_model("mlp"), data, loss_fn=nn.CrossEntropyLoss(), lrs=[1e-3, 1e-2, 0.1],
          steps=5, batch_size=16, chunk=2, progress=lambda d, t: seen.append((d, t)))  # fmt: skip
    # chunk of 2 copies, then 1: 2, 4, ..., 10, then 11, ..., 15 copy-updates of 15
    assert [d for d, _ in seen] == [2, 4, 6, 8, 10, 11, 12, 13, 14, 15]
    assert {t for _, t in seen} == {15}
