# A task file for `lrkit study my_task.py:make` (and lrkit find | tune | sweep | pbt).
# Put your data and model in make(); keep the return value, a lrkit.tasks.Task.
import torch
from torch import nn

from lrkit.tasks import Task, accuracy, cross_entropy


def make() -> Task:
    g = torch.Generator().manual_seed(0)  # your data: (x, y) tensors, y class indices
    x = torch.randn(1200, 20, generator=g)
    y = (x[:, :3] + 0.3 * torch.randn(1200, 3, generator=g)).argmax(1)
    return Task(
        name="my-task",
        make_model=lambda: nn.Sequential(nn.Linear(20, 64), nn.ReLU(), nn.Linear(64, 3)),
        train=(x[:1000], y[:1000]),
        val=(x[1000:], y[1000:]),
        loss_fn=cross_entropy,  # (logits, y) -> scalar loss
        metric=accuracy,  # (logits, y) -> float; higher_is_better=False for an error rate
        optimizer="adam",  # the recipe: optimizer, lr, batch_size, epochs
        lr=1e-3,
        batch_size=64,
        epochs=10,
    )
