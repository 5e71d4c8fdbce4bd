"""Each copy of a sweep equals an ordinary torch.optim training at its LR."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from torch import nn

from lrkit.sweep import sweep
from lrkit.sweep._data import BatchSource, schedule_multipliers

from .conftest import make_model, reference

LRS = [1e-3, 3e-2, 0.3]


def cosine(k: object) -> object:
    return 0.5 * (1 + np.cos(np.pi * np.asarray(k) / 40))


def warmup(k: object) -> object:
    return np.minimum((np.asarray(k) + 0.0) / 4, 1.0)


def batches_of(data: tuple[torch.Tensor, torch.Tensor], steps: int) -> list:
    source = BatchSource(data, batch_size=32, seed=0, shuffle=True)
    out: list = []
    for epoch in source.epochs():
        out.extend(epoch)
        if len(out) >= steps:
            return out[:steps]
    raise AssertionError


@pytest.mark.parametrize(
    ("model_name", "optimizer", "schedule", "weight_decay"),
    [
        ("mlp", "sgd", None, 0.0),
        ("mlp", "sgd_momentum", cosine, 1e-3),
        ("mlp", "adam", warmup, 1e-2),
        ("mlp", "adamw", cosine, 0.1),
        ("mlp-gelu", "adam", None, 0.0),
        ("cnn", "sgd_momentum", cosine, 0.0),
        ("cnn", "adamw", warmup, 0.05),
        ("gru", "adam", cosine, 0.0),
    ],
)
def test_float64_matches_torch_optim(data, model_name, optimizer, schedule, weight_decay) -> None:
    steps = 12
    model = make_model(model_name)
    loss_fn = nn.CrossEntropyLoss()
    before = [p.detach().clone() for p in model.parameters()]
    r = sweep(
        model,
        data,
        loss_fn=loss_fn,
        lrs=LRS,
        optimizer=optimizer,
        steps=steps,
        schedule=schedule,
        weight_decay=weight_decay,
        batch_size=32,
    )
    mult = schedule_multipliers(schedule, steps)
    batches = batches_of(data, steps)
    assert r.losses.shape == (3, steps)
    for i, lr in enumerate(LRS):
        ref = reference(
            model,
            batches,
            lr=lr,
            optimizer=optimizer,
            mult=mult,
            loss_fn=loss_fn,
            weight_decay=weight_decay,
        )
        np.testing.assert_allclose(r.losses[i], ref, rtol=0, atol=1e-10)
    # the copies really differ, and the caller's model is untouched
    assert abs(r.losses[0, -1] - r.losses[2, -1]) > 1e-3
    assert all(torch.equal(a, p) for a, p in zip(before, model.parameters()))


def test_vmap_engine_matches_batched_mlp(data) -> None:
    model = make_model("mlp")
    kw = dict(loss_fn=nn.CrossEntropyLoss(), lrs=LRS, optimizer="adam", steps=8, batch_size=32)
    a = sweep(model, data, engine="batched-mlp", **kw)
    b = sweep(model, data, engine="vmap", **kw)
    assert (a.engine, b.engine) == ("batched-mlp", "vmap")
    np.testing.assert_allclose(a.losses, b.losses, rtol=0, atol=1e-12)


def test_custom_loss_on_mlp_path(data) -> None:
    """A loss without a closed form goes through autograd on the outputs only."""
    model = make_model("mlp")

    def loss_fn(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return nn.functional.cross_entropy(out, y, label_smoothing=0.1)

    r = sweep(model, data, loss_fn=loss_fn, lrs=LRS, optimizer="sgd", steps=6, batch_size=32)
    mult = np.ones(6)
    for i, lr in enumerate(LRS):
        ref = reference(
            model, batches_of(data, 6), lr=lr, optimizer="sgd", mult=mult, loss_fn=loss_fn
        )
        np.testing.assert_allclose(r.losses[i], ref, rtol=0, atol=1e-10)


@pytest.mark.parametrize(("model_name", "engine"), [("cnn", "vmap"), ("mlp", "batched-mlp")])
def test_float32_first_steps_agree(data, model_name, engine) -> None:
    model = make_model(model_name, torch.float32)
    x, y = data[0].float(), data[1]
    loss_fn = nn.CrossEntropyLoss()
    r = sweep(model, (x, y), loss_fn=loss_fn, lrs=LRS, optimizer="adam", steps=5, batch_size=32)
    assert r.engine == engine
    batches = batches_of((x, y), 5)
    for i, lr in enumerate(LRS):
        ref = reference(model, batches, lr=lr, optimizer="adam", mult=np.ones(5), loss_fn=loss_fn)
        np.testing.assert_allclose(r.losses[i], ref, rtol=0, atol=1e-5)


def test_dataloader_input_and_regression_loss() -> None:
    g = torch.Generator().manual_seed(3)
    x = torch.randn(64, 12, generator=g, dtype=torch.float64)
    t = torch.randn(64, 3, generator=g, dtype=torch.float64)
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, t), batch_size=16)
    model = make_model("mlp")
    loss_fn = nn.MSELoss()
    r = sweep(model, loader, loss_fn=loss_fn, lrs=LRS, optimizer="sgd_momentum", epochs=2)
    batches = [tuple(b) for b in loader] * 2
    for i, lr in enumerate(LRS):
        ref = reference(
            model, batches, lr=lr, optimizer="sgd_momentum", mult=np.ones(8), loss_fn=loss_fn
        )
        np.testing.assert_allclose(r.losses[i], ref, rtol=0, atol=1e-10)


@pytest.mark.parametrize("which", ["functional", "builtin-task"])
def test_closed_form_cross_entropy_for_function_losses(data, which) -> None:
    """F.cross_entropy and the built-in tasks' loss take the closed form, and it is exact."""
    from lrkit.sweep._engines import MLPEngine
    from lrkit.tasks import cross_entropy

    loss_fn = nn.functional.cross_entropy if which == "functional" else cross_entropy
    model = make_model("mlp")
    assert MLPEngine(model, loss_fn)._ce
    r = sweep(model, data, loss_fn=loss_fn, lrs=LRS, optimizer="sgd", steps=6, batch_size=32)
    assert r.engine == "batched-mlp"
    for i, lr in enumerate(LRS):
        ref = reference(
            model, batches_of(data, 6), lr=lr, optimizer="sgd", mult=np.ones(6), loss_fn=loss_fn
        )
        np.testing.assert_allclose(r.losses[i], ref, rtol=0, atol=1e-10)


