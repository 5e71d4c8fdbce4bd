"""Schedule-free optimizers in Keras 3: iterates equal to the reference ``schedulefree``
package, and ``ScheduleFreeCallback`` validating and checkpointing at the evaluation point."""

from __future__ import annotations

import os
import subprocess
import sys
import types

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
pytest.importorskip(os.environ["KERAS_BACKEND"], reason="the Keras backend is not installed")
keras = pytest.importorskip("keras", reason="keras is not installed (pip install 'lrkit[keras]')")
from keras import ops  # noqa: E402

from lrkit.errors import ConfigError  # noqa: E402
from lrkit.integrations.keras import (  # noqa: E402
    ScheduleFreeAdamW,
    ScheduleFreeCallback,
    ScheduleFreeSGD,
    evaluation_weights,
)

pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation:DeprecationWarning",
    "ignore:Skipping variable loading for optimizer:UserWarning",  # load_weights, unbuilt optimizer
)


def values(variables) -> list[np.ndarray]:
    return [np.array(ops.convert_to_numpy(v), copy=True) for v in variables]


@pytest.mark.parametrize("kind", ["adamw", "sgd", "adamw_accumulating"])
def test_iterates_equal_the_reference_package_in_float64(kind) -> None:
    torch = pytest.importorskip("torch")
    schedulefree = pytest.importorskip("schedulefree")
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(7, 5)), rng.normal(size=7)
    w0, c0 = rng.normal(size=(5,)), rng.normal(size=(1,))
    hyper = {"weight_decay": 0.05, "warmup_steps": 3}
    # LRs exact in float32: Keras builds the LR variable through a float32 tensor
    floatx = keras.config.floatx()
    keras.config.set_floatx("float64")
    try:
        w = keras.Variable(w0, dtype="float64")
        c = keras.Variable(c0, dtype="float64")
        tw = torch.tensor(w0, requires_grad=True)
        tc = torch.tensor(c0, requires_grad=True)
        accumulate = kind == "adamw_accumulating"
        if kind.startswith("adamw"):
            opt = ScheduleFreeAdamW(
                0.0625,
                beta_1=0.8,
                beta_2=0.99,
                epsilon=1e-6,
                gradient_accumulation_steps=2 if accumulate else None,
                **hyper,
            )
            ref = schedulefree.AdamWScheduleFree(
                [tw, tc], lr=0.0625, betas=(0.8, 0.99), eps=1e-6, **hyper
            )
        else:
            opt = ScheduleFreeSGD(0.03125, momentum=0.8, **hyper)
            ref = schedulefree.SGDScheduleFree([tw, tc], lr=0.03125, momentum=0.8, **hyper)
        ref.train()
        model = types.SimpleNamespace(optimizer=opt)
        for step in range(12):
            yw, yc = values([w, c])
            r = a @ yw + yc - b  # gradient of 0.5 |a w + c - b|^2 at the training point
            gw, gc = a.T @ r, np.array([r.sum()])
            if accumulate:  # two micro-batches whose mean is the reference's gradient
                opt.apply(
                    [ops.convert_to_tensor(0.5 * gw), ops.convert_to_tensor(0.5 * gc)], [w, c]
                )
                opt.apply(
                    [ops.convert_to_tensor(1.5 * gw), ops.convert_to_tensor(1.5 * gc)], [w, c]
                )
            else:
                opt.apply([ops.convert_to_tensor(gw), ops.convert_to_tensor(gc)], [w, c])
            tw.grad, tc.grad = torch.tensor(gw), torch.tensor(gc)
            ref.step()
            np.testing.assert_allclose(values([w, c])[0], tw.detach().numpy(), rtol=1e-12)
            np.testing.assert_allclose(values([w, c])[1], tc.detach().numpy(), rtol=1e-12)
            if step in (0, 5, 11):  # the evaluation point
                train = values([w, c])
                with evaluation_weights(model):
                    ref.eval()
                    np.testing.assert_allclose(values([w])[0], tw.detach().numpy(), rtol=1e-12)
                    np.testing.assert_allclose(values([c])[0], tc.detach().numpy(), rtol=1e-12)
                    # x == y after the first update (its average weight is 1), apart later
                    assert np.array_equal(values([w])[0], train[0]) == (step == 0)
                    ref.train()
                for u, v in zip(train, values([w, c]), strict=True):
                    np.testing.assert_array_equal(u, v)  # bit for bit
    finally:
        keras.config.set_floatx(floatx)


def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(192, 6)).astype("float32")
    return x, np.tanh(x.sum(1, keepdims=True)).astype("float32")


def make_model(optimizer=None) -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((6,)), keras.layers.Dense(8, activation="tanh"), keras.layers.Dense(1)]
    )
    opt = optimizer if optimizer is not None else ScheduleFreeAdamW(0.02, warmup_steps=3)
    model.compile(optimizer=opt, loss="mse")
    return model


