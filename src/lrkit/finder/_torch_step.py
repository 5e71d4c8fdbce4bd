"""The torch range test's moving parts: one optimizer update at a given LR (``_StepFn``), the
batches it reads, and moving, seeding and LR-ratio helpers shared with the fine-tuning trials."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import numpy as np

from lrkit._distributed import agreed_value
from lrkit.errors import ConfigError

__all__ = ["_StepFn", "_batches", "_is_tensor_pair", "_to", "eval_loss_sum"]


class _StepFn:
    """One optimizer update at a given LR; returns the training (or validation) loss."""

    def __init__(
        self,
        model: Any,
        optimizer: Any,
        loss_fn: Callable[[Any, Any], Any],
        data_iter: Iterator[Any],
        ratios: list[float],
        device: Any,
        accumulation_steps: int,
        amp: bool,
        val_data: Any,
        batch_size: int,
    ) -> None:
        import torch

        self.model, self.optimizer, self.loss_fn = model, optimizer, loss_fn
        self.data_iter, self.ratios, self.device = data_iter, ratios, device
        self.accumulation_steps, self.amp = accumulation_steps, amp
        self.val_data, self.batch_size = val_data, batch_size
        self.scaler = torch.amp.GradScaler(device.type, enabled=amp and device.type == "cuda")

    def __call__(self, lr: float) -> float:
        import torch

        for g, ratio in zip(self.optimizer.param_groups, self.ratios):
            if isinstance(g["lr"], torch.Tensor):
                g["lr"].fill_(lr * ratio)
            else:
                g["lr"] = lr * ratio
        self.optimizer.zero_grad(set_to_none=True)
        total = 0.0
        for _ in range(self.accumulation_steps):
            # distributed: the loss is averaged over ranks before backward, so every rank
            # records the same curve and stops at the same step (lrkit._distributed)
            loss, value = agreed_value(self._forward, "find_lr")
            if not math.isfinite(value):
                return value
            total += value
            self.scaler.scale(loss / self.accumulation_steps).backward()
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        if self.val_data is not None:
            return agreed_value(lambda: (None, self._val_loss()), "find_lr")[1]
        return total / self.accumulation_steps

    def _forward(self) -> tuple[Any, float]:
        import torch

        x, y = _to(next(self.data_iter), self.device)
        with torch.autocast(self.device.type, enabled=self.amp):
            loss = self.loss_fn(self.model(x), y)
        return loss, float(loss.detach().float().item())

    def _val_loss(self) -> float:
        batches = (
            _ordered_batches(self.val_data, self.batch_size)
            if _is_tensor_pair(self.val_data)
            else self.val_data
        )
        total, count, _ = eval_loss_sum(self.model, self.loss_fn, batches, self.device, self.amp)
        if count == 0:
            raise ConfigError("val_data is empty")
        return total / count


def eval_loss_sum(
    model: Any,
    loss_fn: Callable[[Any, Any], Any],
    batches: Iterable[Any],
    device: Any,
    amp: bool,
    metric_fn: Callable[[Any, Any], Any] | None = None,
) -> tuple[float, int, float]:
    """``(sum of per-sample losses, samples, sum of per-sample metric values)`` of ``model``
    over ``batches``, in eval mode without gradients (train mode again afterwards); each
    batch's mean loss (and ``metric_fn(outputs, targets)``, when given; else the metric sum is
    0) counts its size."""
    import torch

    model.eval()
    total, count, metric = 0.0, 0, 0.0
    with torch.no_grad(), torch.autocast(device.type, enabled=amp):
        for batch in batches:
            x, y = _to(batch, device)
            out = model(x)
            n = len(x)
            total += float(loss_fn(out, y).float().item()) * n
            if metric_fn is not None:
                metric += _as_float(metric_fn(out, y)) * n
            count += n
    model.train()
    return total, count, metric


def _as_float(value: Any) -> float:
    """A metric's value (a number or a one-element tensor) as a float, or a ConfigError."""
    try:
        return float(value.item() if hasattr(value, "item") else value)
    except (TypeError, ValueError, RuntimeError) as exc:
        from lrkit.errors import ConfigError

        raise ConfigError(
            f"val_metric must return a number (or a one-element tensor), but got "
            f"{type(value).__name__}: {exc}"
        ) from None


def _is_tensor_pair(data: Any) -> bool:
    import torch

    return (
        isinstance(data, tuple | list)
        and len(data) == 2
        and all(isinstance(t, torch.Tensor) for t in data)
        and data[0].ndim >= 1
        and data[1].ndim >= 1
        and len(data[0]) == len(data[1])
    )


def _ordered_batches(data: Any, batch_size: int) -> Iterator[tuple[Any, Any]]:
    x, y = data
    for i in range(0, len(x), batch_size):
        yield x[i : i + batch_size], y[i : i + batch_size]


def _batches(data: Any, batch_size: int, seed: int) -> Iterator[Any]:
    """Endless batches: shuffled epochs of a tensor pair, or the iterable over and over."""
    import torch

    if _is_tensor_pair(data):
        x, y = data
        gen = torch.Generator().manual_seed(seed % (2**62))
        while True:
            perm = torch.randperm(len(x), generator=gen).to(x.device)
            for i in range(0, len(x), batch_size):
                idx = perm[i : i + batch_size]
                yield x[idx], y[idx]
    if not isinstance(data, Iterable):
        raise ConfigError(
            f"train_data must be an iterable of (x, y) batches, got {type(data).__name__}"
        )
    total = 0
    while True:
        count = 0
        for batch in data:
            count += 1
            yield batch
        total += count
        if count == 0:
            if total == 0:
                raise ConfigError("train_data is empty: it yielded no batch")
            return  # a one-shot iterator ran out: the sweep ends here


def _to(batch: Any, device: Any) -> tuple[Any, Any]:
    import torch

    try:
        x, y = batch
    except (TypeError, ValueError):
        raise ConfigError(
            f"train_data must yield (x, y) pairs, but a batch was {type(batch).__name__}"
        ) from None
    if isinstance(x, torch.Tensor):
        x = x.to(device, non_blocking=True)
    if isinstance(y, torch.Tensor):
        y = y.to(device, non_blocking=True)
    return x, y


def _group_ratios(optimizer: Any) -> list[float]:
    lrs = [float(g["lr"]) for g in optimizer.param_groups]
    ref = max(lrs) if lrs else 0.0
    if not ref > 0:
        return [1.0] * len(lrs)
    return [lr / ref for lr in lrs]


def _move_state(optimizer: Any, device: Any) -> None:
    import torch

    for st in optimizer.state.values():
        for k, v in st.items():
            if isinstance(v, torch.Tensor) and k != "step":
                st[k] = v.to(device)


def _seed_all(seed: int) -> None:
    import random

    import torch

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