@pytest.mark.parametrize(
    "layers",
    [
        # ReLU right after a Linear (in place on the engine's workspace), ReLU after another
        # activation (not in place), a model that ends in a ReLU, Linear without bias.
        lambda: [
            nn.Linear(12, 16),
            nn.ReLU(),
            nn.Linear(16, 8),
            nn.Tanh(),
            nn.ReLU(),
            nn.Linear(8, 3, bias=False),
        ],
        lambda: [nn.Linear(12, 16, bias=False), nn.Sigmoid(), nn.Linear(16, 3), nn.ReLU()],
    ],
)
def test_mlp_engine_gradients_equal_autograd_across_batch_sizes(data, layers) -> None:
    """The batched MLP engine reuses step buffers per (K, batch) shape; gradients must be exact
    whatever the order of shapes (the last, partial batch of an epoch, a third shape that
    evicts one) and must not leak between calls."""
    from lrkit.sweep._engines import MLPEngine

    torch.manual_seed(3)
    model = nn.Sequential(*layers()).double()
    loss_fn = nn.CrossEntropyLoss()
    engine = MLPEngine(model, loss_fn)
    k = 3
    flat = engine.init_flat(k, torch.float64, torch.device("cpu"))
    flat += 0.05 * torch.randn(flat.shape, dtype=torch.float64)  # the copies differ
    grad = torch.empty_like(flat)
    x, y = data
    for n in (32, 7, 32, 5, 11, 32, 7):
        loss = engine.loss_and_grad(flat, x[:n], y[:n], grad)
        for i in range(k):
            params = [
                flat[i, a:b].view(shape).clone().requires_grad_(True)
                for a, b, shape in zip(engine.offsets[:-1], engine.offsets[1:], engine.shapes)
            ]
            out = torch.func.functional_call(model, dict(zip(engine.names, params)), (x[:n],))
            ref = loss_fn(out, y[:n])
            ref_grads = torch.autograd.grad(ref, params)
            assert float(loss[i]) == pytest.approx(float(ref), rel=1e-12, abs=1e-14)
            torch.testing.assert_close(
                grad[i], torch.cat([g.reshape(-1) for g in ref_grads]), rtol=1e-10, atol=1e-12
            )


def _bn_model() -> nn.Module:
    torch.manual_seed(2)
    return nn.Sequential(
        nn.Linear(12, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 3)
    ).double()