def test_fit_validates_and_checkpoints_at_x_and_trains_exactly_as_without(tmp_path) -> None:
    x, y = data()
    val = (x[:64] * 0.5, y[:64])
    path = str(tmp_path / "w.weights.h5")
    a = make_model()
    ckpt = keras.callbacks.ModelCheckpoint(path, save_weights_only=True)
    hist = a.fit(
        x, y, batch_size=32, epochs=2, shuffle=False, validation_data=val, verbose=0,
        callbacks=[ScheduleFreeCallback(), ckpt],
    )  # fmt: skip
    at_x = values(a.trainable_variables)  # eval_at_end: the model holds x
    # validation ran at x: the last epoch's val_loss is evaluate() at x, not at y
    assert hist.history["val_loss"][-1] == pytest.approx(a.evaluate(*val, verbose=0), rel=1e-6)
    # the checkpoint written at the last epoch end holds x
    c = make_model()
    c.load_weights(path)
    for u, v in zip(at_x, values(c.trainable_variables), strict=True):
        np.testing.assert_array_equal(u, v)
    # the training weights are the ones a run without the callback reaches, bit for bit
    b = make_model()
    b.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0)
    with evaluation_weights(b):
        b_val = b.evaluate(*val, verbose=0)
    assert b_val == pytest.approx(hist.history["val_loss"][-1], rel=1e-6)
    at_y = a.evaluate(*val, verbose=0)  # still x
    from lrkit.integrations._keras_schedulefree import to_training

    assert to_training(a)
    for u, v in zip(values(b.trainable_variables), values(a.trainable_variables), strict=True):
        np.testing.assert_array_equal(u, v)
    assert a.evaluate(*val, verbose=0) != pytest.approx(at_y, rel=1e-4)  # x and y differ
    # a second fit with the callback continues from y: equal to b trained on
    a.fit(
        x,
        y,
        batch_size=32,
        epochs=1,
        shuffle=False,
        verbose=0,
        callbacks=[ScheduleFreeCallback(eval_at_end=False)],
    )
    b.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
    for u, v in zip(values(b.trainable_variables), values(a.trainable_variables), strict=True):
        np.testing.assert_array_equal(u, v)


def test_a_checkpoint_written_at_x_resumes_training_from_y(tmp_path) -> None:
    x, y = data()
    path = str(tmp_path / "m.keras")
    a = make_model()
    a.fit(
        x, y, batch_size=32, epochs=1, shuffle=False, verbose=0,
        callbacks=[ScheduleFreeCallback(eval_at_end=False), keras.callbacks.ModelCheckpoint(path)],
    )  # fmt: skip
    loaded = keras.models.load_model(path)
    assert isinstance(loaded.optimizer, ScheduleFreeAdamW)
    from lrkit.integrations._keras_schedulefree import to_training

    assert to_training(loaded)  # the saved optimizer says: x is in the weights
    for u, v in zip(values(a.trainable_variables), values(loaded.trainable_variables), strict=True):
        np.testing.assert_allclose(u, v, rtol=1e-5, atol=1e-6)


def test_keras_own_schedule_free_adamw_works_with_the_callback() -> None:
    if not hasattr(keras.optimizers, "ScheduleFreeAdamW"):
        pytest.skip("this Keras has no ScheduleFreeAdamW")
    x, y = data()
    val = (x[:64] * 0.5, y[:64])
    a = make_model(keras.optimizers.ScheduleFreeAdamW(0.02))
    hist = a.fit(
        x, y, batch_size=32, epochs=1, shuffle=False, validation_data=val, verbose=0,
        callbacks=[ScheduleFreeCallback()],
    )  # fmt: skip
    assert hist.history["val_loss"][-1] == pytest.approx(a.evaluate(*val, verbose=0), rel=1e-6)
    b = make_model(keras.optimizers.ScheduleFreeAdamW(0.02))
    b.fit(x, y, batch_size=32, epochs=1, shuffle=False, verbose=0)
    assert b.evaluate(*val, verbose=0) != pytest.approx(hist.history["val_loss"][-1], rel=1e-4)


def test_bad_input_and_config_round_trip() -> None:
    with pytest.raises(ConfigError, match=r"beta_1=1\.5"):
        ScheduleFreeAdamW(beta_1=1.5)
    with pytest.raises(ConfigError, match="warmup_steps=-1"):
        ScheduleFreeSGD(warmup_steps=-1)
    with pytest.raises(ConfigError, match="eval_at_end"):
        ScheduleFreeCallback(eval_at_end="yes")
    opt = ScheduleFreeAdamW(0.01, weight_decay=0.1, warmup_steps=7)
    again = keras.optimizers.deserialize(keras.optimizers.serialize(opt))
    assert isinstance(again, ScheduleFreeAdamW)
    assert (again.weight_decay, again.warmup_steps, again.beta_2) == (0.1, 7, 0.999)


def test_fit_under_jax_jit_too() -> None:
    """JAX keeps the training state outside the variables during ``fit``: the swaps must
    land between its syncs. The fit test above, rerun in a JAX interpreter."""
    if keras.backend.backend() == "jax":
        pytest.skip("this process already runs the JAX backend")
    pytest.importorskip("jax", reason="jax is not installed")
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu"}
    out = subprocess.run(
        [sys.executable, "-m", "pytest", __file__, "-v", "-p", "no:cacheprovider",
         "-k", "fit_validates or resumes_training"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-2000:]
    assert " 2 passed" in out.stdout, out.stdout[-3000:]  # not "skipped"
