"""optax adapter: jit-ability of every schedule, parity with optax's schedules, the contract."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest

jax = pytest.importorskip("jax", reason="jax is not installed (pip install 'lrkit[jax]')")
optax = pytest.importorskip("optax", reason="optax is not installed (pip install 'lrkit[jax]')")
import jax.numpy as jnp  # noqa: E402

from lrkit import schedules as S  # noqa: E402
from lrkit.errors import ConfigError  # noqa: E402
from lrkit.integrations.optax import to_optax  # noqa: E402
from lrkit.testing._integration import (  # noqa: E402
    check_adapter,
    check_lrs,
    check_missing_dependency,
    every_schedule,
)

# float32 against NumPy's float64: relative 2e-6, plus 1e-5 of the peak near zero crossings
F32 = {"rtol": 2e-6, "atol": 1e-5}

ALL = every_schedule()
KS = np.arange(0, 260)


def f32_tolerance(schedule):
    """float32 tolerance against NumPy: a few ulps of the step count and of the peak.

    polynomial with power < 1 is ill-conditioned at its end (d/dx x**p is unbounded at 0): XLA
    computes ``min(k, steps) / steps`` as a product with ``1/steps``, which lands 6e-8 off 1 and
    ``(6e-8) ** 0.5`` is 2.4e-4 — so it gets that much slack.
    """
    if schedule.name == "polynomial" and schedule.power < 1.0:
        return {"rtol": 2e-6, "atol": 3e-4}
    return {"rtol": 2e-6, "atol": 1e-5}


def test_every_schedule_traces_and_matches_numpy_under_jit():
    fns = [to_optax(s) for s in ALL]
    for s, fn in zip(ALL, fns, strict=True):
        jax.make_jaxpr(fn)(jnp.int32(0))  # raises on a Python branch on the step
        assert fn(jnp.int32(3)).shape == ()
        assert float(fn(7)) == pytest.approx(s(7), rel=2e-6, abs=1e-5 * max(s(np.arange(8))))
    stacked = jax.jit(lambda ks: jnp.stack([fn(ks) for fn in fns]))(jnp.asarray(KS))
    assert stacked.dtype == jnp.float32
    for s, got in zip(ALL, np.asarray(stacked), strict=True):
        check_lrs(s, got, **f32_tolerance(s), what="jit, float32")


def test_float64_is_exact_under_x64():
    # x64 is a process-wide switch: check it in a fresh interpreter
    code = textwrap.dedent(
        """
        import json, jax, numpy as np
        jax.config.update("jax_enable_x64", True)
        import jax.numpy as jnp
        from lrkit.integrations.optax import to_optax
        import test_optax as t
        ks = np.arange(0, 260)
        worst = 0.0
        for s in t.ALL:
            got = np.asarray(jax.vmap(jax.jit(to_optax(s)))(jnp.asarray(ks)))
            assert got.dtype == np.float64, got.dtype
            ref = s(ks)
            worst = max(worst, float(np.max(np.abs(got - ref) / np.maximum(np.abs(ref).max(), 1e-300))))
        print(json.dumps(worst))
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=__file__.rsplit("/", 1)[0],
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert json.loads(out.stdout.strip().splitlines()[-1]) <= 1e-12


def test_rejects_non_schedules():
    with pytest.raises(ConfigError, match="lrkit Schedule"):
        to_optax(lambda k: 0.1)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="float dtype"):
        to_optax(S.constant(0.1), dtype="int32")


# -- parity with optax's own schedules, where they coincide ---------------------------------

PARITY = [
    (optax.constant_schedule(0.1), S.constant(0.1)),
    (optax.linear_schedule(1.0, 0.1, 50), S.linear(1.0, end=0.1, steps=50)),
    (optax.cosine_decay_schedule(0.1, 80, alpha=0.1), S.cosine(lr=0.1, steps=80, min_lr=0.01)),
    (optax.exponential_decay(0.1, 10, 0.5), S.exponential(lr=0.1, rate=0.5, steps=10)),
    (
        optax.exponential_decay(0.1, 10, 0.5, staircase=True, end_value=0.01),
        S.exponential(lr=0.1, rate=0.5, steps=10, staircase=True, min_lr=0.01),
    ),
    (
        optax.polynomial_schedule(0.1, 0.01, power=2.0, transition_steps=60),
        S.polynomial(lr=0.1, steps=60, end=0.01, power=2.0),
    ),
    # multiplicative scales: values are the running products 0.1, 0.05, 0.005
    (
        optax.piecewise_constant_schedule(0.1, {30: 0.5, 90: 0.1}),
        S.piecewise(boundaries=[30, 90], values=[0.1, 0.05, 0.005]),
    ),
    (
        optax.piecewise_constant_schedule(0.1, {30: 0.5, 90: 0.5}),
        S.multistep(lr=0.1, milestones=[30, 90], gamma=0.5),
    ),
    # decay_steps *include* the warmup in optax
    (
        optax.warmup_cosine_decay_schedule(0.0, 0.1, 10, 100, end_value=0.001),
        S.warmup(S.cosine(lr=0.1, steps=90, min_lr=0.001), steps=10, zero_first=True),
    ),
    (
        optax.warmup_cosine_decay_schedule(0.01, 0.1, 10, 100),
        S.join([S.linear(0.01, end=0.1, steps=10), S.cosine(lr=0.1, steps=90)], boundaries=[10]),
    ),
    (
        optax.join_schedules(
            [optax.linear_schedule(0.0, 0.1, 5), optax.cosine_decay_schedule(0.1, 40)], [5]
        ),
        S.join([S.linear(0.0, end=0.1, steps=5), S.cosine(lr=0.1, steps=40)], boundaries=[5]),
    ),
]