@pytest.mark.parametrize("optimizer", ["sgd_momentum", "adam"])
def test_batchnorm_copies_keep_their_own_running_statistics(data, optimizer) -> None:
    """Each copy of a BatchNorm model trains, and is evaluated (eval mode, running
    statistics), exactly like an ordinary training of its own at its LR."""
    steps, lrs = 9, [1e-3, 3e-2, 0.3]
    model = _bn_model()
    loss_fn = nn.CrossEntropyLoss()
    r = sweep(
        model, data, loss_fn=loss_fn, lrs=lrs, optimizer=optimizer, steps=steps,
        batch_size=32, val_data=data,
    )  # fmt: skip
    assert r.engine == "vmap"
    batches = batches_of(data, steps)
    val_losses = []
    for i, lr in enumerate(lrs):
        m = copy.deepcopy(model)
        opt = (
            torch.optim.SGD(m.parameters(), lr, momentum=0.9)
            if optimizer == "sgd_momentum"
            else torch.optim.Adam(m.parameters(), lr)
        )
        ref = []
        for x, y in batches:
            opt.zero_grad()
            loss = loss_fn(m(x), y)
            loss.backward()
            opt.step()
            ref.append(loss.item())
        np.testing.assert_allclose(r.losses[i], ref, rtol=0, atol=1e-10)
        m.eval()
        with torch.no_grad():
            val_losses.append(loss_fn(m(data[0]), data[1]).item())
    # eval mode reads the running statistics, which vmap accumulates in another summation order: after
    # Adam's steps they agree to ~5e-10 here (float32 would be ~1e-6), so 1e-9 still checks exactness
    np.testing.assert_allclose(r.val_loss[:, -1], val_losses, rtol=0, atol=1e-9)
    # the caller's model (and its running statistics) is untouched
    fresh = _bn_model()
    for a, b in zip(model.state_dict().values(), fresh.state_dict().values()):
        assert torch.equal(a, b)


def test_copy_rows_moves_the_buffers_of_copies() -> None:
    from lrkit.sweep._engines import FuncEngine

    eng = FuncEngine(_bn_model(), nn.CrossEntropyLoss())
    flat = eng.init_flat(3, torch.float64, torch.device("cpu"))
    g = torch.Generator().manual_seed(0)
    x = torch.randn(32, 12, generator=g, dtype=torch.float64)
    y = torch.randint(0, 3, (32,), generator=g)
    flat[1] += 0.1  # copy 1 differs, so its batch statistics (and running stats) differ
    eng.loss_and_grad(flat, x, y, torch.empty_like(flat))
    mean = eng._kbuf["1.running_mean"]
    assert not torch.equal(mean[0], mean[1])
    eng.copy_rows(torch.tensor([0]), torch.tensor([1]))
    assert torch.equal(mean[0], mean[1])
    assert int(eng._kbuf["1.num_batches_tracked"][0]) == 1
    # a new chunk starts from the model's own buffers again
    eng.init_flat(2, torch.float64, torch.device("cpu"))
    assert torch.equal(eng._kbuf["1.running_mean"], torch.zeros(2, 16, dtype=torch.float64))


@pytest.mark.parametrize("rnn", [nn.GRU, nn.LSTM])
def test_recurrent_models_train_and_validate_in_float32(rnn) -> None:
    """aten::gru/lstm have no batching rule outside a grad transform on CPU: the validation
    forward must still work (and equal each copy's ordinary forward)."""

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.rnn = rnn(2, 6, batch_first=True)
            self.fc = nn.Linear(6, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            out, _ = self.rnn(x.view(x.shape[0], -1, 2))
            return self.fc(out[:, -1])

    torch.manual_seed(0)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(64, 12, generator=g)
    y = torch.randint(0, 3, (64,), generator=g)
    model = Net()
    r = sweep(model, (x, y), loss_fn=nn.functional.cross_entropy, lrs=[1e-3, 1e-1],
              optimizer="adam", steps=4, batch_size=16, val_data=(x, y))  # fmt: skip
    assert r.val_loss is not None and np.isfinite(r.val_loss).all()
    ref = copy.deepcopy(model)
    opt = torch.optim.Adam(ref.parameters(), 1e-3)
    # the first copy's loss trajectory matches ordinary training to float32 precision
    source = BatchSource((x, y), batch_size=16, seed=0, shuffle=True)
    batches = list(next(iter(source.epochs())))[:4]
    for k, (xb, yb) in enumerate(batches):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(ref(xb), yb)
        loss.backward()
        opt.step()
        assert r.losses[0, k] == pytest.approx(loss.item(), abs=1e-5)
    with torch.no_grad():
        ref_val = nn.functional.cross_entropy(ref(x), y).item()
    assert r.val_loss[0, -1] == pytest.approx(ref_val, abs=1e-5)
