"""``lrkit.integrations.keras.find_lr`` on a compiled Keras 3 model (this process's backend)."""

from __future__ import annotations

import os

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
