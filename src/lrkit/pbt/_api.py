"""``pbt``: population-based training of the LR on the vectorised sweep engine."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from lrkit.errors import ConfigError
from lrkit.pbt._result import Exploit, PBTResult, lineage_schedule
from lrkit.pbt._select import explore, initial_lrs, truncation_select

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
    if isinstance(population, bool) or not isinstance(population, int) or population < 2:
        raise ConfigError(f"population must be an integer >= 2, but got population={population!r}")
    for name, v in (("low", low), ("high", high)):
        if not isinstance(v, int | float) or not (math.isfinite(v) and v > 0):
            raise ConfigError(f"{name} must be a positive finite number, but got {name}={v!r}")
    if not low <= high:
        raise ConfigError(f"low must be <= high, but got low={low!r}, high={high!r}")
    if optimizer not in _OPTIMIZERS:
        raise ConfigError(
            f"optimizer must be one of {_OPTIMIZERS}, but got optimizer={optimizer!r}"
        )
    if not isinstance(quantile, int | float) or not 0 < quantile <= 0.5:
        raise ConfigError(f"quantile must be in (0, 0.5], but got quantile={quantile!r}")
    try:
        f0, f1 = (float(f) for f in perturb)
    except (TypeError, ValueError):
        raise ConfigError(f"perturb must be two factors, but got perturb={perturb!r}") from None
    if not (math.isfinite(f0) and math.isfinite(f1) and f0 > 0 and f1 > 0):
        raise ConfigError(f"perturb factors must be > 0 and finite, but got perturb={perturb!r}")
    if not isinstance(resample, int | float) or not 0 <= resample <= 1:
        raise ConfigError(f"resample must be in [0, 1], but got resample={resample!r}")
    if init not in ("grid", "random"):
        raise ConfigError(f"init must be 'grid' or 'random', but got init={init!r}")
    if steps is not None and epochs is not None:
        raise ConfigError(
            f"give steps or epochs, not both, but got steps={steps!r}, epochs={epochs!r}"
        )
    for name, n in (("steps", steps), ("epochs", epochs), ("interval", interval)):
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
            raise ConfigError(f"{name} must be a positive integer, but got {name}={n!r}")


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
    one process and the outcome is a reusable schedule.

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
        >>> import torch
        >>> from torch import nn
        >>> from lrkit.pbt import pbt
        >>> _ = torch.manual_seed(0)
        >>> x, y = torch.randn(256, 8), torch.randint(0, 3, (256,))
        >>> model = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 3))
        >>> r = pbt(model, (x, y), loss_fn=nn.CrossEntropyLoss(), population=4, steps=20,
        ...         interval=5, val_data=(x[:64], y[:64]), batch_size=64)
        >>> r.lrs.shape, len(r.schedule.to_dict()) > 0
        ((4, 4), True)
    """
    import torch

    from lrkit.pbt._population import Population
    from lrkit.sweep._data import BatchSource, placement, validation_pair
    from lrkit.sweep._engines import FuncEngine, make_engine

    t0 = time.perf_counter()
    check_arguments(population, low, high, optimizer, quantile, perturb, resample, init, steps, epochs,
           interval)  # fmt: skip
    if val_data is None:
        raise ConfigError(
            "pbt ranks members on validation data, never on the training loss: give "
            "val_data=(x, y), but got val_data=None"
        )
    if not 0 <= momentum < 1:
        raise ConfigError(f"momentum must be in [0, 1), but got momentum={momentum!r}")
    if weight_decay is None:
        weight_decay = 0.01 if optimizer == "adamw" else 0.0  # torch.optim's defaults
    if not (math.isfinite(weight_decay) and weight_decay >= 0):
        raise ConfigError(f"weight_decay must be >= 0, but got weight_decay={weight_decay!r}")
    dt, dev = placement(model, dtype, device)

    source = BatchSource(train_data, batch_size=batch_size, seed=seed, shuffle=shuffle)
    val_data = validation_pair(val_data, next(next(source.epochs()))[0])
    total = steps if steps is not None else (epochs or 1) * source.steps_per_epoch
    if interval is None:
        interval = max(1, total // 10)
    if interval > total:
        raise ConfigError(
            f"interval must be at most the run's {total} updates, but got interval={interval!r}"
        )
    ends = [*range(interval, total, interval), total]
    starts = [0, *ends[:-1]]
    rounds = len(ends)

    rng = np.random.default_rng(seed)
    lr0 = initial_lrs(population, low=low, high=high, init=init, rng=rng)
    eng = make_engine(model, loss_fn, engine)

    def to_dev(t: torch.Tensor) -> torch.Tensor:
        return t.to(device=dev, dtype=dt) if t.is_floating_point() else t.to(device=dev)

    val_x, val_y = to_dev(val_data[0]), to_dev(val_data[1])
    criterion = "val_metric" if metric is not None else "val_loss"
    higher = maximize if metric is not None else False
    score_fn: Callable[[torch.Tensor, torch.Tensor], Any] = (
        metric if metric is not None else loss_fn
    )
    piece = max(1, 4 * batch_size)

    pop = Population(
        eng,
        optimizer,
        torch.as_tensor(lr0, dtype=dt, device=dev),
        momentum=momentum,
        weight_decay=weight_decay,
    )
    lrs = np.empty((population, rounds))
    metrics = np.full((population, rounds), np.nan)
    parents = np.tile(np.arange(population)[:, None], (1, rounds))
    loss_buf = torch.empty(population, total, dtype=dt, device=dev)
    lineage: list[Exploit] = []
    cur_lr = lr0.copy()
    best_so_far = math.nan

    was_training = model.training
    fork_devices = [dev] if dev.type == "cuda" else []
    try:
        model.train()
        with torch.random.fork_rng(devices=fork_devices):
            torch.manual_seed(seed)
            step, r = 0, 0
            lrs[:, 0] = cur_lr
            epochs_iter = source.epochs()
            while step < total:
                for x, y in next(epochs_iter):
                    x, y = to_dev(x), to_dev(y)
                    if step == 0 and isinstance(eng, FuncEngine):
                        try:
                            loss = pop.step(x, y)
                        except (RuntimeError, NotImplementedError) as exc:
                            msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                            raise ConfigError(
                                f"model {type(model).__name__} cannot be trained under "
                                f"torch.func.vmap: {type(exc).__name__}: {msg}"
                            ) from exc
                    else:
                        loss = pop.step(x, y)
                    loss_buf[:, step] = loss
                    step += 1
                    if step == ends[r]:
                        scores = np.array(pop.evaluate(val_x, val_y, score_fn, piece))
                        metrics[:, r] = scores
                        if np.isfinite(scores).any():
                            best = float(np.nanmax(scores) if higher else np.nanmin(scores))
                            if math.isnan(best_so_far) or (
                                best > best_so_far if higher else best < best_so_far
                            ):
                                best_so_far = best
                        if step < total:
                            losers, sources = truncation_select(
                                scores, quantile=quantile, maximize=higher, rng=rng
                            )
                            new = explore(cur_lr[sources], perturb=perturb, low=low, high=high,
                                          resample=resample, rng=rng)  # fmt: skip
                            if len(losers):
                                dst = torch.as_tensor(losers, device=dev)
                                src = torch.as_tensor(sources, device=dev)
                                pop.exploit(dst, src)
                                pop.set_lrs(dst, new)
                            for m, s, lr in zip(losers, sources, new, strict=True):
                                lineage.append(
                                    Exploit(step, int(m), int(s), float(cur_lr[s]), float(lr))
                                )
                            cur_lr[losers] = new
                            parents[losers, r + 1] = sources
                            lrs[:, r + 1] = cur_lr
                        r += 1
                    if progress is not None:
                        progress(step, total, best_so_far)
                    if step == total:
                        break
    finally:
        model.train(was_training)

    final = metrics[:, -1]
    key = np.where(np.isfinite(final), final * (1.0 if higher else -1.0), -np.inf)
    best_index = int(np.argmax(key))
    path = np.empty(rounds, dtype=int)
    path[-1] = best_index
    for rr in range(rounds - 1, 0, -1):
        path[rr - 1] = parents[path[rr], rr]
    schedule = lineage_schedule(np.asarray(starts), lrs[path, np.arange(rounds)])
    return PBTResult(
        schedule=schedule,
        lrs=lrs,
        metrics=metrics,
        parents=parents,
        losses=loss_buf.double().cpu().numpy(),
        eval_steps=np.asarray(ends, dtype=int),
        lineage=tuple(lineage),
        best_index=best_index,
        best_metric=float(final[best_index]),
        winner_path=path,
        criterion=criterion,
        maximize=higher,
        optimizer=optimizer,
        engine=eng.name,
        interval=interval,
        quantile=float(quantile),
        seed=seed,
        wall_time_s=time.perf_counter() - t0,
        best_weights=pop.weights(best_index),
    )
