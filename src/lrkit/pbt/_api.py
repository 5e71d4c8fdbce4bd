"""``pbt``: population-based training of the LR on the sweep's population driver."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from lrkit._validate import (
    check_bool,
    check_choice,
    check_float,
    check_int,
    check_positive_float,
)
from lrkit.errors import ConfigError
from lrkit.pbt._result import PBTResult, build_result
from lrkit.pbt._select import initial_lrs

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = ["check_arguments", "pbt"]

_OPTIMIZERS = ("sgd", "sgd_momentum", "adam", "adamw")


def check_arguments(
    population: int,
    low: float,
    high: float,
    optimizer: str,
    quantile: float,
    perturb: tuple[float, float],
    resample: float,
    init: str,
    steps: int | None,
    epochs: int | None,
    interval: int | None,
) -> None:
    """Raise :class:`ConfigError` naming the first bad argument (the ones checkable without data)."""
    w = "pbt"
    check_int(w, "population", population, low=2)
    low = check_positive_float(w, "low", low)
    high = check_positive_float(w, "high", high)
    if not low <= high:
        raise ConfigError(f"{w}: low must be <= high, but got low={low!r}, high={high!r}")
    check_choice(w, "optimizer", optimizer, _OPTIMIZERS)
    check_float(w, "quantile", quantile, low=0.0, low_open=True, high=0.5)
    try:
        f0, f1 = (float(f) for f in perturb)
    except (TypeError, ValueError):
        raise ConfigError(
            f"{w}: perturb must be two factors, but got perturb={perturb!r}"
        ) from None
    if not (math.isfinite(f0) and math.isfinite(f1) and f0 > 0 and f1 > 0):
        raise ConfigError(
            f"{w}: perturb factors must be > 0 and finite, but got perturb={perturb!r}"
        )
    check_float(w, "resample", resample, low=0.0, high=1.0)
    check_choice(w, "init", init, ("grid", "random"))
    from lrkit.sweep.population import check_run  # imports torch: only once called

    check_run(w, optimizer, steps, epochs)
    if interval is not None:
        check_int(w, "interval", interval, low=1)


def pbt(
    model: nn.Module,
    train_data: Any,
    *,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    population: int = 16,
    low: float = 1e-4,
    high: float = 1.0,
    init: str = "grid",
    optimizer: str = "sgd",
    steps: int | None = None,
    epochs: int | None = None,
    interval: int | None = None,
    quantile: float = 0.25,
    perturb: tuple[float, float] = (0.8, 1.25),
    resample: float = 0.0,
    select: str = "truncation",
    anneal: float = 0.25,
    compare: bool = True,
    val_data: Any = None,
    metric: Callable[[torch.Tensor, torch.Tensor], float] | None = None,
    maximize: bool = True,
    momentum: float = 0.9,
    weight_decay: float | None = None,
    batch_size: int = 128,
    shuffle: bool = True,
    seed: int = 0,
    device: torch.device | str | None = None,
    dtype: torch.dtype | str | None = None,
    engine: str = "auto",
    progress: Callable[[int, int, float], None] | None = None,
) -> PBTResult:
    """Population-based training of the learning rate, K members in one vectorised process.

    Every member starts from ``model``'s current weights (left untouched) and sees the same
    batches; they differ only in their LR. Every ``interval`` updates all members are scored
    on ``val_data`` (never on the training loss); the bottom ``quantile`` copy the parameters
    and the full optimizer state (momentum buffers, Adam moments) of members drawn from the top
    ``quantile`` — a row copy inside the flat ``(K, P)`` buffers of the sweep engine, on the
    device — and multiply the copied LR by one of the ``perturb`` factors (or, with
    probability ``resample``, draw a fresh one), clipped to ``[low, high]``. All members make
    the same number of updates, so Adam's step count (one shared counter) needs no copy.

    Because every member starts from the same weights and sees the same batches, the winner's
    weights are exactly what an ordinary ``torch.optim`` training reaches with
    ``result.schedule``: the LR of whichever member held the winner's lineage at each update.

    Exploit/explore follow Jaderberg et al., "Population Based Training of Neural Networks"
    (2017) (truncation selection, perturbation by 0.8/1.2); unlike Ray Tune's PBT there is
    one process and the outcome is a reusable schedule. Truncation is greedy at short
    horizons: the LR that progresses fastest over one interval wins, and a lineage climbs to a
    high LR it never leaves (the problem FIRE PBT, Dalibard & Jaderberg 2021, and PB2,
    Parker-Holder et al. 2020, address). By default the last quarter of the run therefore
    anneals: exploits stop and every LR decays linearly towards 0, so lineages are compared
    after the same cool-down. ``compare=True`` (default) trains the K initial LRs at a
    constant rate alongside and says in ``result.notes`` whether PBT beat them.

    Args:
        model: the network; its parameters are every member's starting point.
        train_data: ``(x, y)`` tensors (batched by ``batch_size``, reshuffled each epoch with
            ``seed``) or a re-iterable of ``(x, y)`` batches such as a DataLoader.
        loss_fn: ``loss_fn(output, y)`` -> scalar mean loss.
        population: number of members K (>= 2).
        low, high: LR bounds; the initial LRs are log-spaced over them (``init="grid"``) or
            drawn log-uniformly (``init="random"``), and explored LRs are clipped to them.
        optimizer: ``"sgd"``, ``"sgd_momentum"``, ``"adam"`` or ``"adamw"`` (torch.optim's
            defaults; ``momentum``, ``weight_decay`` as in :func:`lrkit.sweep`).
        steps, epochs: length of the run (at most one; default one epoch).
        interval: updates between exploits (default: a tenth of the run, at least 1).
        quantile: fraction replaced (and copied from) at each exploit, in ``(0, 0.5]``.
        perturb: the two LR factors of explore (> 0).
        resample: probability of drawing a fresh LR instead of perturbing.
        select: ``"truncation"`` (replace the bottom ``quantile`` by the top, as in the paper)
            or ``"consistent"``: a pair is kept only when the source is also better on each
            half of ``val_data``, so that a member is not replaced on a difference within the
            noise of the validation estimate.
        anneal: fraction of the run (rounded to whole rounds), at its end, in which there is
            no more exploit or explore and every member's LR decays linearly towards 0
            (``lrkit.schedules.linear``), as in a warmup-stable-decay schedule; 0 turns it off
            (the classic algorithm). Greedy truncation favours LRs that progress fastest over
            one interval; the final decay judges every lineage after the same cool-down. The
            default 0.25 was chosen on two tasks and checked on three others
            (``benchmarks/pbt.py``, docs/benchmarks.md).
        compare: also train the K initial LRs at a constant rate (no exploit, no anneal) in
            the same vectorised run — twice the compute — and report in ``result.baseline_*``
            and ``result.notes`` whether PBT's winner beat the best of them (the equal-cost
            grid).
        val_data: ``(x, y)`` tensors (or an iterable of ``(x, y)`` batches) the members are
            ranked on; required (no split is carved out of ``train_data``, which would change
            the batches the schedule is replayed on).
        metric: ``metric(output, y) -> float`` on ``val_data``, larger is better unless
            ``maximize=False``; without it the validation loss (smaller is better).
        seed: batch order, dropout masks, initial LRs (for ``init="random"``) and every
            exploit/explore draw: the same seed gives the same result.
        device, dtype: where the population lives (default: those of ``model``).
        engine: ``"auto"``, ``"vmap"`` or ``"batched-mlp"`` (see :func:`lrkit.sweep`).
        progress: called as ``progress(steps_done, steps_total, best_score_so_far)``.

    Example:
        >>> import torch, lrkit
        >>> g = torch.Generator().manual_seed(0)
        >>> x = torch.randn(200, 4, generator=g)
        >>> y = (x[:, 0] > 0).long()
        >>> net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 2))
        >>> r = lrkit.pbt(net, (x, y), loss_fn=torch.nn.functional.cross_entropy, population=4,
        ...               steps=20, interval=5, val_data=(x[:50], y[:50]), batch_size=50)
        >>> r.lrs.shape, len(r.schedule.to_dict()) > 0
        ((4, 4), True)
    """
    import torch

    from lrkit.pbt._rounds import Rounds
    from lrkit.schedules import linear
    from lrkit.sweep.population import Population, check_run, make_engine, prepare, train

    t0 = time.perf_counter()
    check_arguments(population, low, high, optimizer, quantile, perturb, resample, init, steps,
                    epochs, interval)  # fmt: skip
    check_choice("pbt", "select", select, ("truncation", "consistent"))
    anneal = check_float("pbt", "anneal", anneal, low=0.0, high=1.0, high_open=True)
    check_bool("pbt", "compare", compare)
    if val_data is None:
        raise ConfigError(
            "pbt ranks members on validation data, never on the training loss: give "
            "val_data=(x, y), but got val_data=None"
        )
    weight_decay = check_run("pbt", optimizer, None, None, momentum, weight_decay)
    setup = prepare(model, train_data, val_data=val_data, steps=steps, epochs=epochs,
                    batch_size=batch_size, seed=seed, shuffle=shuffle, dtype=dtype,
                    device=device)  # fmt: skip
    total = setup.total
    if interval is None:
        interval = max(1, total // 10)
    if interval > total:
        raise ConfigError(
            f"interval must be at most the run's {total} updates, but got interval={interval!r}"
        )
    ends = [*range(interval, total, interval), total]
    # The anneal phase starts at a round boundary: the last exploit happens there.
    tail = min(math.floor(anneal * len(ends) + 0.5), len(ends) - 1)
    last_exploit = ends[-1 - tail] if tail else total
    rng = np.random.default_rng(seed)
    lr0 = initial_lrs(population, low=low, high=high, init=init, rng=rng)
    eng = make_engine(model, loss_fn, engine)
    higher = maximize if metric is not None else False
    rows = np.concatenate([lr0, lr0]) if compare else lr0
    mult = None
    if tail:
        decay = linear(1.0, end=0.0, steps=total - last_exploit)
        shape = np.ones(total)
        shape[last_exploit:] = decay(np.arange(total - last_exploit))
        mult = np.ones((total, len(rows), 1))
        mult[:, :population, 0] = shape[:, None]
    pop = Population(eng, optimizer, torch.as_tensor(rows, dtype=setup.dtype, device=setup.device),
                     momentum=momentum, weight_decay=weight_decay, multipliers=mult)  # fmt: skip
    assert setup.val is not None
    state = Rounds(pop, lr0, ends, val=setup.val, score_fn=metric or loss_fn, higher=higher,
                   quantile=quantile, perturb=perturb, resample=resample, low=low, high=high,
                   select=select, last_exploit=last_exploit, piece=max(1, 4 * batch_size),
                   rng=rng)  # fmt: skip

    def on_step(step: int) -> None:
        if progress is not None:
            progress(step, total, state.best)

    losses = train(pop, setup, eval_at=ends, on_eval=state, on_step=on_step)[:population]
    return build_result(state, losses, criterion="val_metric" if metric else "val_loss",
                        optimizer=optimizer, engine=eng.name, interval=interval,
                        quantile=float(quantile), seed=seed, select=select, anneal=anneal,
                        anneal_from=last_exploit if tail else None, compare=compare,
                        wall_time_s=time.perf_counter() - t0)  # fmt: skip
