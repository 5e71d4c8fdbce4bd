from __future__ import annotations

import pytest

from lrkit.errors import ConfigError
from lrkit.schedules import parse
from lrkit.study._schedules import check_schedules
from lrkit.tasks import SCHEDULE_NAMES, build_controller, build_schedule
from lrkit.tasks._schedules import plateau_patience


@pytest.mark.parametrize("name", SCHEDULE_NAMES)
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
    lin = build_schedule("linear", 1.0, 100)
    assert lin(0) == 1.0 and lin(50) == pytest.approx(0.5) and lin(100) == 0.0


@pytest.mark.parametrize("name", SCHEDULE_NAMES)
def test_every_named_schedule_round_trips_as_text(name: str) -> None:
    s = build_schedule(name, 3e-3, 250)
    assert parse(repr(s)) == s


def test_unknown_names_and_bad_arguments_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="name"):
        build_schedule("triangle", 0.1, 100)
    with pytest.raises(ConfigError, match="lr"):
        build_schedule("cosine", 0.0, 100)
    with pytest.raises(ConfigError, match="name"):
        build_controller("triangle", 10)


def test_only_plateau_has_a_controller() -> None:
    rule = build_controller("plateau", 40)
    assert rule is not None and rule.patience == 4 and rule.factor == pytest.approx(0.1)
    assert all(build_controller(n, 40) is None for n in SCHEDULE_NAMES if n != "plateau")


def test_the_study_checks_its_own_subset() -> None:
    # The study runs every builder name but "linear".
    assert check_schedules(["cosine", "constant", "cosine"]) == ("constant", "cosine")
    with pytest.raises(ConfigError, match="linear"):
        check_schedules(["linear"])
    with pytest.raises(ConfigError):
        check_schedules([])


def test_plateau_patience() -> None:
    assert plateau_patience(4) == 1 and plateau_patience(40) == 4
