"""Parameter sets for every built-in schedule: reuse them to test an adapter on all of them.

>>> from lrkit.testing import example_schedules
>>> len(example_schedules()) > 40
True
"""

from __future__ import annotations

import copy
from typing import Any

from lrkit import schedules as S
from lrkit.schedules import Schedule

__all__ = ["example_schedules", "schedule_cases"]

_CASES: dict[str, list[dict[str, Any]]] = {
    "constant": [{"lr": 0.1}, {"lr": 0.0}, {"lr": 3e-4}],
    "linear": [
        {"start": 1.0, "end": 0.0, "steps": 4},
        {"start": 0.0, "end": 0.3, "steps": 1},
        {"start": 3e-4, "end": 3e-6, "steps": 997},
    ],
    "step_decay": [
        {"lr": 0.1, "step_size": 1},
        {"lr": 0.3, "step_size": 7, "gamma": 0.5},
        {"lr": 1.0, "step_size": 3, "gamma": 1.5},
    ],
    "multistep": [
        {"lr": 0.1, "milestones": [30, 60]},
        {"lr": 0.1, "milestones": [0, 5, 5, 9], "gamma": 0.5},
        {"lr": 0.2, "milestones": []},
    ],
    "piecewise": [
        {"boundaries": [2, 4], "values": [1.0, 0.5, 0.1]},
        {"boundaries": [], "values": [0.3]},
        {"boundaries": [1], "values": [0.0, 2e-3]},
    ],
    "exponential": [
        {"lr": 0.1, "rate": 0.9},
        {"lr": 1.0, "rate": 0.5, "steps": 7, "staircase": True, "min_lr": 0.01},
        {"lr": 1e-3, "rate": 1.01, "steps": 3},
    ],
    "inverse_time": [
        {"lr": 1.0, "rate": 1.0},
        {"lr": 0.1, "rate": 0.5, "steps": 10, "staircase": True},
        {"lr": 0.1, "rate": 0.0},
    ],
    "inverse_sqrt": [{"lr": 1.0, "timescale": 1}, {"lr": 3e-4, "timescale": 4000}],
    "polynomial": [
        {"lr": 1.0, "steps": 4, "power": 2.0},
        {"lr": 0.1, "steps": 1},
        {"lr": 0.1, "steps": 101, "end": 0.01, "power": 0.5},
    ],
    "tanh_decay": [
        {"lr": 1.0, "steps": 100},
        {"lr": 0.1, "steps": 7, "min_lr": 0.001, "lower": -3.0, "upper": 5.0},
    ],
    "cosine": [
        {"lr": 1.0, "steps": 4},
        {"lr": 3e-4, "steps": 1000, "min_lr": 3e-5},
        {"lr": 0.1, "steps": 1},
    ],
    "cosine_restarts": [
        {"lr": 1.0, "period": 2, "mult": 2.0, "decay": 0.5},
        {"lr": 0.1, "period": 10},
        {"lr": 0.1, "period": 1, "mult": 3.0, "min_lr": 0.001},
        {"lr": 0.1, "period": 5, "mult": 1.5, "decay": 0.9, "min_lr": 0.01},
    ],
    "cyclic": [
        {"base_lr": 0.1, "max_lr": 1.0, "step_size_up": 2},
        {
            "base_lr": 1e-3,
            "max_lr": 6e-3,
            "step_size_up": 5,
            "step_size_down": 3,
            "mode": "triangular2",
        },
        {"base_lr": 1e-3, "max_lr": 1e-2, "step_size_up": 1, "mode": "exp_range", "gamma": 0.99},
    ],
    "one_cycle": [
        {"max_lr": 1.0, "steps": 10, "pct_start": 0.5, "anneal": "linear"},
        {"max_lr": 0.1, "steps": 1000},
        {"max_lr": 0.1, "steps": 101, "pct_start": 0.25, "three_phase": True},
        {
            "max_lr": 0.01,
            "steps": 3,
            "pct_start": 0.99,
            "div_factor": 10.0,
            "final_div_factor": 100.0,
        },
    ],
    "wsd": [
        {"lr": 1.0, "steps": 10, "decay_steps": 4, "decay_shape": "linear"},
        {"lr": 3e-4, "steps": 1000, "decay_steps": 200, "warmup_steps": 50, "min_lr": 3e-5},
        {"lr": 0.1, "steps": 5, "decay_steps": 5, "decay_shape": "cosine"},
        {"lr": 0.1, "steps": 9, "decay_steps": 1, "warmup_steps": 8},
    ],
    # combinators: nested on purpose (warmup of join of ..., clip of scale of ...)
    "warmup": [
        {"schedule": S.cosine(lr=0.1, steps=100), "steps": 10},
        {
            "schedule": S.join(
                [S.constant(0.1), S.cosine(lr=0.1, steps=50, min_lr=0.01)], boundaries=[20]
            ),
            "steps": 7,
            "shape": "cosine",
            "start": 0.001,
        },
        {
            "schedule": S.one_cycle(max_lr=0.1, steps=40),
            "steps": 5,
            "shape": "exponential",
            "start": 1e-5,
        },
        {"schedule": S.inverse_sqrt(lr=1.0, timescale=4), "steps": 4, "zero_first": True},
    ],
    "join": [
        {"schedules": [S.linear(0.0, end=1.0, steps=2), S.constant(0.5)], "boundaries": [2]},
        {
            "schedules": [
                S.warmup(S.constant(0.1), steps=3),
                S.cosine_restarts(lr=0.1, period=4, mult=2.0),
                S.scale(S.wsd(lr=0.1, steps=20, decay_steps=5), factor=0.5),
            ],
            "boundaries": [10, 30],
        },
        {"schedules": [S.cosine(lr=0.1, steps=10)], "boundaries": []},
    ],
    "scale": [
        {"schedule": S.cosine(lr=1.0, steps=10), "factor": 0.5},
        {"schedule": S.warmup(S.multistep(lr=1.0, milestones=[5, 8]), steps=3), "factor": 0.0},
    ],
    "clip": [
        {"schedule": S.linear(1.0, end=0.0, steps=10), "min_lr": 0.2, "max_lr": 0.5},
        {"schedule": S.scale(S.exponential(lr=1.0, rate=0.8), factor=0.1), "min_lr": 1e-3},
        {
            "schedule": S.scale(S.cyclic(base_lr=0.0, max_lr=1.0, step_size_up=3), factor=2.0),
            "max_lr": 1.5,
        },
    ],
}


def schedule_cases() -> dict[str, list[dict[str, Any]]]:
    """Keyword arguments for each built-in factory: ``{name: [kwargs, ...]}``, >= 2 sets each.

    Edge cases on purpose (steps of 1, milestones at 0 and repeated, zero LRs, growth,
    pct_start near its bounds) and nested combinators. A fresh copy on every call.
    """
    return copy.deepcopy(_CASES)


def example_schedules() -> list[tuple[str, Schedule]]:
    """``(name, schedule)`` for every parameter set of :func:`schedule_cases`."""
    factories = S.registry()
    return [
        (name, factories[name](**kwargs))
        for name, sets in _CASES.items()
        if name in factories
        for kwargs in sets
    ]
