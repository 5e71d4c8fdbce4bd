"""The shared schedule contract (lrkit.testing), run for every registered schedule."""

from __future__ import annotations

import dataclasses
import math
import warnings
from typing import Any

import numpy as np
import pytest

from lrkit import schedules as S
from lrkit.errors import ScheduleError
from lrkit.testing import check_invalid, check_registry_covered, check_schedule, schedule_cases
from lrkit.testing._schedules import check_roundtrip, check_values, check_vectorised

CASES = schedule_cases()
_CASES = [(name, kwargs) for name, sets in CASES.items() for kwargs in sets]


def case_id(name: str, kwargs: dict[str, Any]) -> str:
    return repr(S.registry()[name](**kwargs))[:90]


def test_every_registered_schedule_has_parameter_sets() -> None:
    check_registry_covered(CASES)
    thin = {name: len(sets) for name, sets in CASES.items() if len(sets) < 2}
    assert not thin, f"schedules with fewer than 2 parameter sets: {thin}"
    unknown = set(CASES) - set(S.registry())
    assert not unknown, f"parameter sets for unregistered names: {unknown}"


def test_registry_coverage_check_fails_on_a_missing_name() -> None:
    with pytest.raises(AssertionError, match="cosine"):
        check_registry_covered(set(CASES) - {"cosine"})


@pytest.mark.parametrize(("name", "kwargs"), _CASES, ids=[case_id(*c) for c in _CASES])
def test_contract(name: str, kwargs: dict[str, Any]) -> None:
    s = S.registry()[name](**kwargs)
    assert s.name == name
    check_schedule(s, steps=300)


@pytest.mark.parametrize(
    "schedule",
    [
        # nested combinators, three levels deep
        S.warmup(
            S.join(
                [
                    S.cosine(lr=0.1, steps=30),
                    S.clip(S.scale(S.constant(0.2), factor=0.5), max_lr=0.05),
                ],
                boundaries=[30],
            ),
            steps=5,
        ),
        S.clip(
            S.scale(S.warmup(S.one_cycle(max_lr=1.0, steps=50), steps=3), factor=0.1),
            min_lr=1e-4,
            max_lr=0.08,
        ),
        S.join(
            [
                S.warmup(S.constant(0.1), steps=2, shape="cosine"),
                S.join(
                    [S.linear(0.1, end=0.01, steps=5), S.exponential(0.01, rate=0.9)],
                    boundaries=[5],
                ),
            ],
            boundaries=[2],
        ),
        S.cosine(lr=0.1, steps=100) * 0.5,
        0.5 * S.cosine(lr=0.1, steps=100),
    ],
    ids=repr,
)
def test_contract_nested(schedule: S.Schedule) -> None:
    check_schedule(schedule, steps=120)


def test_large_steps_without_warnings() -> None:
    ks = np.array([2049, 10**6, 10**7 + 3, 2**40], dtype=np.int64)
    for name, kwargs in _CASES:
        if kwargs.get("rate", 0) > 1 or kwargs.get("gamma", 0) > 1:
            continue  # growth overflows: that is the formula, not a contract breach
        s = S.registry()[name](**kwargs)
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # e.g. no "overflow in power" in a branch not taken
            check_vectorised(s, ks)
            check_values(s, ks)


# -- the contract checks themselves must be able to fail ----------------------------------


@dataclasses.dataclass(frozen=True, repr=False)
class _Unregistered(S.Schedule):
    lr: float = 0.1

    def formula(self, k: Any, xp: Any) -> Any:
        return k * 0.0 + self.lr


@dataclasses.dataclass(frozen=True, repr=False)
class _ScalarDiffers(S.Schedule):
    def formula(self, k: Any, xp: Any) -> Any:
        # differs between a one-element input and a longer one
        return k * 0.0 + (0.1 if np.size(k) == 1 else 0.2)


def test_contract_rejects_an_unregistered_schedule() -> None:
    with pytest.raises(AssertionError, match="not registered"):
        check_roundtrip(_Unregistered())


def test_contract_rejects_scalar_vector_mismatch() -> None:
    with pytest.raises(AssertionError, match="scalar and vectorised values differ"):
        check_vectorised(_ScalarDiffers(), np.arange(3))


def test_check_invalid_fails_when_nothing_is_raised() -> None:
    with pytest.raises(AssertionError, match="did not raise"):
        check_invalid(S.cosine, {"lr": 0.1, "steps": 10})


def test_check_invalid_fails_on_other_exceptions() -> None:
    def factory(lr: float) -> S.Schedule:
        raise TypeError("nope")

    with pytest.raises(AssertionError, match="instead of"):
        check_invalid(factory, {"lr": 1.0})


def test_check_invalid_fails_when_the_value_is_not_named() -> None:
    def factory(lr: float) -> S.Schedule:
        raise ScheduleError("lr is bad")

    with pytest.raises(AssertionError, match="does not name"):
        check_invalid(factory, {"lr": 12345.0})


# -- invalid arguments: ScheduleError, a ValueError naming the argument and its value ------

