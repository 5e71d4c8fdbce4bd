"""The adapter contract: what every framework adapter must do with a schedule.

An adapter is tested through a *run function* that trains a tiny model for ``steps`` optimizer
updates and returns the LR the framework actually used at each update, as an array of shape
``(steps, groups)``::

    run(schedule, steps, *, resume_at=None, ratios=(1.0,)) -> np.ndarray

With ``resume_at=m`` the run stops after ``m`` updates, saves its state the framework's way
(checkpoint, ``state_dict``, ``model.save``), rebuilds everything from scratch, restores and
trains the remaining updates. ``ratios`` are the relative LRs of the param groups (frameworks
without groups only get ``(1.0,)``). :func:`check_adapter` then asserts the step convention:
the k-th update runs at ``s(k)`` — first update, last update, every update in between, after a
resume at random steps, and in every group times its ratio.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from lrkit import schedules as S
from lrkit.schedules import Schedule

__all__ = [
    "RunFn",
    "check_adapter",
    "check_lrs",
    "contract_schedules",
    "every_schedule",
    "resume_points",
]

RunFn = Callable[..., np.ndarray]


def contract_schedules(steps: int = 12) -> list[Schedule]:
    """Schedules with a warmup, a clamp at the horizon, jumps and restarts, sized for ``steps``.

    >>> [s.name for s in contract_schedules()]
    ['warmup', 'multistep', 'cosine_restarts']
    """
    return [
        S.warmup(S.cosine(lr=0.1, steps=steps - 4, min_lr=0.01), steps=3),
        S.multistep(lr=0.1, milestones=[1, steps // 2, steps - 1], gamma=0.5),
        S.cosine_restarts(lr=0.1, period=2, mult=2.0, decay=0.5),
    ]


def every_schedule() -> list[Schedule]:
    """At least one instance of every registered schedule, with the branches that matter to an
    array namespace (staircase, restarts with ``mult``, cyclic modes, warmup shapes, clip).

    Adapters evaluate these under their framework's ops and compare with NumPy.

    >>> {s.name for s in every_schedule()} == set(S.registry())
    True
    """
    return [
        S.constant(0.1),
        S.linear(1.0, end=0.0, steps=7),
        S.step_decay(lr=0.3, step_size=7, gamma=0.5),
        S.multistep(lr=0.1, milestones=[3, 5, 5, 9], gamma=0.5),
        S.piecewise(boundaries=[2, 4], values=[1.0, 0.5, 0.1]),
        S.exponential(lr=1.0, rate=0.5, steps=7, staircase=True, min_lr=0.01),
        S.inverse_time(lr=0.1, rate=0.5, steps=10, staircase=True),
        S.inverse_sqrt(lr=1.0, timescale=4),
        S.polynomial(lr=0.1, steps=101, end=0.01, power=0.5),
        S.tanh_decay(lr=1.0, steps=100),
        S.cosine(lr=3e-4, steps=100, min_lr=3e-5),
        S.cosine_restarts(lr=0.1, period=5, mult=1.5, decay=0.9, min_lr=0.01),
        S.cosine_restarts(lr=0.1, period=10),
        S.cyclic(base_lr=1e-3, max_lr=6e-3, step_size_up=5, step_size_down=3, mode="triangular2"),
        S.cyclic(base_lr=1e-3, max_lr=1e-2, step_size_up=4, mode="exp_range", gamma=0.99),
        S.one_cycle(max_lr=0.1, steps=101, pct_start=0.25, three_phase=True),
        S.one_cycle(max_lr=1.0, steps=10, pct_start=0.5, anneal="linear"),
        S.wsd(lr=3e-4, steps=100, decay_steps=20, warmup_steps=5, min_lr=3e-5),
        S.wsd(lr=0.1, steps=50, decay_steps=10, decay_shape="cosine"),
        S.warmup(S.cosine(lr=0.1, steps=100), steps=10, shape="cosine", start=1e-3),
        S.warmup(S.one_cycle(max_lr=0.1, steps=40), steps=5, shape="exponential", start=1e-5),
        S.join(
            [S.linear(0.0, end=1.0, steps=2), S.cosine_restarts(lr=0.1, period=4, mult=2.0)],
            boundaries=[2],
        ),
        S.scale(S.cyclic(base_lr=0.0, max_lr=1.0, step_size_up=3), factor=0.5),
        S.clip(S.scale(S.exponential(lr=1.0, rate=0.8), factor=0.1), min_lr=1e-3, max_lr=0.05),
    ]


def resume_points(steps: int, n: int = 2, seed: int = 0) -> list[int]:
    """``n`` distinct random update counts in ``[1, steps - 1]`` to stop and resume at."""
    rng = np.random.default_rng(seed)
    picks = rng.choice(np.arange(1, steps), size=min(n, steps - 1), replace=False)
    return sorted(int(p) for p in picks)


def check_lrs(
    schedule: Schedule,
    got: Any,
    *,
    ratios: Sequence[float] = (1.0,),
    rtol: float = 1e-12,
    atol: float = 0.0,
    what: str = "",
) -> None:
    """Assert that ``got[k, g] == schedule(k) * ratios[g]`` within tolerance, for every k and g.

    ``atol`` is relative to the schedule's peak, so one tolerance serves any LR scale. The
    message names the first update that differs, and the first and last update are checked by
    name, since they are where off-by-one errors show.
    """
    arr = np.asarray(got, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    steps = arr.shape[0]
    expected = schedule(np.arange(steps))[:, None] * np.asarray(ratios, dtype=np.float64)[None, :]
    label = f"{what}: " if what else ""
    assert arr.shape == expected.shape, (
        f"{label}{schedule!r}: got LRs of shape {arr.shape}, expected {expected.shape}"
    )
    peak = float(np.max(np.abs(expected))) if expected.size else 0.0
    ok = np.abs(arr - expected) <= rtol * np.abs(expected) + atol * peak
    for k, name in ((0, "first"), (steps - 1, "last")):
        assert ok[k].all(), (
            f"{label}{schedule!r}: the {name} update (k={k}) ran at {arr[k].tolist()}, "
            f"expected {expected[k].tolist()}"
        )
    if not ok.all():
        k = int(np.argwhere(~ok)[0][0])
        raise AssertionError(
            f"{label}{schedule!r}: update k={k} ran at {arr[k].tolist()}, expected "
            f"{expected[k].tolist()} (all: {arr[:, 0].tolist()})"
        )


def check_adapter(
    run: RunFn,
    *,
    schedules: Sequence[Schedule] | None = None,
    steps: int = 12,
    resumes: int = 2,
    ratios: Sequence[float] | None = None,
    seed: int = 0,
    rtol: float = 1e-12,
    atol: float = 0.0,
) -> None:
    """Run the adapter contract: first/last/every update, resume at random steps, group ratios.

    ``ratios`` is ``None`` for frameworks without param groups; otherwise the first schedule is
    also run with groups at those relative LRs (e.g. ``(1.0, 0.5)``).
    """
    chosen = list(schedules) if schedules is not None else contract_schedules(steps)
    for i, schedule in enumerate(chosen):
        check_lrs(schedule, run(schedule, steps), rtol=rtol, atol=atol, what="uninterrupted")
        for m in resume_points(steps, resumes, seed + i):
            check_lrs(
                schedule,
                run(schedule, steps, resume_at=m),
                rtol=rtol,
                atol=atol,
                what=f"resumed after {m} updates",
            )
    if ratios is not None:
        check_lrs(
            chosen[0],
            run(chosen[0], steps, ratios=tuple(ratios)),
            ratios=ratios,
            rtol=rtol,
            atol=atol,
            what=f"param groups with ratios {tuple(ratios)}",
        )


def check_missing_dependency(adapter: str, blocked: Sequence[str], extra: str) -> str:
    """Assert that importing ``adapter`` with the modules ``blocked`` missing raises one clear
    :class:`lrkit.errors.DependencyError` naming ``pip install 'lrkit[extra]'``.

    Runs in a fresh interpreter (the frameworks may already be imported here); returns the
    message.
    """
    import subprocess
    import sys

    code = (
        "import sys\n"
        f"for m in {list(blocked)!r}: sys.modules[m] = None\n"
        "from lrkit.errors import DependencyError\n"
        "try:\n"
        f"    import {adapter}\n"
        "except DependencyError as exc:\n"
        "    print('DependencyError:', exc)\n"
        "else:\n"
        "    print('imported')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert out.returncode == 0, f"importing {adapter} without {blocked} crashed:\n{out.stderr}"
    message = out.stdout.strip()
    assert message.startswith("DependencyError:"), (
        f"importing {adapter} without {blocked} gave {message!r}, not a DependencyError"
    )
    assert f"pip install 'lrkit[{extra}]'" in message, f"no install command in {message!r}"
    return message
