"""Hypothesis properties: bounds, monotone segments, continuity at joins, held past the horizon."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from lrkit import schedules as S

LR = st.floats(1e-6, 10.0, allow_nan=False, allow_infinity=False)
FRAC = st.floats(0.0, 1.0)
STEPS = st.integers(1, 400)
EXTRA = 50  # steps evaluated past the horizon
SETTINGS = settings(max_examples=40, deadline=None)


def _close(a: float, b: float, scale: float | None = None) -> bool:
    # `lo + (hi - lo) * f` lands within an ulp or two *of the larger end* when f == 1 (the
    # subtraction rounds): PyTorch's closed forms do the same. Endpoints are checked to 4 ulps
    # of the schedule's scale, not of the endpoint itself.
    return abs(a - b) <= 4 * np.spacing(scale if scale is not None else max(abs(a), abs(b)))


def _within(v: np.ndarray, lo: float, hi: float) -> bool:
    tol = 4 * np.spacing(max(abs(lo), abs(hi)))
    return bool(np.all((v >= lo - tol) & (v <= hi + tol)))


def _non_increasing(v: np.ndarray) -> bool:
    return bool(np.all(np.diff(v) <= 0.0))


def _non_decreasing(v: np.ndarray) -> bool:
    return bool(np.all(np.diff(v) >= 0.0))


@SETTINGS
@given(lr=LR, frac=FRAC, steps=STEPS)
def test_cosine(lr: float, frac: float, steps: int) -> None:
    min_lr = lr * frac
    s = S.cosine(lr=lr, steps=steps, min_lr=min_lr)
    v = s.sample(steps + EXTRA)
    assert _close(v[0], lr) and _close(v[steps], min_lr, lr)
    assert _within(v, min_lr, lr)
    assert _non_increasing(v)
    assert np.all(v[steps:] == v[steps])  # held past the horizon (PyTorch's would rise again)


@SETTINGS
@given(start=LR, frac=FRAC, steps=STEPS)
def test_linear(start: float, frac: float, steps: int) -> None:
    end = start * frac
    v = S.linear(start, end=end, steps=steps).sample(steps + EXTRA)
    assert v[0] == start and _close(v[steps], end, start) and np.all(v[steps:] == v[steps])
    assert _within(v, end, start)
    assert _non_increasing(v)
    rising = S.linear(end, end=start, steps=steps).sample(steps + EXTRA)
    assert _non_decreasing(rising) and np.all(rising[steps:] == rising[steps])


@SETTINGS
@given(lr=LR, frac=FRAC, steps=STEPS, power=st.floats(0.1, 5.0))
def test_polynomial(lr: float, frac: float, steps: int, power: float) -> None:
    end = lr * frac
    v = S.polynomial(lr, steps=steps, end=end, power=power).sample(steps + EXTRA)
    assert _close(v[0], lr) and v[steps] == end and np.all(v[steps:] == end)
    assert _within(v, end, lr)
    assert _non_increasing(v)


@SETTINGS
@given(
    lr=LR,
    rate=st.floats(0.01, 0.999),
    steps=st.integers(1, 20),
    staircase=st.booleans(),
    floor=FRAC,
)
def test_exponential_decay(
    lr: float, rate: float, steps: int, staircase: bool, floor: float
) -> None:
    min_lr = lr * floor * 0.5
    v = S.exponential(lr, rate=rate, steps=steps, staircase=staircase, min_lr=min_lr).sample(300)
    assert v[0] == lr
    assert _non_increasing(v)
    assert _within(v, min_lr, lr)


@SETTINGS
@given(lr=LR, step_size=st.integers(1, 20), gamma=st.floats(0.01, 1.0))
def test_step_decay_and_multistep(lr: float, step_size: int, gamma: float) -> None:
    v = S.step_decay(lr, step_size=step_size, gamma=gamma).sample(200)
    assert _non_increasing(v) and v[0] == lr
    milestones = list(range(0, 200, step_size))[1:]
    # multistep with evenly spaced milestones is step decay, value for value
    np.testing.assert_allclose(
        S.multistep(lr, milestones=milestones, gamma=gamma).sample(200), v, rtol=1e-12
    )


@SETTINGS
@given(lr=LR, timescale=st.integers(1, 1000), rate=st.floats(0.0, 10.0))
def test_inverse_decays(lr: float, timescale: int, rate: float) -> None:
    for s in (S.inverse_sqrt(lr, timescale=timescale), S.inverse_time(lr, rate=rate)):
        v = s.sample(500)
        assert v[0] == lr and _non_increasing(v) and np.all(v > 0)


@SETTINGS
@given(lr=LR, frac=FRAC, steps=STEPS)
def test_tanh_decay(lr: float, frac: float, steps: int) -> None:
    min_lr = lr * frac
    v = S.tanh_decay(lr, steps=steps, min_lr=min_lr).sample(steps + EXTRA)
    assert _within(v, min_lr, lr) and _non_increasing(v)
    assert np.all(v[steps:] == v[steps])


@SETTINGS
@given(
    lr=LR,
    period=st.integers(1, 30),
    mult=st.sampled_from([1.0, 1.5, 2.0, 3.0]),
    decay=st.floats(0.1, 1.0),
    frac=FRAC,
)
def test_cosine_restarts(lr: float, period: int, mult: float, decay: float, frac: float) -> None:
    min_lr = lr * frac
    s = S.cosine_restarts(lr, period=period, mult=mult, decay=decay, min_lr=min_lr)
    v = s.sample(400)
    assert _close(v[0], lr)
    assert _within(v, min_lr, lr)
    # within a cycle the LR falls; it only rises at a restart
    rises = np.flatnonzero(np.diff(v) > 0) + 1
    if mult == 1.0:
        assert set(rises.tolist()) <= set(range(period, 400, period))


@SETTINGS
@given(
    base=LR,
    extra=st.floats(0.0, 10.0),
    up=st.integers(1, 20),
    down=st.one_of(st.none(), st.integers(1, 20)),
    mode=st.sampled_from(["triangular", "triangular2", "exp_range"]),
    gamma=st.floats(0.9, 1.0),
)
def test_cyclic_bounds(
    base: float, extra: float, up: int, down: int | None, mode: str, gamma: float
) -> None:
    top = base + extra
    s = S.cyclic(base, max_lr=top, step_size_up=up, step_size_down=down, mode=mode, gamma=gamma)
    v = s.sample(300)
    assert v[0] == base
    assert _within(v, base, top)
    if mode == "triangular":
        assert _close(s(up), top)  # the peak is reached after step_size_up updates


@SETTINGS
@given(
    max_lr=LR,
    steps=st.integers(4, 500),
    pct=st.floats(0.02, 0.98),
    div=st.floats(1.0, 100.0),
    fdiv=st.floats(1.0, 1e4),
    anneal=st.sampled_from(["cos", "linear"]),
    three=st.booleans(),
)
def test_one_cycle(
    max_lr: float, steps: int, pct: float, div: float, fdiv: float, anneal: str, three: bool
) -> None:
    try:
        s = S.one_cycle(
            max_lr,
            steps=steps,
            pct_start=pct,
            div_factor=div,
            final_div_factor=fdiv,
            anneal=anneal,
            three_phase=three,
        )
    except ValueError:
        return  # a phase without updates: rejected at construction, covered elsewhere
    initial = max_lr / div
    final = initial / fdiv
    v = s.sample(steps + EXTRA)
    assert _close(v[0], initial, max_lr)
    assert _within(v, final, max_lr)
    assert np.all(v[steps - 1 :] == v[steps - 1])  # held after the last update
    assert _close(v[steps - 1], final, max_lr)
    peak = int(np.argmax(v))
    if not three:
        assert _non_decreasing(v[: peak + 1]) and _non_increasing(v[peak:])


@SETTINGS
@given(
    lr=LR,
    steps=st.integers(2, 300),
    data=st.data(),
    shape=st.sampled_from(["1-sqrt", "linear", "cosine"]),
    frac=FRAC,
)
def test_wsd(lr: float, steps: int, data: st.DataObject, shape: str, frac: float) -> None:
    decay = data.draw(st.integers(1, steps))
    warm = data.draw(st.integers(0, steps - decay))
    min_lr = lr * frac
    s = S.wsd(
        lr, steps=steps, decay_steps=decay, warmup_steps=warm, decay_shape=shape, min_lr=min_lr
    )
    v = s.sample(steps + EXTRA)
    assert _within(v, 0.0, lr) and _within(v[warm:], min_lr, lr)
    assert _non_decreasing(v[: warm + 1]) and _non_increasing(v[warm:])
    stable = v[warm : steps - decay + 1]
    assert np.all(stable == stable[0]) and _close(stable[0], lr)  # the stable phase
    assert _close(v[steps], min_lr, lr) and np.all(v[steps:] == v[steps])  # held past the horizon


INNER = st.one_of(
    st.builds(S.cosine, lr=LR, steps=STEPS),
    st.builds(S.constant, lr=LR),
    st.builds(S.inverse_sqrt, lr=LR, timescale=st.integers(1, 100)),
    st.builds(S.one_cycle, max_lr=LR, steps=st.integers(10, 100)),
)


@SETTINGS
@given(
    inner=INNER,
    steps=st.integers(1, 100),
    start_frac=FRAC,
    shape=st.sampled_from(["linear", "cosine", "exponential"]),
    zero_first=st.booleans(),
)
def test_warmup_ramp(
    inner: S.Schedule, steps: int, start_frac: float, shape: str, zero_first: bool
) -> None:
    target = inner(0)
    start = target * start_frac
    if shape == "exponential":
        start = max(start, target * 1e-3)
    s = S.warmup(inner, steps=steps, start=start, shape=shape, zero_first=zero_first)
    ramp = s.sample(steps)
    assert _non_decreasing(ramp), "the warmup ramp must not fall"
    rel = 1e-12 if shape == "exponential" else 0.0  # start * (v/start)**f rounds
    assert np.all(ramp >= start * (1 - rel)) and np.all(ramp <= target * (1 + rel))
    if zero_first:
        assert ramp[0] == start
    elif shape != "exponential":
        # no update wasted at the start LR (unless start and target are equal up to rounding)
        assert ramp[0] > start or math.isclose(target, start, rel_tol=1e-12)
    # continuity at the join: the ramp's last value stays at or below s_inner(0), which
    # follows immediately
    assert ramp[-1] <= target * (1 + rel)
    assert s(steps) == target
    np.testing.assert_array_equal(s.sample(steps + 30)[steps:], inner.sample(30))


@SETTINGS
@given(
    a=INNER,
    b=INNER,
    boundary=st.integers(1, 200),
    factor=st.floats(0.0, 4.0),
    lo=FRAC,
    hi=st.floats(1.0, 2.0),
)
def test_join_scale_clip(
    a: S.Schedule, b: S.Schedule, boundary: int, factor: float, lo: float, hi: float
) -> None:
    j = S.join([a, b], boundaries=[boundary])
    ks = np.arange(boundary + 50)
    expected = np.where(ks < boundary, a(ks), b(np.maximum(ks - boundary, 0)))
    np.testing.assert_array_equal(j(ks), expected)
    sc = S.scale(j, factor=factor)
    np.testing.assert_array_equal(sc(ks), factor * j(ks))
    low, high = lo * a(0), hi * a(0)
    c = S.clip(sc, min_lr=low, max_lr=high)
    v = c(ks)
    assert np.all((v >= low) & (v <= high))  # clip is exact: max/min, no arithmetic