_COS = S.cosine(lr=0.1, steps=10)
_NAN = math.nan

INVALID: list[tuple[str, dict[str, Any], str]] = [
    ("constant", {"lr": -1.0}, "lr"),
    ("constant", {"lr": True}, "lr"),
    ("constant", {"lr": "0.1"}, "lr"),
    ("constant", {"lr": _NAN}, "lr"),
    ("constant", {"lr": math.inf}, "lr"),
    ("constant", {"lr": None}, "lr"),
    ("linear", {"start": -1.0, "end": 0.0, "steps": 4}, "start"),
    ("linear", {"start": 1.0, "end": -0.5, "steps": 4}, "end"),
    ("linear", {"start": 1.0, "end": 0.0, "steps": 0}, "steps"),
    ("linear", {"start": 1.0, "end": 0.0, "steps": 2.5}, "steps"),
    ("linear", {"start": 1.0, "end": 0.0, "steps": True}, "steps"),
    ("step_decay", {"lr": 0.1, "step_size": 0}, "step_size"),
    ("step_decay", {"lr": 0.1, "step_size": 2, "gamma": 0.0}, "gamma"),
    ("step_decay", {"lr": 0.1, "step_size": 2, "gamma": -0.1}, "gamma"),
    ("step_decay", {"lr": False, "step_size": 2}, "lr"),
    ("multistep", {"lr": 0.1, "milestones": [-1]}, "milestones"),
    ("multistep", {"lr": 0.1, "milestones": [5, 2]}, "milestones"),
    ("multistep", {"lr": 0.1, "milestones": "30"}, "milestones"),
    ("multistep", {"lr": 0.1, "milestones": [1.5]}, "milestones"),
    ("multistep", {"lr": 0.1, "milestones": [True]}, "milestones"),
    ("multistep", {"lr": 0.1, "milestones": [3], "gamma": 0}, "gamma"),
    ("piecewise", {"boundaries": [0], "values": [1.0, 0.5]}, "boundaries"),
    ("piecewise", {"boundaries": [4, 2], "values": [1.0, 0.5, 0.1]}, "boundaries"),
    ("piecewise", {"boundaries": [2, 4], "values": [1.0, 0.5]}, "values"),
    ("piecewise", {"boundaries": [2], "values": [-1.0, 0.5]}, "values"),
    ("piecewise", {"boundaries": [2], "values": 0.5}, "values"),
    ("exponential", {"lr": 0.1, "rate": 0.0}, "rate"),
    ("exponential", {"lr": 0.1, "rate": 0.9, "steps": 0}, "steps"),
    ("exponential", {"lr": 0.1, "rate": 0.9, "staircase": 1}, "staircase"),
    ("exponential", {"lr": 0.1, "rate": 0.9, "min_lr": -1e-3}, "min_lr"),
    ("inverse_time", {"lr": 0.1, "rate": -1.0}, "rate"),
    ("inverse_time", {"lr": 0.1, "rate": 1.0, "staircase": "yes"}, "staircase"),
    ("inverse_sqrt", {"lr": 0.1, "timescale": 0}, "timescale"),
    ("inverse_sqrt", {"lr": -0.1, "timescale": 10}, "lr"),
    ("polynomial", {"lr": 0.1, "steps": 10, "power": 0.0}, "power"),
    ("polynomial", {"lr": 0.1, "steps": 0}, "steps"),
    ("polynomial", {"lr": 0.1, "steps": 10, "end": -0.1}, "end"),
    ("tanh_decay", {"lr": 0.1, "steps": 10, "lower": 3.0, "upper": 3.0}, "upper"),
    ("tanh_decay", {"lr": 0.1, "steps": -5}, "steps"),
    ("cosine", {"lr": -0.1, "steps": 10}, "lr"),
    ("cosine", {"lr": 0.1, "steps": 0}, "steps"),
    ("cosine", {"lr": 0.1, "steps": 10, "min_lr": _NAN}, "min_lr"),
    ("cosine", {"lr": True, "steps": 10}, "lr"),
    ("cosine", {"lr": 0.1, "steps": "10"}, "steps"),
    ("cosine_restarts", {"lr": 0.1, "period": 0}, "period"),
    ("cosine_restarts", {"lr": 0.1, "period": 5, "mult": 0.5}, "mult"),
    ("cosine_restarts", {"lr": 0.1, "period": 5, "decay": 0.0}, "decay"),
    ("cosine_restarts", {"lr": 0.1, "period": 5, "decay": 1.5}, "decay"),
    ("cyclic", {"base_lr": 1.0, "max_lr": 0.1, "step_size_up": 2}, "max_lr"),
    ("cyclic", {"base_lr": 0.1, "max_lr": 1.0, "step_size_up": 2, "mode": "triangle"}, "mode"),
    ("cyclic", {"base_lr": 0.1, "max_lr": 1.0, "step_size_up": 0}, "step_size_up"),
    (
        "cyclic",
        {"base_lr": 0.1, "max_lr": 1.0, "step_size_up": 2, "step_size_down": 0},
        "step_size_down",
    ),
    ("cyclic", {"base_lr": 0.1, "max_lr": 1.0, "step_size_up": 2, "gamma": 1.5}, "gamma"),
    ("cyclic", {"base_lr": 0.1, "max_lr": 1.0, "step_size_up": 2, "mode": None}, "mode"),
    ("one_cycle", {"max_lr": 0.1, "steps": 1}, "steps"),
    ("one_cycle", {"max_lr": 0.1, "steps": 100, "pct_start": 0.0}, "pct_start"),
    ("one_cycle", {"max_lr": 0.1, "steps": 100, "pct_start": 1.0}, "pct_start"),
    ("one_cycle", {"max_lr": 0.1, "steps": 10, "pct_start": 0.05}, "pct_start"),
    (
        "one_cycle",
        {"max_lr": 0.1, "steps": 10, "pct_start": 0.55, "three_phase": True},
        "pct_start",
    ),
    ("one_cycle", {"max_lr": 0.1, "steps": 100, "anneal": "cosine"}, "anneal"),
    ("one_cycle", {"max_lr": 0.1, "steps": 100, "three_phase": "yes"}, "three_phase"),
    ("one_cycle", {"max_lr": 0.1, "steps": 100, "div_factor": 0.0}, "div_factor"),
    (
        "one_cycle",
        {"max_lr": 1.0, "steps": 100, "div_factor": 1e-300, "final_div_factor": 1e-300},
        "final_div_factor",
    ),
    ("wsd", {"lr": 0.1, "steps": 10, "decay_steps": 0}, "decay_steps"),
    ("wsd", {"lr": 0.1, "steps": 10, "decay_steps": 6, "warmup_steps": 5}, "warmup_steps"),
    ("wsd", {"lr": 0.1, "steps": 10, "decay_steps": 2, "decay_shape": "sqrt"}, "decay_shape"),
    ("wsd", {"lr": 0.1, "steps": 10, "decay_steps": 2, "warmup_steps": -1}, "warmup_steps"),
    ("warmup", {"schedule": 0.1, "steps": 10}, "schedule"),
    ("warmup", {"schedule": _COS, "steps": 0}, "steps"),
    ("warmup", {"schedule": _COS, "steps": 5, "shape": "quadratic"}, "shape"),
    ("warmup", {"schedule": _COS, "steps": 5, "shape": "exponential", "start": 0.0}, "start"),
    ("warmup", {"schedule": _COS, "steps": 5, "zero_first": 1}, "zero_first"),
    ("warmup", {"schedule": _COS, "steps": 5, "start": -1.0}, "start"),
    ("join", {"schedules": [], "boundaries": []}, "schedules"),
    ("join", {"schedules": _COS, "boundaries": []}, "schedules"),
    ("join", {"schedules": [_COS, _COS], "boundaries": []}, "boundaries"),
    ("join", {"schedules": [_COS, _COS], "boundaries": [0]}, "boundaries"),
    ("join", {"schedules": [_COS, _COS, _COS], "boundaries": [5, 5]}, "boundaries"),
    ("join", {"schedules": [_COS, 0.1], "boundaries": [5]}, "schedules"),
    ("scale", {"schedule": _COS, "factor": -1.0}, "factor"),
    ("scale", {"schedule": _COS, "factor": True}, "factor"),
    ("scale", {"schedule": "cosine", "factor": 2.0}, "schedule"),
    ("clip", {"schedule": _COS, "min_lr": -1.0}, "min_lr"),
    ("clip", {"schedule": _COS, "min_lr": 0.5, "max_lr": 0.1}, "max_lr"),
    ("clip", {"schedule": None}, "schedule"),
]


