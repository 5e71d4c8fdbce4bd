"""Keyword-only factories, and the text/JSON forms that stay positional-friendly (user data)."""

from __future__ import annotations

import dataclasses
import inspect
import json
import math
from typing import Any

import numpy as np
import pytest

from lrkit import schedules as S
from lrkit.errors import ScheduleError
from lrkit.schedules._base import _repr_value, field_names
from lrkit.testing import schedule_cases

_CASES = [(name, kwargs) for name, sets in schedule_cases().items() for kwargs in sets]
_KS = np.arange(0, 400, 7)
# cases that give more than one argument: something to pass positionally
_MULTI = [(n, kw) for n, kw in _CASES if len(kw) > 1]


@pytest.mark.parametrize("name", sorted(S.registry()))
def test_factory_parameters_are_the_fields_first_positional_rest_keyword_only(name: str) -> None:
    assert {n for n, _ in _MULTI} == set(S.registry()) - {"constant"}
    factory = S.registry()[name]
    params = list(inspect.signature(factory).parameters.values())
    assert [p.name for p in params] == field_names(name), (
        f"{name}: the factory's parameters must be the schedule's fields in order "
        "(the text form maps positional arguments onto them)"
    )
    assert params[0].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params[1:]), name


@pytest.mark.parametrize("name", sorted(S.registry()))
def test_factory_defaults_match_the_field_defaults(name: str) -> None:
    # repr leaves out arguments equal to the field default: both defaults must agree
    cls = type(S.registry()[name](**schedule_cases()[name][0]))
    fields = {f.name: f.default for f in dataclasses.fields(cls)}
    for p in inspect.signature(S.registry()[name]).parameters.values():
        if p.default is inspect.Parameter.empty:
            assert fields[p.name] is dataclasses.MISSING, f"{name}.{p.name}"
        elif (name, p.name) == ("clip", "max_lr"):
            assert p.default is None and fields[p.name] == math.inf  # JSON has no infinity
        else:
            assert fields[p.name] == p.default, f"{name}.{p.name}"


@pytest.mark.parametrize(
    ("name", "kwargs"), _MULTI, ids=[f"{n}-{i}" for i, (n, _) in enumerate(_MULTI)]
)
def test_positional_python_call_is_a_clear_type_error(name: str, kwargs: dict[str, Any]) -> None:
    factory = S.registry()[name]
    # every field up to the last one given, defaults filled in: what a positional call passed
    fields = field_names(name)
    order = fields[: max(fields.index(k) for k in kwargs) + 1]
    defaults = {k: p.default for k, p in inspect.signature(factory).parameters.items()}
    kwargs = {k: kwargs.get(k, defaults[k]) for k in order}
    with pytest.raises(TypeError, match=rf"{name}\(\) takes 1 positional argument") as info:
        factory(*(kwargs[k] for k in order))
    # the message spells out the keyword call, and that call works
    fixed = str(info.value).split("keyword-only: ", 1)[1]
    assert S.parse(fixed) == factory(**kwargs), fixed
    # the first argument alone stays positional
    rest = {k: kwargs[k] for k in order[1:]}
    assert factory(kwargs[order[0]], **rest) == factory(**kwargs)


def _legacy_text(value: Any) -> str:
    """The text form as the positional factories wrote it: every argument, in field order."""
    if isinstance(value, S.Schedule):
        args = ", ".join(_legacy_text(v) for v in value.params().values())
        return f"{value.name}({args})"
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_legacy_text(v) for v in value) + "]"
    return _repr_value(value)


@pytest.mark.parametrize(
    ("name", "kwargs"), _CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(_CASES)]
)
def test_positional_text_form_of_every_case_still_parses(name: str, kwargs: dict[str, Any]) -> None:
    s = S.registry()[name](**kwargs)
    text = _legacy_text(s)
    got = S.parse(text)
    assert got == s, f"{text} parsed to {got!r}, expected {s!r}"
    assert np.array_equal(got(_KS), s(_KS))
    # mixed: first positional arguments, the rest by keyword
    fields = list(s.params().items())
    head = ", ".join(_legacy_text(v) for _, v in fields[:2])
    tail = "".join(f", {k}={_legacy_text(v)}" for k, v in fields[2:])
    assert S.parse(f"{name}({head}{tail})") == s


