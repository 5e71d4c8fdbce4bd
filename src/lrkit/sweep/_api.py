"""``sweep``: K learning rates trained at once, in one vectorised process."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from lrkit._validate import check_choice, check_int, check_positive_float
from lrkit.errors import ConfigError
from lrkit.sweep._result import SweepResult

if TYPE_CHECKING:
    import torch
    from torch import nn

    from lrkit.sweep.population import Setup

__all__ = ["sweep"]

_VECTORISED = ("sgd", "sgd_momentum", "adam", "adamw")


def _check_lrs(lrs: Sequence[float] | np.ndarray) -> np.ndarray:
    try:
        arr = np.asarray(lrs, dtype=float).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"lrs must be a sequence of numbers, but got lrs={lrs!r}") from exc
    if arr.size == 0:
        raise ConfigError("lrs must hold at least one learning rate, but got lrs=[]")
    for i, v in enumerate(arr.tolist()):
        check_positive_float("sweep", f"lrs[{i}]", v)
    return arr


def sweep(
    model: nn.Module,
    train_data: Any,
    *,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    lrs: Sequence[float] | np.ndarray,
    optimizer: str = "sgd",
    steps: int | None = None,
    epochs: int | None = None,
    momentum: float = 0.9,
    weight_decay: float | None = None,
    schedule: Callable[[Any], Any] | None = None,
    val_data: Any = None,
    metric: Callable[[torch.Tensor, torch.Tensor], float] | None = None,
    dtype: torch.dtype | str | None = None,
    device: torch.device | str | None = None,
    chunk: int | None = None,
    seed: int = 0,
    batch_size: int = 128,
    shuffle: bool = True,
    maximize: bool = True,
    engine: str = "auto",
    progress: Callable[[int, int], None] | None = None,
) -> SweepResult:
    """Train one copy of ``model`` per learning rate, all at once, and compare them.

    Every copy starts from ``model``'s current weights (left untouched) and sees the same
    batches; only its learning rate differs. Copy ``i`` uses ``lrs[i] * m(k)`` at update
    ``k`` (from 0), with the multiplier ``m(k) = schedule(k) / schedule(0)`` — or
    ``schedule(k) / max_j schedule(j)`` over the run's steps when ``schedule(0) == 0``
    (a warmup from zero) — so a schedule's shape, not its peak value, is what counts.

    The updates match ``torch.optim`` (SGD, SGD with momentum, Adam, AdamW with their
    default betas/eps; dampening 0, no Nesterov) to rounding: in float64 each copy's loss
    curve equals an ordinary training at its LR on the same batches to ~1e-12.
    Pure ``nn.Sequential`` stacks of ``nn.Linear`` and element-wise activations run on a
    hand-batched kernel path; any other module through ``torch.func.vmap`` (the batch is
    shared, not copied): CNNs, recurrent nets (GRU, LSTM), transformers, embeddings, and
    BatchNorm, whose running statistics each copy keeps for itself as a separate training
    would (validation then runs in eval mode on them). A copy whose loss becomes NaN/inf is
    frozen and reported as diverged; the others go on. A copy whose final validation score is
    no better than the best constant prediction's (chance level, see ``at_chance``) is
    reported as failed too: ``best_lr`` is never a diverged or chance-level copy.

    Args:
        model: the network; its current parameters are every copy's starting point.
        train_data: ``(x, y)`` tensors (batched by ``batch_size``, reshuffled each epoch
            with ``seed``) or a re-iterable of ``(x, y)`` batches such as a DataLoader.
        loss_fn: ``loss_fn(output, y)`` -> scalar mean loss of one copy.
        lrs: the K base learning rates (positive).
        optimizer: ``"sgd"``, ``"sgd_momentum"``, ``"adam"`` or ``"adamw"`` (vectorised), or
            any other name of :func:`lrkit.optim.make` (hypergradient, LR-free): those have no
            vectorised form, so their copies are trained one after another (``engine`` is
            then ``"sequential"``) from the same weights on the same batches.
        steps, epochs: length of the run, in updates or passes over ``train_data``
            (at most one of them; default one epoch).
        momentum: for ``"sgd_momentum"``.
        weight_decay: L2 for SGD/Adam, decoupled for AdamW; default torch.optim's (0, and
            0.01 for AdamW).
        schedule: an lrkit schedule (or any ``s(k) -> float``) used as a multiplier shape.
        val_data: ``(x, y)`` tensors, or an iterable of ``(x, y)`` batches (a DataLoader, read
            once), evaluated after every epoch (and after the last step).
        metric: ``metric(output, y) -> float`` on the validation set; larger is better
            unless ``maximize=False``. Without it the validation loss ranks the LRs, and
            without ``val_data`` the mean training loss of the last tenth of the steps.
        dtype, device: where the copies live (default: those of ``model``'s parameters).
        chunk: copies trained at once; default from a memory estimate (half the free GPU
            memory, a quarter of the available RAM). Results do not depend on it.
        seed: batch order and dropout masks (shared by all copies).
        engine: ``"auto"``, ``"vmap"`` or ``"batched-mlp"``.
        progress: called as ``progress(steps_done, steps_total)`` over all chunks.

    Example:
        >>> import torch
        >>> from torch import nn
        >>> from lrkit.sweep import sweep
        >>> _ = torch.manual_seed(0)
        >>> x, y = torch.randn(256, 8), torch.randint(0, 3, (256,))
        >>> model = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 3))
        >>> r = sweep(model, (x, y), loss_fn=nn.CrossEntropyLoss(), lrs=[1e-3, 1e-1, 1.0],
        ...           epochs=3, batch_size=64)
        >>> r.losses.shape
        (3, 12)
        >>> r.best_lr
        1.0
    """
    from lrkit.optim._registry import OPTIMIZERS as _ALL_OPTIMIZERS
    from lrkit.sweep._data import schedule_multipliers
    from lrkit.sweep.population import check_run, prepare

    t0 = time.perf_counter()
    lr_arr = _check_lrs(lrs)
    check_choice("sweep", "optimizer", optimizer, _ALL_OPTIMIZERS)
    sequential = optimizer not in _VECTORISED
    if sequential and str(optimizer).startswith("hd") and schedule is not None:
        raise ConfigError(
            f"optimizer={optimizer!r} learns its own LR by hypergradient descent; "
            "it cannot follow a schedule (pass schedule=None)"
        )
    weight_decay = check_run("sweep", optimizer, steps, epochs, momentum, weight_decay)
    if chunk is not None:
        chunk = check_int("sweep", "chunk", chunk, low=1)
    if metric is not None and val_data is None:
        raise ConfigError("metric needs val_data, but got val_data=None")
    setup = prepare(model, train_data, val_data=val_data, steps=steps, epochs=epochs,
                    batch_size=batch_size, seed=seed, shuffle=shuffle, dtype=dtype,
                    device=device)  # fmt: skip
    mult = schedule_multipliers(schedule, setup.total)
    scores: list[Callable[[Any, Any], Any]] = [loss_fn] if setup.val is not None else []
    if metric is not None:
        scores.append(metric)
    run = _sequential if sequential else _vectorised
    plan = _Plan(loss_fn, optimizer, mult, scores, chunk, momentum, weight_decay, engine, progress)
    losses, table, name, chunk = run(model, setup, lr_arr, plan)
    return _result(model, loss_fn, metric, setup, lr_arr, losses, table, maximize, optimizer,
                   name, chunk, t0)  # fmt: skip


@dataclass(frozen=True)
class _Plan:
    """How every copy of a sweep trains, and what it is scored with."""

    loss_fn: Any
    optimizer: str
    mult: np.ndarray
    scores: list[Any]
    chunk: int | None
    momentum: float
    weight_decay: float
    engine: str
    progress: Callable[[int, int], None] | None


# losses (K, steps), validation scores (S, K, E), engine name, chunk
_Trained = tuple[np.ndarray, np.ndarray, str, int]


def _vectorised(model: nn.Module, setup: Setup, lr_arr: np.ndarray, plan: _Plan) -> _Trained:
    """All copies in chunks of ``chunk`` Populations; losses ``(K, steps)``, scores ``(S, K, E)``."""
    import torch

    from lrkit.sweep._engines import make_engine
    from lrkit.sweep._memory import auto_chunk, bytes_per_copy, memory_budget
    from lrkit.sweep._optim import FlatOptimizer
    from lrkit.sweep.population import Population, train

    k, total, dt, dev = len(lr_arr), setup.total, setup.dtype, setup.device
    eng = make_engine(model, plan.loss_fn, plan.engine)
    chunk = plan.chunk
    if chunk is None:
        itemsize = torch.empty((), dtype=dt).element_size()
        slots = FlatOptimizer.state_slots(plan.optimizer)
        per_copy = bytes_per_copy(model, setup.first_x, eng.num_params, slots, itemsize)
        chunk = auto_chunk(k, per_copy, memory_budget(dev))
    chunk = min(chunk, k)
    eval_at = setup.epoch_ends() if setup.val is not None else []
    losses = np.empty((k, total))
    table = np.full((len(plan.scores), k, len(eval_at)), np.nan)
    for c0 in range(0, k, chunk):
        rows = slice(c0, min(k, c0 + chunk))
        lr_c = torch.as_tensor(lr_arr[rows], dtype=dt, device=dev)
        pop = Population(eng, plan.optimizer, lr_c, momentum=plan.momentum,
                         weight_decay=plan.weight_decay, multipliers=plan.mult)  # fmt: skip
        kc = pop.size

        def on_eval(_step: int, col: int, pop: Population = pop, rows: slice = rows) -> None:
            assert setup.val is not None
            piece = max(1, 4 * setup.batch_size)
            table[:, rows, col] = pop.evaluate(setup.val[0], setup.val[1], plan.scores, piece)

        def on_step(step: int, c0: int = c0, kc: int = kc) -> None:
            if plan.progress is not None:
                plan.progress(c0 * total + step * kc, k * total)

        losses[rows] = train(pop, setup, eval_at=eval_at, on_eval=on_eval, on_step=on_step)
    return losses, table, eng.name, chunk


def _sequential(model: nn.Module, setup: Setup, lr_arr: np.ndarray, plan: _Plan) -> _Trained:
    """Optimizers with no vectorised form (hypergradient, LR-free packages): one ordinary
    training per LR, one after another, from the same weights on the same batches."""
    from lrkit.sweep._sequential import OrdinaryCopy
    from lrkit.sweep.population import train

    k, total = len(lr_arr), setup.total
    eval_at = setup.epoch_ends() if setup.val is not None else []
    losses = np.empty((k, total))
    table = np.full((len(plan.scores), k, len(eval_at)), np.nan)
    for i, lr in enumerate(lr_arr.tolist()):
        one = OrdinaryCopy(model, plan.loss_fn, setup, plan.optimizer, lr, plan.mult,
                           plan.weight_decay)  # fmt: skip

        def on_eval(_step: int, col: int, one: OrdinaryCopy = one, i: int = i) -> None:
            assert setup.val is not None
            table[:, i : i + 1, col] = one.evaluate(setup.val[0], setup.val[1], plan.scores)

        def on_step(step: int, i: int = i) -> None:
            if plan.progress is not None:
                plan.progress(i * total + step, k * total)

        losses[i] = train(one, setup, eval_at=eval_at, on_eval=on_eval, on_step=on_step)[0]
    return losses, table, "sequential", 1


def _result(
    model: nn.Module,
    loss_fn: Any,
    metric: Any,
    setup: Setup,
    lr_arr: np.ndarray,
    losses: np.ndarray,
    table: np.ndarray,
    maximize: bool,
    optimizer: str,
    engine: str,
    chunk: int,
    t0: float,
) -> SweepResult:
    from lrkit.sweep._chance import at_chance, chance_score
    from lrkit.sweep._result import final_scores

    bad = ~np.isfinite(losses)
    diverged_at = np.where(bad.any(axis=1), bad.argmax(axis=1), -1)
    # A diverged copy is frozen: its loss reads NaN from the step it diverged on.
    after = np.arange(losses.shape[1]) >= diverged_at[:, None]
    losses[(diverged_at[:, None] >= 0) & after] = np.nan
    val_loss = table[0] if setup.val is not None else None
    val_metric = table[1] if metric is not None else None
    criterion = (
        "val_metric"
        if metric is not None
        else "val_loss"
        if setup.val is not None
        else "train_loss"
    )
    final = np.where(
        diverged_at >= 0, np.nan, final_scores(losses, val_loss, val_metric, criterion)
    )
    higher = criterion == "val_metric" and maximize
    chance = None
    if setup.val is not None:
        chance = chance_score(_template(model, setup), setup.val[1],
                              metric if metric is not None else loss_fn)  # fmt: skip
    stuck = at_chance(final, chance, higher=higher, bounded=criterion == "val_metric",
                      n=len(setup.val[1]) if setup.val is not None else 0)  # fmt: skip
    ok = np.isfinite(final) & ~stuck
    best_index: int | None = None
    if ok.any():
        key = np.where(ok, final if higher else -final, -np.inf)
        best_index = int(np.argmax(key))
    return SweepResult(
        lrs=lr_arr,
        losses=losses,
        eval_steps=np.asarray(setup.epoch_ends() if setup.val is not None else [], dtype=int),
        val_loss=val_loss,
        val_metric=val_metric,
        diverged_at=diverged_at.astype(int),
        best_index=best_index,
        criterion=criterion,
        maximize=maximize,
        optimizer=optimizer,
        engine=engine,
        chunk=chunk,
        wall_time_s=time.perf_counter() - t0,
        at_chance=stuck,
        chance_score=chance,
    )


def _template(model: nn.Module, setup: Setup) -> Any:
    """The model's output on one validation sample (its shape is what counts), in eval mode."""
    import torch

    assert setup.val is not None
    p = next(model.parameters())
    x = setup.val[0][:1]
    x = x.to(device=p.device, dtype=p.dtype) if x.is_floating_point() else x.to(p.device)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            return model(x).to(setup.dtype)
    except Exception:  # the shape cannot be read: no chance level, nothing flagged
        return None
    finally:
        model.train(was_training)
