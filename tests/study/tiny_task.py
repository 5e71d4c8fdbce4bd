"""A tiny task for the study's tests: 10 features, 3 classes, a linear rule plus noise.

Also loaded as a user task file (``tiny_task.py:make``) to test that path.
"""

from __future__ import annotations

from typing import Any


def make(name: str = "tiny<task>", conv: bool = False) -> Any:
    import torch
    from torch import nn

    from lrkit.tasks import Task, accuracy, cross_entropy

    gen = torch.Generator().manual_seed(0)
    w = torch.randn(10, 3, generator=gen)
    x = torch.randn(600, 10, generator=gen)
    y = (x @ w + 0.5 * torch.randn(600, 3, generator=gen)).argmax(dim=1)

    def model() -> nn.Module:
        if conv:
            return nn.Sequential(
                nn.Unflatten(1, (1, 10)),
                nn.Conv1d(1, 4, 3),
                nn.ReLU(),
                nn.Flatten(),
                nn.Linear(32, 3),
            )
        return nn.Sequential(nn.Linear(10, 16), nn.ReLU(), nn.Linear(16, 3))

    return Task(
        name=name,
        make_model=model,
        train=(x[:400], y[:400]),
        val=(x[400:], y[400:]),
        loss_fn=cross_entropy,
        metric=accuracy,
        optimizer="adam",
        lr=1e-2,
        batch_size=64,
        epochs=3,
    )


def make_conv() -> Any:
    return make("tiny-conv", conv=True)
