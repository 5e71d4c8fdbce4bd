"""GuardPolicy (src/lrkit/control/_guard.py); lives here because tests/control is not ours."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from lrkit.control._guard import GuardPolicy
from lrkit.errors import ConfigError


def _noisy(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    k = np.arange(n)
    return (0.1 + 2.2 * np.exp(-k / 300)) * np.exp(rng.normal(0, 0.3, n))


def test_noise_alone_never_rolls_back() -> None:
    g = GuardPolicy()
    kinds = [g.update(k, v).kind for k, v in enumerate(_noisy(3000))]
    assert "rollback" not in kinds and "stop" not in kinds
    assert kinds.count("checkpoint") >= 25  # every 100 steps once warm


def test_spike_rolls_back_to_last_checkpoint_and_cuts_lr() -> None:
    g = GuardPolicy(patience=3)
    losses = _noisy(600)
    actions = []
    for k, v in enumerate(losses):
        if 450 <= k < 460:
            v = 30.0
        a = g.update(k, v)
        actions.append(a)
        if a.kind == "rollback":
            break
    a = actions[-1]
    assert a.kind == "rollback" and a.step == 452  # third consecutive spike
    assert a.restore_step == 399 and a.scale == 0.5
    assert "× the recent median" in a.reason


def test_nan_rolls_back_then_stops_after_max_rollbacks() -> None:
    g = GuardPolicy(max_rollbacks=2, warmup=0, checkpoint_every=10)
    for k in range(20):
        g.update(k, 1.0)
    kinds = [g.update(20, math.nan).kind for _ in range(3)]
    assert kinds == ["rollback", "rollback", "stop"]
    assert g.scale == 0.25


def test_nan_before_any_checkpoint_stops() -> None:
    a = GuardPolicy().update(0, math.inf)
    assert a.kind == "stop" and "no good checkpoint yet" in a.reason


def test_no_checkpoint_while_spiking() -> None:
    g = GuardPolicy(window=20, warmup=0, checkpoint_every=10, patience=5)
    for k in range(30):
        g.update(k, 1.0 + 0.01 * (k % 2))
    kinds = []
    for k in range(30, 40):
        kinds.append(g.update(k, 50.0 if k == 35 else 1.0).kind)
    assert "checkpoint" not in kinds  # the period holding a spike is not a good state


def test_state_dict_round_trip() -> None:
    g = GuardPolicy(warmup=0, checkpoint_every=5)
    for k, v in enumerate(_noisy(50)):
        g.update(k, v)
    g.update(50, math.nan)
    state = json.loads(json.dumps(g.state_dict()))
    h = GuardPolicy(warmup=0, checkpoint_every=5)
    h.load_state_dict(state)
    assert h.state_dict() == g.state_dict()
    assert [h.update(51 + i, 1.0).kind for i in range(10)] == [
        g.update(51 + i, 1.0).kind for i in range(10)
    ]


@pytest.mark.parametrize(
    "kw", [{"window": 2}, {"lr_factor": 1.0}, {"spike_z": -1}, {"patience": 0}, {"min_scale": 1}]
)
def test_bad_arguments(kw: dict) -> None:
    with pytest.raises(ConfigError, match=next(iter(kw))):
        GuardPolicy(**kw)
