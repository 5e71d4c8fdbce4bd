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


# -- skip_first: a bad batch is not a bad LR ------------------------------------------------


def _warm(**kw) -> GuardPolicy:
    g = GuardPolicy(**{"warmup": 0, "checkpoint_every": 10, "window": 10, **kw})
    for k in range(20):
        g.update(k, 1.0 + 0.01 * (k % 3))
    return g


def test_first_skippable_nan_is_skipped_without_rollback_or_cut() -> None:
    g = _warm()
    a = g.update(20, math.nan, skippable=True)
    assert a.kind == "continue" and "nan" in a.reason and a.scale == 1.0
    assert g.rollbacks == [] and g.scale == 1.0
    # clean losses after it: nothing more happens; a NaN patience (3) reports later is again
    # a first one
    assert [g.update(k, 1.0).kind for k in range(21, 25)] == ["continue"] * 4
    assert g.update(25, math.inf, skippable=True).kind == "continue" and g.scale == 1.0


def test_a_second_bad_loss_within_patience_rolls_back_and_cuts() -> None:
    g = _warm(patience=3)
    assert g.update(20, math.nan, skippable=True).kind == "continue"
    assert g.update(21, 1.0).kind == "continue"
    a = g.update(22, math.nan, skippable=True)  # 2 reports later: an LR problem
    assert a.kind == "rollback" and a.scale == 0.5 and a.restore_step == 19


def test_a_blown_up_model_spiking_after_a_skipped_nan_rolls_back() -> None:
    # the ×1000 LR fault: NaN, then huge finite losses on consecutive batches
    g = _warm(patience=3)
    kinds = [g.update(20 + i, v, skippable=True).kind for i, v in enumerate([math.nan, 1e3, 1e3])]
    assert kinds == ["continue", "continue", "rollback"]  # the NaN counts toward patience
    assert g.scale == 0.5


def test_a_nan_after_a_spike_rolls_back_at_once() -> None:
    g = _warm(patience=3)
    assert g.update(20, 1e3, skippable=True).kind == "continue"  # spike (waiting)
    assert g.update(21, math.nan, skippable=True).kind == "rollback"


def test_not_skippable_or_skip_first_off_rolls_back_on_the_first_nan() -> None:
    assert _warm().update(20, math.nan).kind == "rollback"  # e.g. Keras: already applied
    assert _warm(skip_first=False).update(20, math.nan, skippable=True).kind == "rollback"


# -- recover_after: cuts are given back -------------------------------------------------------


def _cut(**kw) -> GuardPolicy:
    g = _warm(**kw)
    assert g.update(20, math.nan).kind == "rollback" and g.scale == 0.5
    return g


def test_cut_is_given_back_after_recover_after_clean_steps() -> None:
    g = _cut(recover_after=15, checkpoint_every=7)
    kinds = [g.update(k, 1.0).kind for k in range(21, 60)]
    assert kinds.count("recover") == 1
    i = kinds.index("recover")
    a = g.update(60, 1.0)
    assert g.scale == 1.0 and a.scale == 1.0 and g.recoveries == 1
    # 15 clean steps, but a checkpoint on the 15th (seen = 35, a multiple of 7) defers it by one
    assert i + 1 == 16


def test_recovery_goes_back_one_cut_at_a_time_and_spikes_do_not_count() -> None:
    g = _cut(recover_after=5, checkpoint_every=20)
    g.update(21, math.nan)  # a second cut: 0.25
    assert g.scale == 0.25
    seq = [1.0, 1.0, 50.0, 1.0, 1.0, 1.0] + [1.0] * 5  # a waiting spike is not a clean step
    out = [(g.update(30 + i, v).kind, g.scale) for i, v in enumerate(seq)]
    assert out[5] == ("recover", 0.5) and all(k != "recover" for k, _ in out[:5])
    assert out[10] == ("recover", 1.0)
    assert [g.update(50 + i, 1.0).kind for i in range(20)].count("recover") == 0  # capped at 1


def test_a_scale_that_fails_again_right_after_recovery_stays_cut() -> None:
    g = _cut(recover_after=5, checkpoint_every=20)
    kinds = [g.update(30 + i, 1.0).kind for i in range(5)]
    assert kinds[-1] == "recover" and g.scale == 1.0
    g.update(35, 1.0)
    assert g.update(36, math.nan).kind == "rollback" and g.scale == 0.5  # failed again soon
    assert [g.update(40 + i, 1.0).kind for i in range(30)].count("recover") == 0
    assert g.ceiling == 0.5


def test_recover_after_none_keeps_the_cut() -> None:
    g = _cut(recover_after=None)
    assert [g.update(k, 1.0).kind for k in range(21, 500)].count("recover") == 0
    assert g.scale == 0.5


def test_new_state_round_trips_and_old_states_load() -> None:
    g = _cut(recover_after=5)
    g.update(21, math.nan, skippable=True)
    state = json.loads(json.dumps(g.state_dict()))
    h = GuardPolicy(warmup=0, checkpoint_every=10, window=10, recover_after=5)
    h.load_state_dict(state)
    assert h.state_dict() == g.state_dict()
    old = {k: v for k, v in state.items() if k not in ("reports", "last_bad", "ceiling")}
    h.load_state_dict(old)
    assert h.ceiling == 1.0 and h.last_bad is None


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_bad_recover_after(bad: object) -> None:
    with pytest.raises(ConfigError, match="recover_after"):
        GuardPolicy(recover_after=bad)  # type: ignore[arg-type]
