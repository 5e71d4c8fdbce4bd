"""Tasks no lrkit default was chosen on, for checking the finder's rule on unseen ground.

Loaded like any user task: ``lrkit find benchmarks/heldout_tasks.py:digits_cnn``. The
finder's default ("fitted minimum / 3") was picked on the three built-in tasks; these tasks
were added afterwards and never used to choose or tune anything.
"""

from __future__ import annotations

from typing import Any

from lrkit.tasks import Task, accuracy, cross_entropy


def digits_cnn() -> Task:
    """scikit-learn digits as 1x8x8 images, a two-layer 2-D CNN; Adam 1e-3, batch 64, 15 epochs."""
    import torch
    from torch import nn

    from lrkit.tasks._data import digits_arrays

    x, y, xv, yv = (torch.from_numpy(a) for a in digits_arrays())

    def model() -> Any:
        return nn.Sequential(
            nn.Unflatten(1, (1, 8, 8)),
            nn.Conv2d(1, 16, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(16, 32, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Flatten(),
            nn.Linear(32 * 4 * 4, 10),
        )

    return Task(
        name="digits-cnn",
        make_model=model,
        train=(x, y),
        val=(xv, yv),
        loss_fn=cross_entropy,
        metric=accuracy,
        optimizer="adam",
        lr=1e-3,
        batch_size=64,
        epochs=15,
    )


def mnist1d_bn_mlp() -> Task:
    """MNIST-1D with a wider MLP using BatchNorm and GELU (40-256-256-10); Adam 1e-3, batch 128,
    20 epochs."""
    import torch
    from torch import nn

    from lrkit.tasks._data import mnist1d_arrays

    x, y, xv, yv = (torch.from_numpy(a) for a in mnist1d_arrays())

    def model() -> Any:
        return nn.Sequential(
            nn.Linear(40, 256),
            nn.BatchNorm1d(256),
            nn.GELU(),
            nn.Linear(256, 256),
            nn.BatchNorm1d(256),
            nn.GELU(),
            nn.Linear(256, 10),
        )

    return Task(
        name="mnist1d-bn-mlp",
        make_model=model,
        train=(x, y),
        val=(xv, yv),
        loss_fn=cross_entropy,
        metric=accuracy,
        optimizer="adam",
        lr=1e-3,
        batch_size=128,
        epochs=20,
    )
