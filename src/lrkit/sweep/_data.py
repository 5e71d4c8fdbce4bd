"""Batches shared by all copies, and the per-step LR multiplier of a schedule."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np
import torch

from lrkit._validate import check_int
from lrkit.errors import ConfigError

__all__ = ["BatchSource", "schedule_multipliers"]


class BatchSource:
    """Epochs of ``(x, y)`` batches, replayable from the start (one replay per chunk).

    ``train_data`` is either a pair of tensors ``(x, y)`` — split into batches of
    ``batch_size``, reshuffled every epoch by a generator seeded with ``seed`` (last batch
    kept even if short) — or any re-iterable of ``(x, y)`` batches such as a ``DataLoader``.
    """

    def __init__(self, train_data: Any, *, batch_size: int, seed: int, shuffle: bool) -> None:
        self.tensors: tuple[torch.Tensor, torch.Tensor] | None = None
        self.iterable: Iterable[Any] | None = None
        if (
            isinstance(train_data, (tuple, list))
            and len(train_data) == 2
            and all(isinstance(t, torch.Tensor) for t in train_data)
        ):
            x, y = train_data
            if len(x) != len(y) or len(x) == 0:
                raise ConfigError(
                    "train_data must be (x, y) with the same non-zero length, but got "
                    f"len(x)={len(x)}, len(y)={len(y)}"
                )
            batch_size = check_int("sweep", "batch_size", batch_size)
            self.tensors = (x, y)
            self.steps_per_epoch = math.ceil(len(x) / batch_size)
        elif isinstance(train_data, Iterable) and not isinstance(train_data, Iterator):
            self.iterable = train_data
            try:
                self.steps_per_epoch = len(train_data)  # type: ignore[arg-type]
            except TypeError:
                self.steps_per_epoch = sum(1 for _ in train_data)
            if self.steps_per_epoch == 0:
                raise ConfigError("train_data must yield at least one batch, but got none")
        else:
            raise ConfigError(
                "train_data must be a pair of tensors (x, y) or a re-iterable of (x, y) batches "
                f"(e.g. a DataLoader; not a one-shot iterator), but got {type(train_data).__name__}"
            )
        self.batch_size = batch_size
        self.seed = seed
        self.shuffle = shuffle

    def epochs(self) -> Iterator[Iterator[tuple[torch.Tensor, torch.Tensor]]]:
        """An endless sequence of epochs, identical each time it is called."""
        gen = torch.Generator().manual_seed(self.seed)
        while True:
            yield self._one_epoch(gen)

    def _one_epoch(self, gen: torch.Generator) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        if self.tensors is not None:
            x, y = self.tensors
            n = len(x)
            order = torch.randperm(n, generator=gen) if self.shuffle else torch.arange(n)
            for i in range(0, n, self.batch_size):
                idx = order[i : i + self.batch_size]
                yield x[idx], y[idx]
        else:
            assert self.iterable is not None
            for batch in self.iterable:
                if not isinstance(batch, (tuple, list)) or len(batch) < 2:
                    raise ConfigError(f"each batch must be (x, y), but got {type(batch).__name__}")
                yield batch[0], batch[1]


def schedule_multipliers(schedule: Callable[..., Any] | None, steps: int) -> np.ndarray:
    """``m(k) = s(k) / ref`` for k < steps, where ref = s(0), or max|s| if s(0) == 0."""
    if schedule is None:
        return np.ones(steps)
    ks = np.arange(steps)
    try:
        values = np.asarray(schedule(ks), dtype=float)
        if values.shape != (steps,):
            raise ValueError
    except Exception:
        values = np.array([float(schedule(int(k))) for k in ks])
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        bad = int(np.flatnonzero(~np.isfinite(values) | (values < 0))[0])
        raise ConfigError(
            f"schedule must give finite non-negative values, but got schedule({bad})={float(values[bad])!r}"
        )
    ref = values[0] if values[0] != 0 else values.max()
    if ref == 0:
        raise ConfigError(f"schedule is zero for all {steps} steps; cannot scale the LRs by it")
    return values / ref


def placement(model: Any, dtype: Any, device: Any) -> tuple[Any, Any]:
    """The dtype and device the copies live on: as given, else those of ``model``'s parameters."""
    if not isinstance(model, torch.nn.Module):
        raise ConfigError(f"model must be a torch.nn.Module, but got {type(model).__name__}")
    try:
        first = next(model.parameters())
    except StopIteration:
        raise ConfigError(
            f"model has no parameters, but got model={type(model).__name__}"
        ) from None
    if isinstance(dtype, str):
        resolved = getattr(torch, dtype, None)
        if not isinstance(resolved, torch.dtype) or not resolved.is_floating_point:
            raise ConfigError(f"dtype must be a floating torch dtype, but got dtype={dtype!r}")
        dtype = resolved
    dt = dtype if dtype is not None else first.dtype
    dev = torch.device(device) if device is not None else first.device
    return dt, dev


def validation_pair(val_data: Any, train_x: torch.Tensor | None = None) -> Any:
    """``val_data`` as one ``(x, y)`` pair of tensors, or ``None``.

    Accepts a pair of tensors or an iterable of ``(x, y)`` batches (a DataLoader), whose
    batches are concatenated once (a validation set is evaluated whole, in pieces). When
    ``train_x`` (a training batch) is given, the per-sample shapes must agree.
    """
    if val_data is None:
        return None
    if (
        isinstance(val_data, tuple | list)
        and len(val_data) == 2
        and all(isinstance(t, torch.Tensor) for t in val_data)
    ):
        x, y = val_data
    else:
        try:
            batches = [tuple(b) for b in val_data]
        except TypeError:
            raise ConfigError(
                "val_data must be an (x, y) pair of tensors or an iterable of (x, y) batches, "
                f"but got {type(val_data).__name__}"
            ) from None
        if not batches or any(
            len(b) != 2 or not all(isinstance(t, torch.Tensor) for t in b) for b in batches
        ):
            raise ConfigError(
                "val_data must be an (x, y) pair of tensors or an iterable of (x, y) batches "
                "of tensors, but got an iterable that is empty or yields something else"
            )
        x = torch.cat([b[0] for b in batches])
        y = torch.cat([b[1] for b in batches])
    if len(x) != len(y) or len(x) == 0:
        raise ConfigError(
            f"val_data x and y must hold the same number (> 0) of samples, but got "
            f"{len(x)} and {len(y)}"
        )
    if train_x is not None and tuple(x.shape[1:]) != tuple(train_x.shape[1:]):
        raise ConfigError(
            f"val_data samples have shape {tuple(x.shape[1:])}, but the training samples "
            f"have {tuple(train_x.shape[1:])}"
        )
    return x, y
