"""``sweep``: K learning rates trained at once, in one vectorised process."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from lrkit.errors import ConfigError
from lrkit.sweep._result import SweepResult, final_scores

if TYPE_CHECKING:
    import torch
    from torch import nn

__all__ = ["sweep"]

_OPTIMIZERS = ("sgd", "sgd_momentum", "adam", "adamw")


def _check_lrs(lrs: Sequence[float] | np.ndarray) -> np.ndarray:
    try:
        arr = np.asarray(lrs, dtype=float).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"lrs must be a sequence of numbers, but got lrs={lrs!r}") from exc
    if arr.size == 0:
        raise ConfigError("lrs must hold at least one learning rate, but got lrs=[]")
    for i, v in enumerate(arr):
        if not (math.isfinite(v) and v > 0):
            raise ConfigError(f"lrs must be positive and finite, but got lrs[{i}]={float(v)!r}")
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
    frozen and reported as diverged; the others go on.

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
    import torch

    from lrkit.optim._registry import OPTIMIZERS as _ALL_OPTIMIZERS
    from lrkit.sweep._data import BatchSource, placement, schedule_multipliers, validation_pair
    from lrkit.sweep._engines import FuncEngine, make_engine
    from lrkit.sweep._memory import auto_chunk, bytes_per_copy, memory_budget
    from lrkit.sweep._optim import FlatOptimizer

    t0 = time.perf_counter()
    lr_arr = _check_lrs(lrs)
    if optimizer not in _OPTIMIZERS and optimizer not in _ALL_OPTIMIZERS:
        raise ConfigError(
            f"optimizer must be one of {_ALL_OPTIMIZERS}, but got optimizer={optimizer!r}"
        )
    sequential = optimizer not in _OPTIMIZERS
    if sequential and str(optimizer).startswith("hd") and schedule is not None:
        raise ConfigError(
            f"optimizer={optimizer!r} learns its own LR by hypergradient descent; "
            "it cannot follow a schedule (pass schedule=None)"
        )
    if steps is not None and epochs is not None:
        raise ConfigError(
            f"give steps or epochs, not both, but got steps={steps!r}, epochs={epochs!r}"
        )
    if steps is not None and (not isinstance(steps, int) or steps < 1):
        raise ConfigError(f"steps must be a positive integer, but got steps={steps!r}")
    if epochs is not None and (not isinstance(epochs, int) or epochs < 1):
        raise ConfigError(f"epochs must be a positive integer, but got epochs={epochs!r}")
    if not 0 <= momentum < 1:
        raise ConfigError(f"momentum must be in [0, 1), but got momentum={momentum!r}")
    if weight_decay is None:
        weight_decay = 0.01 if optimizer == "adamw" else 0.0  # torch.optim's defaults
    if not (math.isfinite(weight_decay) and weight_decay >= 0):
        raise ConfigError(f"weight_decay must be >= 0, but got weight_decay={weight_decay!r}")
    if chunk is not None and (not isinstance(chunk, int) or chunk < 1):
        raise ConfigError(f"chunk must be a positive integer, but got chunk={chunk!r}")
    if metric is not None and val_data is None:
        raise ConfigError("metric needs val_data, but got val_data=None")
    dt, dev = placement(model, dtype, device)

    source = BatchSource(train_data, batch_size=batch_size, seed=seed, shuffle=shuffle)
    first_x, _first_y = next(next(source.epochs()))
    val_data = validation_pair(val_data, first_x)
    total = steps if steps is not None else (epochs or 1) * source.steps_per_epoch
    mult = schedule_multipliers(schedule, total)
    eval_at: list[int] = []
    if val_data is not None:
        eval_at = list(range(source.steps_per_epoch, total + 1, source.steps_per_epoch))
        if not eval_at or eval_at[-1] != total:
            eval_at.append(total)

    k = len(lr_arr)
    if sequential:
        # Optimizers with no vectorised form (hypergradient, LR-free packages): the copies are
        # trained one after another, from the same weights on the same batches.
        losses, val_loss, val_metric = _sequential(
            model,
            source,
            loss_fn,
            lr_arr,
            optimizer,
            total,
            mult,
            eval_at,
            val_data,
            metric,
            dt,
            dev,
            seed,
            weight_decay,
            progress,
        )
        return _result(
            lr_arr,
            losses,
            eval_at,
            val_loss,
            val_metric,
            metric,
            val_data,
            maximize,
            optimizer,
            "sequential",
            1,
            t0,
        )
    eng = make_engine(model, loss_fn, engine)
    if chunk is None:
        per_copy = bytes_per_copy(
            model,
            first_x,
            eng.num_params,
            FlatOptimizer.state_slots(optimizer),
            torch.empty((), dtype=dt).element_size(),
        )
        chunk = auto_chunk(k, per_copy, memory_budget(dev))
    chunk = min(chunk, k)

    def to_dev(t: torch.Tensor) -> torch.Tensor:
        return t.to(device=dev, dtype=dt) if t.is_floating_point() else t.to(device=dev)

    val_x = to_dev(val_data[0]) if val_data is not None else None
    val_y = to_dev(val_data[1]) if val_data is not None else None
    mult_t = torch.as_tensor(mult, dtype=dt, device=dev)
    losses = np.empty((k, total))
    val_loss = np.full((k, len(eval_at)), np.nan) if val_data is not None else None
    val_metric = np.full((k, len(eval_at)), np.nan) if metric is not None else None

    def evaluate(flat: torch.Tensor, alive: torch.Tensor, rows: slice, col: int) -> None:
        assert val_x is not None and val_y is not None and val_loss is not None
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                piece = max(1, 4 * batch_size)
                out = torch.cat(
                    [eng.forward(flat, val_x[i : i + piece]) for i in range(0, len(val_x), piece)],
                    dim=1,
                )
        finally:
            model.train(was_training)
        ok = alive.cpu().numpy()
        for j in range(out.shape[0]):
            if not ok[j]:
                continue
            val_loss[rows.start + j, col] = float(loss_fn(out[j], val_y))
            if val_metric is not None and metric is not None:
                val_metric[rows.start + j, col] = float(metric(out[j], val_y))

    done = 0
    was_training = model.training
    fork_devices = [dev] if dev.type == "cuda" else []
    try:
        model.train()
        for c0 in range(0, k, chunk):
            rows = slice(c0, min(k, c0 + chunk))
            kc = rows.stop - rows.start
            lr_c = torch.as_tensor(lr_arr[rows], dtype=dt, device=dev).unsqueeze(1)
            flat = eng.init_flat(kc, dt, dev)
            grad = torch.empty_like(flat)
            opt = FlatOptimizer(optimizer, flat, momentum=momentum, weight_decay=weight_decay)
            alive = torch.ones(kc, 1, dtype=torch.bool, device=dev)
            loss_buf = torch.empty(kc, total, dtype=dt, device=dev)
            nan = torch.tensor(float("nan"), dtype=dt, device=dev)
            step = 0
            epochs_iter = source.epochs()
            with torch.random.fork_rng(devices=fork_devices):
                torch.manual_seed(seed)
                while step < total:
                    for x, y in next(epochs_iter):
                        x, y = to_dev(x), to_dev(y)
                        if step == 0 and c0 == 0 and isinstance(eng, FuncEngine):
                            try:
                                loss = eng.loss_and_grad(flat, x, y, grad)
                            except (RuntimeError, NotImplementedError) as exc:
                                msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                                raise ConfigError(
                                    f"model {type(model).__name__} cannot be trained under "
                                    f"torch.func.vmap: {type(exc).__name__}: {msg} (.item(), "
                                    "data-dependent control flow or in-place updates of "
                                    "tensors that are not buffers are not supported)"
                                ) from exc
                        else:
                            loss = eng.loss_and_grad(flat, x, y, grad)
                        alive &= torch.isfinite(loss).unsqueeze(1)
                        loss_buf[:, step] = torch.where(alive.squeeze(1), loss, nan)
                        # A diverged copy gets LR 0: it stays where it was, NaN or not.
                        opt.step(flat, grad, lr_c * (mult_t[step] * alive))
                        step += 1
                        done += kc
                        if progress is not None:
                            progress(done, k * total)
                        if step in eval_at:
                            evaluate(flat, alive.squeeze(1), rows, eval_at.index(step))
                        if step == total:
                            break
            losses[rows] = loss_buf.double().cpu().numpy()
    finally:
        model.train(was_training)

    return _result(
        lr_arr,
        losses,
        eval_at,
        val_loss,
        val_metric,
        metric,
        val_data,
        maximize,
        optimizer,
        eng.name,
        chunk,
        t0,
    )


def _result(
    lr_arr: np.ndarray,
    losses: np.ndarray,
    eval_at: list[int],
    val_loss: np.ndarray | None,
    val_metric: np.ndarray | None,
    metric: Any,
    val_data: Any,
    maximize: bool,
    optimizer: str,
    engine: str,
    chunk: int,
    t0: float,
) -> SweepResult:
    bad = ~np.isfinite(losses)
    diverged_at = np.where(bad.any(axis=1), bad.argmax(axis=1), -1)
    criterion = (
        "val_metric" if metric is not None else "val_loss" if val_data is not None else "train_loss"
    )
    scores = final_scores(losses, val_loss, val_metric, criterion)
    scores = np.where(diverged_at >= 0, np.nan, scores)
    best_index: int | None = None
    if np.isfinite(scores).any():
        higher = criterion == "val_metric" and maximize
        best_index = int(np.nanargmax(scores) if higher else np.nanargmin(scores))
    return SweepResult(
        lrs=lr_arr,
        losses=losses,
        eval_steps=np.asarray(eval_at, dtype=int),
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
    )


def _sequential(
    model: nn.Module,
    source: Any,
    loss_fn: Callable[[Any, Any], Any],
    lr_arr: np.ndarray,
    optimizer: str,
    total: int,
    mult: np.ndarray,
    eval_at: list[int],
    val_data: Any,
    metric: Any,
    dt: Any,
    dev: Any,
    seed: int,
    weight_decay: float,
    progress: Callable[[int, int], None] | None,
) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """Train one ordinary copy per LR with ``lrkit.optim.make(optimizer, ...)``."""
    import copy

    import torch

    from lrkit.optim._registry import evaluating, make

    k = len(lr_arr)
    losses = np.full((k, total), np.nan)
    val_loss = np.full((k, len(eval_at)), np.nan) if val_data is not None else None
    val_metric = np.full((k, len(eval_at)), np.nan) if metric is not None else None
    learns_lr = optimizer.startswith("hd")
    fork_devices = [dev] if dev.type == "cuda" else []

    def to_dev(t: torch.Tensor) -> torch.Tensor:
        return t.to(device=dev, dtype=dt) if t.is_floating_point() else t.to(device=dev)

    kw = {"weight_decay": weight_decay} if weight_decay else {}
    for i, lr in enumerate(lr_arr.tolist()):
        net = copy.deepcopy(model).to(device=dev, dtype=dt)
        net.train()
        opt = make(optimizer, net.parameters(), lr, **kw)
        epochs_iter = source.epochs()
        step = 0
        with torch.random.fork_rng(devices=fork_devices):
            torch.manual_seed(seed)
            while step < total:
                for x, y in next(epochs_iter):
                    x, y = to_dev(x), to_dev(y)
                    if not learns_lr:
                        for group in opt.param_groups:
                            group["lr"] = lr * float(mult[step])
                    loss = loss_fn(net(x), y)
                    value = float(loss.detach())
                    losses[i, step] = value
                    if not math.isfinite(value):
                        step = total  # diverged: the rest of the row stays NaN
                        break
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    step += 1
                    if progress is not None:
                        progress(i * total + step, k * total)
                    if step in eval_at and val_data is not None and val_loss is not None:
                        col = eval_at.index(step)
                        net.eval()
                        with torch.no_grad(), evaluating(opt):
                            out = net(to_dev(val_data[0]))
                            val_loss[i, col] = float(loss_fn(out, to_dev(val_data[1])))
                            if val_metric is not None:
                                val_metric[i, col] = float(metric(out, to_dev(val_data[1])))
                        net.train()
                    if step == total:
                        break
    return losses, val_loss, val_metric
