"""``lrkit.integrations.keras.GuardCallback``: fault injection on digits under ``model.fit``
(NaN batch, ×1000 LR spike) on the PyTorch and JAX backends, exact rollback, LR cuts, giving up.

Keras fixes its backend at import: the fault-injection runs go to fresh interpreters, one per
backend, started together; the mechanics run in this process (``KERAS_BACKEND``, torch here).
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
pytest.importorskip(os.environ["KERAS_BACKEND"], reason="the Keras backend is not installed")
keras = pytest.importorskip("keras", reason="keras is not installed (pip install 'lrkit[keras]')")

from lrkit import schedules as S  # noqa: E402
from lrkit.control import GuardPolicy  # noqa: E402
from lrkit.errors import ConfigError, GuardError  # noqa: E402
from lrkit.integrations.keras import GuardCallback, KerasSchedule  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")

FAULT_SCRIPT = textwrap.dedent(
    r"""
    import json, math, os, sys
    import numpy as np
    import keras
    from lrkit import schedules as S
    from lrkit.integrations.keras import GuardCallback, KerasSchedule
    from lrkit.tasks._data import digits_arrays

    EPOCHS, LR, BS, K = 10, 1e-2, 64, 70
    x, y, xv, yv = digits_arrays()
    STEPS = EPOCHS * math.ceil(len(x) / BS)

    class Batches(keras.utils.PyDataset):
        # seeded shuffling per epoch; fault "nan" makes global batch K all-NaN. The epoch comes
        # from a callback: Keras calls PyDataset.on_epoch_end at other times too
        def __init__(self, seed, fault):
            super().__init__()
            self.seed, self.fault, self.epoch = seed, fault, 0
        def __len__(self):
            return math.ceil(len(x) / BS)
        def __getitem__(self, i):
            perm = np.random.default_rng([self.seed, self.epoch]).permutation(len(x))
            idx = perm[i * BS:(i + 1) * BS]
            xb = x[idx]
            if self.fault == "nan" and self.epoch * len(self) + i == K:
                xb = xb * np.float32("nan")
            return xb, y[idx]

    class Epoch(keras.callbacks.Callback):
        def __init__(self, data):
            super().__init__()
            self.data = data
        def on_epoch_begin(self, epoch, logs=None):
            self.data.epoch = epoch

    class LRFault(keras.callbacks.Callback):
        # the schedule's LR is x1000 for updates K..K+2 (counted in batches: data time)
        def __init__(self):
            super().__init__()
            self.k = 0
        def on_train_batch_begin(self, batch, logs=None):
            sched = self.model.optimizer._learning_rate
            want = 1000.0 if K <= self.k < K + 3 else 1.0
            if sched.scale != want:
                sched.scale = want
                self.model.make_train_function(force=True)
            self.k += 1

    def run(seed, fault, guarded):
        keras.utils.set_random_seed(seed)
        model = keras.Sequential([keras.Input((64,)), keras.layers.Dense(128, activation="relu"),
                                  keras.layers.Dense(10)])
        sched = KerasSchedule(S.cosine(lr=LR, steps=STEPS))
        model.compile(optimizer=keras.optimizers.Adam(learning_rate=sched),
                      loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        data = Batches(seed, fault)
        callbacks = [Epoch(data)] + ([LRFault()] if fault == "lr" else [])
        guard = GuardCallback(snapshot_every=25, log=False) if guarded else None
        if guard is not None:
            callbacks.append(guard)
        model.fit(data, epochs=EPOCHS, shuffle=False, verbose=0,
                  callbacks=callbacks)
        logits = np.asarray(model.predict(xv, verbose=0))
        logits = np.where(np.isfinite(logits), logits, 0.0)
        out = {"acc": float((logits.argmax(1) == yv).mean()),
               "iterations": int(model.optimizer.iterations), "guard_scale": sched.guard_scale}
        if guard is not None:
            out["guard"] = guard.to_dict()
        return out

    report = {"backend": keras.backend.backend(), "clean": run(0, None, False)}
    for fault in ("nan", "lr"):
        report[fault] = {"unguarded": run(0, fault, False), "guarded": run(0, fault, True)}
    print(json.dumps(report))
    """
)

BACKENDS = ["torch", "jax"]


@pytest.fixture(scope="module")
def fault_runs():
    procs = {}
    for backend in BACKENDS:
        if importlib.util.find_spec(backend) is None:
            continue
        env = {
            **os.environ,
            "KERAS_BACKEND": backend,
            "JAX_PLATFORMS": "cpu",
            # tiny matmuls: thread pools cost more than they save on a shared 2-core box
            "OMP_NUM_THREADS": "1",
            "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
        }
        procs[backend] = subprocess.Popen(
            [sys.executable, "-c", FAULT_SCRIPT],
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
    return {b: (*p.communicate(timeout=600), p.returncode) for b, p in procs.items()}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("fault", ["nan", "lr"])
def test_guarded_faulty_fit_matches_clean_fit(fault_runs, backend, fault):
    if backend not in fault_runs:
        pytest.skip(f"the {backend} backend is not installed (pip install {backend})")
    out, err, code = fault_runs[backend]
    assert code == 0, err[-4000:]
    report = json.loads(out.strip().splitlines()[-1])
    assert report["backend"] == backend
    clean = report["clean"]["acc"]
    assert clean > 0.95
    unguarded, guarded = report[fault]["unguarded"], report[fault]["guarded"]
    assert unguarded["acc"] < clean - 0.2, (unguarded, clean)  # the fault is real
    assert abs(guarded["acc"] - clean) <= 0.01, (guarded["acc"], clean)
    g = guarded["guard"]
    rollbacks = [e for e in g["events"] if e["kind"] == "rollback"]
    assert len(rollbacks) == 1 and rollbacks[0]["step"] >= 70, g["events"]
    assert rollbacks[0]["restore_step"] <= 70
    assert rollbacks[0]["scale"] == 0.5
    # Keras cannot skip a bad batch (already applied): it rolls back and cuts, then gives the
    # cut back after recover_after (100) clean steps
    recoveries = [e for e in g["events"] if e["kind"] == "recover"]
    assert len(recoveries) == 1 and recoveries[0]["step"] >= rollbacks[0]["step"] + 100
    assert g["scale"] == guarded["guard_scale"] == 1.0
    # iterations went back with the state: fewer updates than batches seen
    assert guarded["iterations"] < report["clean"]["iterations"] == 220


# -- mechanics in this process -------------------------------------------------------------


def model_and_data(lr, n=64):
    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=lr), loss="mse")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 4)).astype("float32")
    return model, x, x.sum(1, keepdims=True)


class Poison(keras.callbacks.Callback):
    """Make the weights NaN at the end of the given global batches (the next loss is NaN)."""

    def __init__(self, at):
        super().__init__()
        self.at, self.k, self.seen = set(at), 0, {}

    def on_train_batch_end(self, batch, logs=None):
        self.seen[self.k] = [w.copy() for w in self.model.get_weights()]
        if self.k in self.at:
            self.model.set_weights([w * np.float32("nan") for w in self.model.get_weights()])
        self.k += 1


def policy(**kw):
    return GuardPolicy(**{"warmup": 0, "checkpoint_every": 2, "patience": 1, "window": 5, **kw})


def test_rollback_restores_the_trusted_snapshot_and_cuts_a_float_lr():
    model, x, y = model_and_data(0.01)
    poison = Poison(at=[5])
    guard = GuardCallback(policy=policy(), log=False)
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0, callbacks=[poison, guard])
    rb = [e for e in guard.events if e.kind == "rollback"]
    # batch 6's loss is NaN; the snapshot requested after batch 3 (state before batch 4) was
    # confirmed by batch 4's loss; the one requested after batch 5 was never trusted
    assert len(rb) == 1 and rb[0].step == 6 and rb[0].restore_step == 4
    assert float(model.optimizer.learning_rate) == pytest.approx(0.005)
    assert guard.scale == 0.5 and guard.rollbacks == 1
    assert all(np.isfinite(w).all() for w in model.get_weights())
    # 8 batches, 2 undone (4 and 5), and batch 6's NaN update undone too
    assert int(model.optimizer.iterations) == 5
    json.dumps(guard.to_dict())


def test_a_cut_float_lr_is_given_back_after_recover_after_clean_steps():
    model, x, y = model_and_data(0.01)
    guard = GuardCallback(policy=policy(recover_after=3), log=False)
    model.fit(
        x, y, batch_size=8, epochs=2, shuffle=False, verbose=0, callbacks=[Poison([5]), guard]
    )
    kinds = [e.kind for e in guard.events if e.kind in ("rollback", "recover")]
    assert kinds == ["rollback", "recover"]
    assert guard.scale == 1.0 and guard.to_dict()["recoveries"] == 1
    assert float(model.optimizer.learning_rate) == pytest.approx(0.01)


def test_restored_weights_equal_the_snapshot():
    model, x, y = model_and_data(0.01)
    poison = Poison(at=[5])
    guard = GuardCallback(policy=policy(), log=False)

    class After(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if batch == 6:
                self.w = [w.copy() for w in self.model.get_weights()]

    after = After()
    model.fit(
        x, y, batch_size=8, epochs=1, shuffle=False, verbose=0, callbacks=[poison, guard, after]
    )
    for a, b in zip(after.w, poison.seen[3], strict=True):  # the state after batch 3
        np.testing.assert_array_equal(a, b)


def test_lr_cut_goes_through_a_keras_schedule_guard_scale():
    s = S.constant(0.01)
    model, x, y = model_and_data(KerasSchedule(s))
    guard = GuardCallback(policy=policy(), log=False)
    model.fit(
        x, y, batch_size=8, epochs=1, shuffle=False, verbose=0, callbacks=[Poison([3]), guard]
    )
    lr = model.optimizer._learning_rate
    assert lr.guard_scale == 0.5 and lr.scale == 1.0
    assert float(lr(0)) == pytest.approx(0.005)
    assert KerasSchedule.from_config(lr.get_config()).guard_scale == 0.5
    assert "guard_scale=0.5" in repr(lr)


def test_gives_up_with_guard_error():
    model, x, y = model_and_data(0.01)
    guard = GuardCallback(policy=policy(max_rollbacks=2), log=False)
    with pytest.raises(GuardError, match="after 2 rollbacks") as info:
        model.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=[Poison(range(3, 99)), guard])
    assert info.value.rollbacks == 2 and math.isnan(info.value.loss)


def test_differenced_loss_is_the_batch_loss():
    model, x, y = model_and_data(0.0)  # no learning: every batch loss is known in advance
    pred = model.predict(x, verbose=0)
    expected = [float(((pred - y)[i : i + 8] ** 2).mean()) for i in range(0, 64, 8)]
    seen: list[float] = []
    guard = GuardCallback(policy=policy(), log=False)
    orig = guard.policy.update
    guard.policy.update = lambda step, loss: (seen.append(loss), orig(step, loss))[1]
    model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0, callbacks=[guard])
    np.testing.assert_allclose(seen, expected, rtol=1e-4)


def test_validation():
    with pytest.raises(ConfigError, match="max_snapshots"):
        GuardCallback(max_snapshots=0)
    with pytest.raises(ConfigError, match="snapshot_every"):
        GuardCallback(snapshot_every=-1)
    with pytest.raises(ConfigError, match="guard_scale"):
        KerasSchedule(S.constant(0.1), guard_scale=0.0)
    model, x, y = model_and_data(keras.optimizers.schedules.ExponentialDecay(0.1, 10, 0.5))
    with pytest.raises(ConfigError, match="KerasSchedule"):
        model.fit(x, y, epochs=1, verbose=0, callbacks=[GuardCallback(log=False)])