def test_parity_with_optax():
    ks = jnp.asarray(KS)
    ours = jax.jit(lambda k: jnp.stack([to_optax(s)(k) for _, s in PARITY]))(ks)
    theirs = jax.jit(
        lambda k: jnp.stack(
            [jnp.broadcast_to(jnp.asarray(a(k), jnp.float32), k.shape) for a, _ in PARITY]
        )
    )(ks)
    for (_, s), o, a in zip(PARITY, np.asarray(ours), np.asarray(theirs), strict=True):
        peak = float(np.max(np.abs(a)))
        np.testing.assert_allclose(o, a, rtol=2e-6, atol=2e-6 * peak, err_msg=repr(s))
        check_lrs(s, a, rtol=2e-6, atol=1e-5, what="the optax anchor")


def test_adamw_trains_like_the_optax_anchor():
    params = {"w": jnp.linspace(-1.0, 1.0, 5)}

    def loss(p):
        return jnp.sum((p["w"] - 0.3) ** 2)

    def train(lr):
        opt = optax.adamw(learning_rate=lr, weight_decay=1e-2)
        p, state = params, opt.init(params)

        @jax.jit
        def step(p, state):
            g = jax.grad(loss)(p)
            updates, state = opt.update(g, state, p)
            return optax.apply_updates(p, updates), state

        for _ in range(30):
            p, state = step(p, state)
        return np.asarray(p["w"])

    ours = train(to_optax(S.warmup(S.cosine(lr=0.1, steps=20), steps=10, zero_first=True)))
    theirs = train(optax.warmup_cosine_decay_schedule(0.0, 0.1, 10, 30))
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-7)
    assert not np.allclose(ours, np.asarray(params["w"]))


# -- the adapter contract: observe the LR optax applies at each update ------------------------


def run_optax(schedule, steps, *, resume_at=None, ratios=(1.0,)):
    """SGD on w with gradient 1: the update k moves w by exactly -lr_k (checked in float64)."""
    assert tuple(ratios) == (1.0,), "optax has no param groups"

    def build():
        opt = optax.inject_hyperparams(optax.sgd)(learning_rate=to_optax(schedule))
        return opt, jax.jit(lambda g, s: opt.update(g, s))

    opt, update = build()
    state = opt.init(jnp.zeros(()))
    grad = jnp.ones((), dtype=jnp.float32)
    lrs = []
    for k in range(steps):
        if resume_at is not None and k == resume_at:
            blob = pickle.dumps(jax.tree_util.tree_map(np.asarray, state))
            opt, update = build()  # a fresh optimizer, state restored from bytes
            state = jax.tree_util.tree_map(jnp.asarray, pickle.loads(blob))
        delta, state = update(grad, state)
        lrs.append(-float(delta))
    return np.asarray(lrs)


def test_contract():
    check_adapter(run_optax, steps=12, **F32)


def test_contract_fails_on_an_off_by_one():
    # the contract is not vacuous: a schedule shifted by one update is caught at the first one
    def shifted(schedule, steps, **kw):
        return np.asarray(run_optax(schedule, steps + 1, **kw))[1:]

    with pytest.raises(AssertionError, match="first update"):
        check_adapter(shifted, steps=12, **F32)


@pytest.mark.parametrize("blocked", [["jax"], ["optax"]])
def test_missing_framework_raises_dependency_error(blocked):
    msg = check_missing_dependency("lrkit.integrations.optax", blocked, "jax")
    assert blocked[0] in msg


# the README example, verbatim
README = """
import jax
import jax.numpy as jnp
import optax
from lrkit import schedules as S
from lrkit.integrations.optax import to_optax

schedule = S.warmup(S.cosine(lr=1e-3, steps=1000), steps=100)
lr = to_optax(schedule)  # jit-able: the same formula, evaluated with jax.numpy
opt = optax.adamw(learning_rate=lr)
params = {"w": jnp.zeros(3)}
state = opt.init(params)
updates, state = jax.jit(opt.update)({"w": jnp.ones(3)}, state, params)
print(float(lr(100)), schedule(100))  # optax's count 0 is the first update, as in lrkit
"""


def test_readme_example(capsys):
    exec(compile(README, "README-optax", "exec"), {})
    ours, ref = map(float, capsys.readouterr().out.split())
    assert ours == pytest.approx(ref, rel=1e-6) and ref == 1e-3
