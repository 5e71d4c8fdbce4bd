"""Learning-rate schedules: pure, closed-form, composable functions of the update index.

``s(k)`` is the LR of the k-th optimizer update, counting from 0. Every factory returns an
immutable :class:`Schedule` that evaluates on ints and NumPy arrays with identical values,
round-trips through :meth:`Schedule.to_dict` / :func:`from_dict` and through its text form
(:func:`parse`, which is also its ``repr``), and evaluates under JAX or Keras ops through
:meth:`Schedule.evaluate`.

>>> from lrkit import schedules as S
>>> s = S.warmup(S.cosine(lr=3e-4, steps=1000), steps=100)
>>> s
warmup(schedule=cosine(lr=0.0003, steps=1000), steps=100)
>>> S.parse(repr(s)) == s
True
"""

from __future__ import annotations

from lrkit.schedules._base import Schedule, from_dict, registry
from lrkit.schedules._basic import constant, linear, multistep, piecewise, step_decay
from lrkit.schedules._combinators import clip, join, scale, warmup
from lrkit.schedules._cosine import cosine, cosine_restarts
from lrkit.schedules._cyclic import cyclic, one_cycle
from lrkit.schedules._decay import exponential, inverse_sqrt, inverse_time, polynomial, tanh_decay
from lrkit.schedules._parse import parse
from lrkit.schedules._wsd import wsd

__all__ = [
    "Schedule",
    "clip",
    "constant",
    "cosine",
    "cosine_restarts",
    "cyclic",
    "exponential",
    "from_dict",
    "inverse_sqrt",
    "inverse_time",
    "join",
    "linear",
    "multistep",
    "one_cycle",
    "parse",
    "piecewise",
    "polynomial",
    "registry",
    "scale",
    "step_decay",
    "tanh_decay",
    "warmup",
    "wsd",
]