# Text forms users wrote against the positional factories (README, docs, configs): each must
# still give the schedule it gave then.
LEGACY_TEXT = [
    ("multistep(0.1, [30, 60, 80])", S.multistep(0.1, milestones=[30, 60, 80])),
    ("multistep(0.1, [30, 60], 0.5)", S.multistep(0.1, milestones=[30, 60], gamma=0.5)),
    ("linear(1.0, 0.0, 4)", S.linear(1.0, end=0.0, steps=4)),
    ("step_decay(0.1, 30, 0.1)", S.step_decay(0.1, step_size=30, gamma=0.1)),
    ("piecewise([2, 4], [1.0, 0.5, 0.1])", S.piecewise([2, 4], values=[1.0, 0.5, 0.1])),
    ("cosine(3e-4, 10000)", S.cosine(3e-4, steps=10000)),
    ("cosine(0.1, 100, 0.001)", S.cosine(0.1, steps=100, min_lr=0.001)),
    ("cosine_restarts(0.1, 10, 2.0, 0.5)", S.cosine_restarts(0.1, period=10, mult=2.0, decay=0.5)),
    ("exponential(0.1, 0.9, 10, True)", S.exponential(0.1, rate=0.9, steps=10, staircase=True)),
    ("inverse_time(0.1, 0.5)", S.inverse_time(0.1, rate=0.5)),
    ("inverse_sqrt(0.1, 100)", S.inverse_sqrt(0.1, timescale=100)),
    ("polynomial(0.1, 100, 0.0, 2.0)", S.polynomial(0.1, steps=100, end=0.0, power=2.0)),
    ("tanh_decay(0.1, 100)", S.tanh_decay(0.1, steps=100)),
    (
        "cyclic(0.01, 0.1, 20, None, 'triangular2')",
        S.cyclic(0.01, max_lr=0.1, step_size_up=20, mode="triangular2"),
    ),
    ("one_cycle(0.1, 2000)", S.one_cycle(0.1, steps=2000)),
    (
        "one_cycle(0.1, 100, 0.25, 10.0, 100.0, 'linear', True)",
        S.one_cycle(
            0.1,
            steps=100,
            pct_start=0.25,
            div_factor=10.0,
            final_div_factor=100.0,
            anneal="linear",
            three_phase=True,
        ),
    ),
    (
        "wsd(0.1, 100, 20, 10, 'cosine')",
        S.wsd(0.1, steps=100, decay_steps=20, warmup_steps=10, decay_shape="cosine"),
    ),
    ("warmup(cosine(0.1, 100), 10)", S.warmup(S.cosine(0.1, steps=100), steps=10)),
    (
        "warmup(constant(0.1), 5, 0.01, 'exponential')",
        S.warmup(S.constant(0.1), steps=5, start=0.01, shape="exponential"),
    ),
    (
        "join([linear(0.0, 1.0, 2), constant(0.5)], [2])",
        S.join([S.linear(0.0, end=1.0, steps=2), S.constant(0.5)], boundaries=[2]),
    ),
    ("scale(constant(0.5), 0.1)", S.scale(S.constant(0.5), factor=0.1)),
    (
        "clip(linear(1.0, 0.0, 10), 0.2, 0.5)",
        S.clip(S.linear(1.0, end=0.0, steps=10), min_lr=0.2, max_lr=0.5),
    ),
    ("clip(constant(1.0), 0.0, inf)", S.clip(S.constant(1.0))),
]


