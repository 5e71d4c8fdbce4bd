"""Parity with ``transformers``' inverse-sqrt and warmup-stable-decay schedules.

transformers multiplies the base LR by a lambda in float64 Python arithmetic, lrkit evaluates
its own closed form: the operations differ in order, hence ``rtol=1e-9`` rather than equality.
"""

from __future__ import annotations

import numpy as np
import pytest

transformers = pytest.importorskip("transformers")

from lrkit import schedules as S  # noqa: E402

from ._drive import lrkit_lrs, torch_lrs  # noqa: E402

RTOL = 1e-9  # different operation order in transformers' lambdas (see module docstring)
ATOL = 1e-300  # exact zeros at the start of zero-first warmups and the end of decays


@pytest.mark.parametrize(
    ("warmup", "timescale", "lr"),
    [(0, None, 0.1), (0, 7, 0.1), (10, None, 3e-4), (10, 3, 1e-3), (1, None, 0.1), (4, 50, 1.0)],
)
def test_inverse_sqrt(warmup: int, timescale: int | None, lr: float) -> None:
    n = 120
    got = torch_lrs(
        lambda o: transformers.get_inverse_sqrt_schedule(
            o, num_warmup_steps=warmup, timescale=timescale
        ),
        n,
        lr=lr,
    )
    t = timescale if timescale is not None else (warmup or 10_000)
    s = S.inverse_sqrt(lr, timescale=t)
    if warmup:
        s = S.warmup(s, steps=warmup, zero_first=True)
    expected = s(np.arange(n))
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL)
    np.testing.assert_array_equal(lrkit_lrs(s, n, lr=lr), expected)


@pytest.mark.parametrize("decay_shape", ["linear", "cosine", "1-sqrt"])
@pytest.mark.parametrize(
    ("warmup", "decay", "total", "ratio", "warmup_shape"),
    [
        (0, 10, 50, 0.0, "linear"),
        (5, 10, 50, 0.0, "linear"),
        (5, 10, 50, 0.1, "linear"),
        (7, 13, 31, 0.05, "cosine"),
        (1, 1, 3, 0.0, "linear"),
        (10, 40, 50, 0.2, "linear"),
    ],
)
def test_wsd(
    warmup: int, decay: int, total: int, ratio: float, warmup_shape: str, decay_shape: str
) -> None:
    lr = 0.1
    n = total + 6  # past the end transformers holds min_lr_ratio, and so does lrkit
    got = torch_lrs(
        lambda o: transformers.get_wsd_schedule(
            o,
            num_warmup_steps=warmup,
            num_decay_steps=decay,
            num_training_steps=total,
            warmup_type=warmup_shape,
            decay_type=decay_shape,
            min_lr_ratio=ratio,
        ),
        n,
        lr=lr,
    )
    min_lr = ratio * lr
    s = S.wsd(lr, steps=total - warmup, decay_steps=decay, decay_shape=decay_shape, min_lr=min_lr)
    if warmup:
        # the composition the lrkit.schedules.wsd docstring gives for transformers' convention
        s = S.warmup(s, steps=warmup, start=min_lr, zero_first=True, shape=warmup_shape)
    expected = s(np.arange(n))
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL)
    np.testing.assert_array_equal(lrkit_lrs(s, n, lr=lr), expected)
