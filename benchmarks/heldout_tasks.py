"""Tasks no lrkit default was chosen on, for checking the finder's rule on unseen ground.

Loaded like any user task: ``lrkit find benchmarks/heldout_tasks.py:digits_cnn``. The
finder's default ("fitted minimum / 3") was picked on the three built-in tasks; these tasks
were added afterwards and never used to choose or tune anything.
"""

from __future__ import annotations

from typing import Any

from lrkit.tasks import Task, accuracy, cross_entropy


def _classification(
    name: str, model: Any, data: tuple[Any, Any, Any, Any], batch_size: int, epochs: int
) -> Task:
    """A cross-entropy / accuracy task; recipe Adam 1e-3 at ``batch_size`` for ``epochs``."""
    x, y, xv, yv = data
    return Task(
        name=name,
        make_model=model,
        train=(x, y),
        val=(xv, yv),
        loss_fn=cross_entropy,
        metric=accuracy,
        optimizer="adam",
        lr=1e-3,
        batch_size=batch_size,
        epochs=epochs,
    )


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

    return _classification("digits-cnn", model, (x, y, xv, yv), 64, 15)


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

    return _classification("mnist1d-bn-mlp", model, (x, y, xv, yv), 128, 20)


# --- Added in session 3, before any finder result on them was seen; never used to choose
# anything. A residual LayerNorm/SiLU MLP and a tanh/dropout MLP on synthetic tabular data:
# architectures (residual connections, LayerNorm, saturating activations, dropout) and a data
# kind the other tasks do not have.


def digits_resmlp() -> Task:
    """Digits with a pre-norm residual MLP (64-128, two LayerNorm/SiLU residual blocks, 10);
    Adam 1e-3, batch 32, 15 epochs."""
    import torch
    from torch import nn

    from lrkit.tasks._data import digits_arrays

    x, y, xv, yv = (torch.from_numpy(a) for a in digits_arrays())

    class Block(nn.Module):
        def __init__(self, width: int) -> None:
            super().__init__()
            self.norm = nn.LayerNorm(width)
            self.fc1 = nn.Linear(width, 2 * width)
            self.fc2 = nn.Linear(2 * width, width)

        def forward(self, h: Any) -> Any:
            return h + self.fc2(nn.functional.silu(self.fc1(self.norm(h))))

    def model() -> Any:
        return nn.Sequential(
            nn.Linear(64, 128), Block(128), Block(128), nn.LayerNorm(128), nn.Linear(128, 10)
        )

    return _classification("digits-resmlp", model, (x, y, xv, yv), 32, 15)


def tabular_tanh_mlp() -> Task:
    """Synthetic tabular data (scikit-learn ``make_classification``: 8000 samples, 20 features,
    6 classes, 3% flipped labels; 6000 train / 2000 validation, standardised) and a tanh MLP
    with dropout (20-64-64-6); Adam 1e-3, batch 64, 12 epochs."""
    import numpy as np
    import torch
    from sklearn.datasets import make_classification
    from torch import nn

    xa, ya = make_classification(
        n_samples=8000,
        n_features=20,
        n_informative=12,
        n_redundant=4,
        n_classes=6,
        n_clusters_per_class=2,
        class_sep=1.0,
        flip_y=0.03,
        random_state=7,
    )
    mean, std = xa[:6000].mean(0), xa[:6000].std(0) + 1e-8
    xa = ((xa - mean) / std).astype(np.float32)
    x, xv = torch.from_numpy(xa[:6000]), torch.from_numpy(xa[6000:])
    y, yv = (
        torch.from_numpy(ya[:6000].astype(np.int64)),
        torch.from_numpy(ya[6000:].astype(np.int64)),
    )

    def model() -> Any:
        return nn.Sequential(
            nn.Linear(20, 64),
            nn.Tanh(),
            nn.Dropout(0.1),
            nn.Linear(64, 64),
            nn.Tanh(),
            nn.Dropout(0.1),
            nn.Linear(64, 6),
        )

    return _classification("tabular-tanh-mlp", model, (x, y, xv, yv), 64, 12)