def test_every_factory_has_invalid_cases() -> None:
    check_registry_covered({name for name, _, _ in INVALID})


@pytest.mark.parametrize(
    ("name", "kwargs", "arg"),
    INVALID,
    ids=[f"{n}-{a}-{i}" for i, (n, _, a) in enumerate(INVALID)],
)
def test_invalid_arguments(name: str, kwargs: dict[str, Any], arg: str) -> None:
    err = check_invalid(S.registry()[name], kwargs, arg=arg)
    assert str(err).startswith(name), f"message should say where: {err}"


@pytest.mark.parametrize(
    "text",
    [
        "cosine(lr=0.1)",
        "cosin(lr=0.1, steps=10)",
        "cosine(lr=0.1, steps=10, foo=1)",
        "1 + 2",
        "",
        "os.system('x')",
    ],
)
def test_parse_errors_are_schedule_errors(text: str) -> None:
    with pytest.raises(ScheduleError):
        S.parse(text)


def test_parse_suggests_close_names() -> None:
    with pytest.raises(ScheduleError, match="did you mean 'cosine'"):
        S.parse("cosin(lr=0.1, steps=10)")


@pytest.mark.parametrize("data", [{}, {"name": "nope"}, {"name": "cosine", "lr": -1, "steps": 3}])
def test_from_dict_errors(data: dict[str, Any]) -> None:
    with pytest.raises(ScheduleError):
        S.from_dict(data)
