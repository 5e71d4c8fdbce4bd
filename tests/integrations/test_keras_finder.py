"""``lrkit.integrations.keras.find_lr`` on a compiled Keras 3 model (this process's backend)."""

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
from lrkit.finder import FinderResult  # noqa: E402
from lrkit.integrations.keras import KerasSchedule, find_lr  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::lrkit.errors.LRKitWarning")
OPTS = {"start_lr": 1e-5, "end_lr": 10.0, "steps": 40, "seed": 0}


def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 6)).astype("float32")
    return x, np.tanh(x.sum(1, keepdims=True)).astype("float32")


def make_model(lr=1e-2) -> keras.Model:
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input((6,)), keras.layers.Dense(16, activation="tanh"), keras.layers.Dense(1)]
    )
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=lr), loss="mse")
    return model


def values(variables) -> list[np.ndarray]:
    return [np.array(ops.convert_to_numpy(v)) for v in variables]


def test_result_and_exact_restore_training_afterwards_is_unchanged() -> None:
    x, y = data()
    a = make_model()
    a.fit(x, y, batch_size=32, epochs=1, verbose=0)  # a used optimizer: moments, iterations
    before_w, before_o = values(a.variables), values(a.optimizer.variables)
    res = find_lr(a, x, y, batch_size=32, **OPTS)
    assert isinstance(res, FinderResult)
    assert 1e-5 < res.suggestion < 10.0 and res.diverged_at is not None
    for u, v in zip(before_w, values(a.variables), strict=True):
        np.testing.assert_array_equal(u, v)
    for u, v in zip(before_o, values(a.optimizer.variables), strict=True):
        np.testing.assert_array_equal(u, v)
    b = make_model()
    b.fit(x, y, batch_size=32, epochs=1, verbose=0)
    a.fit(x, y, batch_size=32, epochs=1, verbose=0, shuffle=False)
    b.fit(x, y, batch_size=32, epochs=1, verbose=0, shuffle=False)
    for u, v in zip(values(a.weights), values(b.weights), strict=True):
        np.testing.assert_allclose(u, v, rtol=1e-6)


def test_schedule_is_swapped_out_and_back_and_the_run_is_repeatable() -> None:
    x, y = data()
    sched = KerasSchedule(S.cosine(lr=1e-2, steps=100))
    m = make_model(lr=sched)
    r1 = find_lr(m, x, y, batch_size=32, **OPTS)
    assert m.optimizer._learning_rate is sched
    assert int(ops.convert_to_numpy(m.optimizer.iterations)) == 0
    r2 = find_lr(m, x, y, batch_size=32, **OPTS)
    assert r1.losses == pytest.approx(r2.losses, rel=1e-6)  # same start, same batches
    assert r1.suggestion == pytest.approx(r2.suggestion, rel=1e-6)


def test_bad_input() -> None:
    x, y = data()
    raw = keras.Sequential([keras.Input((6,)), keras.layers.Dense(1)])
    with pytest.raises(ConfigError, match="compiled"):
        find_lr(raw, x, y)
    with pytest.raises(ConfigError, match="batch_size"):
        find_lr(make_model(), x, y, batch_size=0)
    with pytest.raises(ConfigError, match="same length"):
        find_lr(make_model(), x, y[:10])
    with pytest.raises(ConfigError, match="steps"):
        find_lr(make_model(), x, y, steps=3)


# -- a schedule under JAX's jit: one compiled train step for the whole sweep ------------------

JIT_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    import keras
    from keras import ops
    from lrkit import schedules as S
    from lrkit.integrations.keras import KerasSchedule, find_lr

    rng = np.random.default_rng(0)
    x = rng.normal(size=(256, 6)).astype("float32")
    y = np.tanh(x.sum(1, keepdims=True)).astype("float32")
    model = keras.Sequential(
        [keras.Input((6,)), keras.layers.Dense(16, activation="tanh"), keras.layers.Dense(1)]
    )
    model.set_weights([rng.normal(size=w.shape).astype("float32") * 0.3 for w in model.weights])
    sched = KerasSchedule(S.cosine(lr=1e-2, steps=100))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=sched), loss="mse")
    model.fit(x, y, batch_size=32, epochs=1, verbose=0, shuffle=False)  # a used optimizer
    traces = [0]
    step = model.train_step

    def counting(*args):
        traces[0] += 1  # Python runs once per trace under jit, once per call eagerly
        return step(*args)

    model.train_step = counting
    builds = [0]
    make = model.make_train_function

    def counting_builds(force=False):
        builds[0] += bool(force)  # train_on_batch calls it unforced (a no-op when built)
        return make(force=force)

    model.make_train_function = counting_builds
    n_vars = len(model.optimizer.variables)
    before = [np.array(ops.convert_to_numpy(v)) for v in model.variables + model.optimizer.variables]
    res = find_lr(model, x, y, batch_size=32, start_lr=1e-5, end_lr=10.0, steps=40, seed=0)
    after = [np.array(ops.convert_to_numpy(v)) for v in model.variables + model.optimizer.variables]
    print(json.dumps({
        "backend": keras.backend.backend(),
        "traces": traces[0],
        "builds": builds[0],
        "losses": list(map(float, res.losses)),
        "lrs": list(map(float, res.lrs)),
        "suggestion": res.suggestion,
        "restored": all(np.array_equal(a, b) for a, b in zip(before, after))
        and model.optimizer._learning_rate is sched
        and len(model.optimizer.variables) == n_vars,
    }))
    """
)


def test_schedule_under_jax_jit_compiles_once_and_matches_torch() -> None:
    runs = {}
    for backend in ("jax", "torch"):
        if importlib.util.find_spec(backend) is None:
            pytest.skip(f"the {backend} backend is not installed")
        env = {**os.environ, "KERAS_BACKEND": backend, "JAX_PLATFORMS": "cpu"}
        runs[backend] = subprocess.Popen(
            [sys.executable, "-W", "ignore", "-c", JIT_SCRIPT],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    out = {}
    for backend, proc in runs.items():
        stdout, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 0, stderr[-3000:]
        out[backend] = json.loads(stdout.strip().splitlines()[-1])
    jax_run, torch_run = out["jax"], out["torch"]
    assert jax_run["backend"] == "jax" and torch_run["backend"] == "torch"
    assert jax_run["restored"] and torch_run["restored"]
    # one train step built and traced for the sweep (before: rebuilt at each of the 40 steps),
    # plus the rebuild at the restore
    assert jax_run["traces"] == 1 and jax_run["builds"] <= 2
    assert torch_run["traces"] == len(torch_run["losses"])  # eager: one call per step
    n = min(len(jax_run["losses"]), len(torch_run["losses"]))
    assert n >= 20
    assert jax_run["lrs"][:n] == pytest.approx(torch_run["lrs"][:n], rel=1e-12)
    assert jax_run["losses"][: n - 3] == pytest.approx(torch_run["losses"][: n - 3], rel=1e-3)
    one_step = (10.0 / 1e-5) ** (1 / 39)  # the sweep's resolution
    ratio = jax_run["suggestion"] / torch_run["suggestion"]
    assert 1 / one_step - 1e-9 <= ratio <= one_step + 1e-9
