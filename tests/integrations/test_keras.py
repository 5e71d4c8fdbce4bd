"""Keras 3 adapter: config round-trip, every schedule under keras.ops, parity with Keras's own
schedules, and ``model.fit`` / ``model.save`` / plateau under the PyTorch and JAX backends.

Keras fixes its backend at import, so this process uses one (``KERAS_BACKEND``, default torch)
and the fit tests run once per backend in fresh interpreters, started together.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
pytest.importorskip(os.environ["KERAS_BACKEND"], reason="the Keras backend is not installed")
keras = pytest.importorskip("keras", reason="keras is not installed (pip install 'lrkit[keras]')")
from keras import ops  # noqa: E402

from lrkit import schedules as S  # noqa: E402
from lrkit.errors import ConfigError  # noqa: E402
from lrkit.integrations.keras import KerasSchedule, PlateauCallback  # noqa: E402
from lrkit.testing._integration import (  # noqa: E402
    check_lrs,
    check_missing_dependency,
    every_schedule,
)

KS = np.arange(0, 260)

# keras's torch backend converts tensors with np.array(x), which NumPy 2 flags; not ours
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


def test_every_schedule_under_keras_ops_matches_numpy():
    for s in every_schedule():
        got = ops.convert_to_numpy(KerasSchedule(s)(ops.convert_to_tensor(KS, dtype="int64")))
        assert got.dtype == np.float32
        tol = {"rtol": 2e-6, "atol": 1e-5}
        if s.name == "polynomial" and s.power < 1.0:
            tol["atol"] = 3e-4  # sqrt-like ends amplify float32 rounding (see test_optax)
        check_lrs(s, np.broadcast_to(got, KS.shape), **tol, what="keras.ops, float32")
        # a scalar int step, as the optimizer passes optimizer.iterations
        one = float(
            ops.convert_to_numpy(
                KerasSchedule(s)(keras.Variable(7, dtype="int64", trainable=False))
            )
        )
        assert one == pytest.approx(s(7), rel=2e-6, abs=1e-5 * float(s(KS).max()))


def test_config_round_trip_and_serialization():
    s = KerasSchedule(S.warmup(S.cosine(lr=1e-3, steps=100), steps=10), scale=0.5)
    config = s.get_config()
    assert config["schedule"] == s.schedule.to_dict()
    json.dumps(config)  # JSON-safe
    back = KerasSchedule.from_config(config)
    assert back.schedule == s.schedule and back.scale == 0.5
    blob = keras.saving.serialize_keras_object(s)
    assert blob["registered_name"] == "lrkit>KerasSchedule"
    again = keras.saving.deserialize_keras_object(json.loads(json.dumps(blob)))
    assert isinstance(again, KerasSchedule) and again.schedule == s.schedule
    assert float(again(20)) == pytest.approx(0.5 * s.schedule(20), rel=1e-6)
    # an optimizer's config holds it too
    opt = keras.optimizers.deserialize(
        json.loads(json.dumps(keras.optimizers.serialize(keras.optimizers.AdamW(learning_rate=s))))
    )
    assert isinstance(opt._learning_rate, KerasSchedule) and opt._learning_rate.scale == 0.5


def test_validation():
    with pytest.raises(ConfigError, match="lrkit Schedule"):
        KerasSchedule(0.1)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="accumulation_steps"):
        KerasSchedule(S.constant(0.1), accumulation_steps=0)
    with pytest.raises(ConfigError, match="plateau"):
        PlateauCallback(plateau="x")  # type: ignore[arg-type]


def keras_anchor(anchor, ks):
    return np.asarray([float(ops.convert_to_numpy(anchor(int(k)))) for k in ks])


PARITY = [
    (
        lambda: keras.optimizers.schedules.CosineDecay(0.1, 50, alpha=0.1),
        S.cosine(lr=0.1, steps=50, min_lr=0.01),
    ),
    # Keras's warmup is *outside* decay_steps and starts at initial_learning_rate at step 0
    (
        lambda: keras.optimizers.schedules.CosineDecay(0.0, 40, warmup_target=0.1, warmup_steps=10),
        S.warmup(S.cosine(lr=0.1, steps=40), steps=10, zero_first=True),
    ),
    (
        lambda: keras.optimizers.schedules.ExponentialDecay(0.1, 7, 0.5),
        S.exponential(lr=0.1, rate=0.5, steps=7),
    ),
    (
        lambda: keras.optimizers.schedules.ExponentialDecay(0.1, 7, 0.5, staircase=True),
        S.exponential(lr=0.1, rate=0.5, steps=7, staircase=True),
    ),
    (
        lambda: keras.optimizers.schedules.InverseTimeDecay(0.1, 5, 0.5),
        S.inverse_time(lr=0.1, rate=0.5, steps=5),
    ),
    (
        lambda: keras.optimizers.schedules.InverseTimeDecay(0.1, 5, 0.5, staircase=True),
        S.inverse_time(lr=0.1, rate=0.5, steps=5, staircase=True),
    ),
    (
        lambda: keras.optimizers.schedules.PolynomialDecay(0.1, 40, 0.01, power=2.0),
        S.polynomial(lr=0.1, steps=40, end=0.01, power=2.0),
    ),
    # PiecewiseConstantDecay switches one step *later*: step <= b keeps the old value
    (
        lambda: keras.optimizers.schedules.PiecewiseConstantDecay([10, 20], [0.1, 0.05, 0.01]),
        S.piecewise(boundaries=[11, 21], values=[0.1, 0.05, 0.01]),
    ),
    (
        lambda: keras.optimizers.schedules.CosineDecayRestarts(0.1, 5, t_mul=2.0, m_mul=0.5),
        S.cosine_restarts(lr=0.1, period=5, mult=2.0, decay=0.5),
    ),
    # alpha is relative to each cycle's (decayed) peak in Keras: equal to min_lr when m_mul=1
    (
        lambda: keras.optimizers.schedules.CosineDecayRestarts(0.1, 4, t_mul=1.0, alpha=0.1),
        S.cosine_restarts(lr=0.1, period=4, min_lr=0.01),
    ),
]


@pytest.mark.parametrize(("anchor", "schedule"), PARITY, ids=lambda p: repr(p)[:50])
def test_parity_with_keras_schedules(anchor, schedule):
    ks = np.arange(0, 70)
    theirs = keras_anchor(anchor(), ks)
    ours = keras_anchor(KerasSchedule(schedule), ks)
    np.testing.assert_allclose(ours, theirs, rtol=2e-6, atol=1e-8)
    check_lrs(schedule, theirs, rtol=2e-6, atol=1e-6, what="the Keras anchor")


def test_piecewise_offset_is_one_step():
    # the documented offset: Keras([10], ...) == lrkit piecewise([11], ...), not piecewise([10])
    theirs = keras_anchor(
        keras.optimizers.schedules.PiecewiseConstantDecay([10], [1.0, 0.5]), range(13)
    )
    assert theirs[10] == 1.0 and theirs[11] == 0.5
    assert S.piecewise(boundaries=[10], values=[1.0, 0.5])(10) == 0.5


# -- model.fit under both backends, in fresh interpreters -----------------------------------

FIT_SCRIPT = textwrap.dedent(
    r"""
    import json, os, sys, tempfile
    import numpy as np
    import keras
    from keras import ops
    from lrkit import schedules as S
    from lrkit.control import ReduceOnPlateau
    from lrkit.integrations.keras import KerasSchedule, PlateauCallback
    from lrkit.testing._integration import check_adapter, check_lrs

    TOL = {"rtol": 2e-5, "atol": 2e-5}

    @keras.saving.register_keras_serializable(package="lrkit_test")
    def linear_loss(y_true, y_pred):
        return ops.mean(y_pred)  # d loss / d w = mean(x) = 1: the update moves w by -lr

    class Weights(keras.callbacks.Callback):
        def __init__(self, out):
            super().__init__()
            self.out = out
        def on_train_batch_end(self, batch, logs=None):
            self.out.append(float(np.asarray(self.model.layers[0].kernel.numpy()).ravel()[0]))

    def build(lr, **opt):
        model = keras.Sequential([keras.Input((1,)),
                                  keras.layers.Dense(1, use_bias=False, kernel_initializer="zeros")])
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=lr, **opt), loss=linear_loss)
        return model

    def fit(model, batches, out, epochs=1, callbacks=()):
        x = np.ones((batches, 1), "float32")
        return model.fit(x, np.zeros_like(x), batch_size=1, epochs=epochs, shuffle=False,
                         verbose=0, callbacks=[Weights(out), *callbacks])

    tmp = tempfile.mkdtemp()

    def run(schedule, steps, *, resume_at=None, ratios=(1.0,)):
        ws = [0.0]
        model = build(KerasSchedule(schedule))
        first = steps if resume_at is None else resume_at
        fit(model, first, ws)
        if resume_at is not None:
            path = os.path.join(tmp, f"m{resume_at}.keras")
            model.save(path)
            model = keras.models.load_model(path)
            assert int(model.optimizer.iterations) == resume_at
            fit(model, steps - resume_at, ws)
        return -np.diff(np.asarray(ws))

    report = {"backend": keras.backend.backend()}
    check_adapter(run, steps=12, resumes=2, **TOL)
    report["contract"] = "ok"

    # gradient accumulation: k counts updates when the schedule knows n
    s = S.multistep(lr=0.1, milestones=[1, 3], gamma=0.5)
    for n_given, expect in ((2, s(np.arange(5))), (1, s(2 * np.arange(5) + 1))):
        ws = [0.0]
        fit(build(KerasSchedule(s, accumulation_steps=n_given), gradient_accumulation_steps=2),
            10, ws)
        updates = -np.diff(np.asarray(ws))[1::2]
        assert np.allclose(np.diff(np.asarray(ws))[0::2], 0.0), ws
        np.testing.assert_allclose(updates, expect, rtol=2e-5, atol=2e-6)
    report["accumulation"] = "ok"

    # plateau on a schedule object: mode="max" on a falling loss cuts after every epoch but
    # the first (patience 0); the train step is compiled (jax.jit on JAX)
    s = S.cosine(lr=0.1, steps=12)
    ws = [0.0]
    model = build(KerasSchedule(s))
    cb = PlateauCallback(ReduceOnPlateau(factor=0.5, patience=0, mode="max"), monitor="loss")
    hist = fit(model, 3, ws, epochs=4, callbacks=[cb])
    scale = np.repeat([1.0, 1.0, 0.5, 0.25], 3)
    check_lrs(s, -np.diff(np.asarray(ws)) / scale, **TOL, what="plateau")
    assert hist.history["lr_scale"] == [1.0, 0.5, 0.25, 0.125], hist.history["lr_scale"]
    path = os.path.join(tmp, "plateau.keras")
    model.save(path)
    loaded = keras.models.load_model(path)
    assert loaded.optimizer._learning_rate.scale == 0.125
    assert int(loaded.optimizer.iterations) == 12
    # Keras's own callback cannot cut a schedule object (tensorflow#36612)
    try:
        fit(build(KerasSchedule(s)), 2, [0.0], epochs=2, callbacks=[
            keras.callbacks.ReduceLROnPlateau(monitor="loss", mode="max", patience=0)])
        report["keras_reduce_lr_on_schedule"] = "no error"
    except TypeError as exc:
        report["keras_reduce_lr_on_schedule"] = f"TypeError: {exc}"[:80]
    report["plateau"] = "ok"
    print(json.dumps(report))
    """
)

BACKENDS = ["torch", "jax"]


@pytest.fixture(scope="module")
def fit_runs():
    procs = {}
    for backend in BACKENDS:
        if importlib.util.find_spec(backend) is None:
            continue
        env = {**os.environ, "KERAS_BACKEND": backend, "JAX_PLATFORMS": "cpu"}
        procs[backend] = subprocess.Popen(
            [sys.executable, "-c", FIT_SCRIPT],
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    return {b: (*p.communicate(timeout=300), p.returncode) for b, p in procs.items()}


@pytest.mark.parametrize("backend", BACKENDS)
def test_fit_save_load_plateau(fit_runs, backend):
    if backend not in fit_runs:
        pytest.skip(f"the {backend} backend is not installed (pip install {backend})")
    out, err, code = fit_runs[backend]
    assert code == 0, err[-4000:]
    report = json.loads(out.strip().splitlines()[-1])
    assert report["backend"] == backend
    assert report["contract"] == report["accumulation"] == report["plateau"] == "ok"
    assert report["keras_reduce_lr_on_schedule"].startswith("TypeError")


def test_missing_keras_raises_dependency_error():
    assert "keras" in check_missing_dependency("lrkit.integrations.keras", ["keras"], "keras")


def test_missing_backend_says_how_to_pick_one():
    code = (
        "import sys\n"
        "sys.modules['jax'] = None\n"
        "from lrkit.errors import DependencyError\n"
        "try:\n"
        "    import lrkit.integrations.keras\n"
        "except DependencyError as exc:\n"
        "    print(exc)\n"
    )
    env = {**os.environ, "KERAS_BACKEND": "jax"}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "backend jax is not" in out.stdout and "KERAS_BACKEND" in out.stdout, out.stdout


# the README example, verbatim
README = """
import os
os.environ.setdefault("KERAS_BACKEND", "jax")  # or "torch": set before keras is imported
import keras
import numpy as np
from lrkit import schedules as S
from lrkit.control import ReduceOnPlateau
from lrkit.integrations.keras import KerasSchedule, PlateauCallback

lr = KerasSchedule(S.warmup(S.cosine(lr=1e-2, steps=40), steps=8))
model = keras.Sequential([keras.Input((8,)), keras.layers.Dense(1)])
model.compile(optimizer=keras.optimizers.AdamW(learning_rate=lr), loss="mse")
x = np.random.rand(256, 8).astype("float32")
y = x.sum(1, keepdims=True)
plateau = PlateauCallback(ReduceOnPlateau(factor=0.5, patience=1), monitor="val_loss")
model.fit(x, y, batch_size=32, epochs=6, validation_split=0.25, callbacks=[plateau], verbose=0)
model.save("model.keras")  # the schedule and its plateau scale are saved with the optimizer
model = keras.models.load_model("model.keras")  # and training resumes at optimizer.iterations
print(int(model.optimizer.iterations), model.optimizer._learning_rate)
"""


def test_readme_example(tmp_path):
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    env.pop("KERAS_BACKEND", None)
    if importlib.util.find_spec("jax") is None:
        env["KERAS_BACKEND"] = "torch"
    out = subprocess.run(
        [sys.executable, "-c", README],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout.split()[0] == "36"  # 6 epochs x 6 batches
    assert "KerasSchedule(warmup(" in out.stdout