@pytest.mark.parametrize(("text", "expected"), LEGACY_TEXT, ids=[t for t, _ in LEGACY_TEXT])
def test_legacy_positional_text(text: str, expected: S.Schedule) -> None:
    got = S.parse(text)
    assert got == expected
    assert S.parse(repr(got)) == got
    assert np.array_equal(got(_KS), expected(_KS))


def test_legacy_text_values_are_the_ones_documented() -> None:
    # the example, with values worked out by hand: x0.1 at 30, 60 and 80
    s = S.parse("multistep(0.1, [30, 60, 80])")
    assert [s(k) for k in (0, 29, 30, 59, 60, 80)] == pytest.approx(
        [0.1, 0.1, 0.01, 0.01, 0.001, 0.0001]
    )


def test_too_many_positional_text_arguments_name_the_fields() -> None:
    with pytest.raises(ScheduleError, match=r"takes at most 3 arguments \(lr, steps, min_lr\)"):
        S.parse("cosine(0.1, 100, 0.0, 5)")


# to_dict output written by earlier versions (literal JSON): it must load unchanged.
SAVED = [
    '{"name": "cosine", "lr": 0.1, "steps": 100, "min_lr": 0.0}',
    '{"name": "multistep", "lr": 0.1, "milestones": [30, 60], "gamma": 0.1}',
    '{"name": "clip", "schedule": {"name": "linear", "start": 1.0, "end": 0.0, "steps": 10},'
    ' "min_lr": 0.2, "max_lr": null}',
    '{"name": "warmup", "schedule": {"name": "cosine", "lr": 0.0003, "steps": 1000,'
    ' "min_lr": 0.0}, "steps": 100, "start": 0.0, "shape": "linear", "zero_first": false}',
    '{"name": "join", "schedules": [{"name": "constant", "lr": 0.1}, {"name": "scale",'
    ' "schedule": {"name": "constant", "lr": 0.1}, "factor": 0.5}], "boundaries": [5]}',
    '{"name": "cyclic", "base_lr": 0.01, "max_lr": 0.1, "step_size_up": 4,'
    ' "step_size_down": null, "mode": "exp_range", "gamma": 0.99}',
]


@pytest.mark.parametrize("text", SAVED)
def test_saved_to_dict_still_loads_exactly(text: str) -> None:
    data = json.loads(text)
    s = S.from_dict(data)
    assert s.to_dict() == data
    assert S.parse(repr(s)) == s


def test_fields_are_checked_when_built_from_the_class() -> None:
    cls = type(S.cosine(0.1, steps=10))
    with pytest.raises(ScheduleError, match=r"cosine: lr must be >= 0, but got lr=-1"):
        cls(lr=-1, steps=10)
    with pytest.raises(ScheduleError, match="max_lr must be >= min_lr"):
        type(S.clip(S.constant(1.0)))(S.constant(1.0), 0.5, 0.1)


def test_arguments_are_canonicalised() -> None:
    s = S.cosine(0.1, steps=1e4)
    assert type(s.steps) is int and s.steps == 10000
    assert s == S.cosine(0.1, steps=10000) and hash(s) == hash(S.cosine(0.1, steps=10000))
    m = S.multistep(1, milestones=[3, 5])
    assert m.milestones == (3, 5) and type(m.lr) is float  # type: ignore[attr-defined]


def test_one_cycle_length_is_its_steps() -> None:
    # issue #20: `lrkit plot "one_cycle(max_lr=0.1, steps=2000)"` showed 2001 steps. The
    # schedule's horizon is 2000 updates (k = 0..1999, the last at the final LR, as in
    # PyTorch's OneCycleLR); the extra step came from the plot command's horizon + 1.
    s = S.parse("one_cycle(max_lr=0.1, steps=2000)")
    assert s.horizon == 2000
    values = s.sample(s.horizon)
    assert values.shape == (2000,)
    assert values[-1] == pytest.approx(0.1 / 25 / 1e4)
    assert s(1999) == s(2000)  # held after the last update: nothing new at k = 2000
