from __future__ import annotations

import pytest

from lrkit.errors import ConfigError
from lrkit.study import SCHEDULES
from lrkit.study._schedules import build_schedule, check_schedules, plateau_patience


@pytest.mark.parametrize("name", SCHEDULES)
def test_every_schedule_peaks_at_lr(name: str) -> None:
    s = build_schedule(name, 0.1, 100)
    values = [s(k) for k in range(100)]
    assert max(values) == pytest.approx(0.1)
    assert min(values) >= 0.0


def test_schedule_shapes() -> None:
    step = build_schedule("step", 1.0, 100)
    assert (step(49), step(50), step(74), step(75)) == pytest.approx((1.0, 0.1, 0.1, 0.01))
    expo = build_schedule("exponential", 1.0, 100)
    assert expo(99) == pytest.approx(0.01)
    assert build_schedule("cosine", 1.0, 100)(100) == pytest.approx(0.0)
    oc = build_schedule("one_cycle", 1.0, 100)
    assert oc(0) == pytest.approx(1 / 25) and oc(29) == pytest.approx(1.0)
    wsd = build_schedule("wsd", 1.0, 100)
    assert wsd(79) == pytest.approx(1.0) and wsd(99) < 0.3


def test_check_schedules_orders_and_rejects() -> None:
    assert check_schedules(["cosine", "constant", "cosine"]) == ("constant", "cosine")
    with pytest.raises(ConfigError, match="linear"):
        check_schedules(["linear"])
    with pytest.raises(ConfigError):
        check_schedules([])


def test_plateau_patience() -> None:
    assert plateau_patience(4) == 1 and plateau_patience(40) == 4
