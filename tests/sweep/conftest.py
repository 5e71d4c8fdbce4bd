from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
import pytest
import torch
from torch import nn


class TinyCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv1d(1, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 12, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.relu(self.conv(x.unsqueeze(1))).flatten(1))


class TinyGRU(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.gru = nn.GRU(1, 6, batch_first=True)
        self.fc = nn.Linear(6, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.gru(x.unsqueeze(-1))
        return self.fc(out[:, -1])


def make_model(name: str, dtype: torch.dtype = torch.float64) -> nn.Module:
    torch.manual_seed(1)
    if name == "mlp":
        m: nn.Module = nn.Sequential(
            nn.Linear(12, 16), nn.Tanh(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3)
        )
    elif name == "mlp-gelu":
        m = nn.Sequential(nn.Linear(12, 16), nn.GELU(), nn.Linear(16, 3, bias=False))
    elif name == "cnn":
        m = TinyCNN()
    elif name == "gru":
        m = TinyGRU()
    else:
        raise KeyError(name)
    return m.to(dtype)


@pytest.fixture(scope="session")
def data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(96, 12, generator=g, dtype=torch.float64)
    w = torch.randn(12, 3, generator=g, dtype=torch.float64)
    y = (x @ w).argmax(1)
    return x, y


def reference(
    model: nn.Module,
    batches: list[tuple[torch.Tensor, torch.Tensor]],
    *,
    lr: float,
    optimizer: str,
    mult: np.ndarray,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    weight_decay: float = 0.0,
    momentum: float = 0.9,
) -> np.ndarray:
    """An ordinary torch.optim training on ``batches``, LR set by hand each step."""
    m = copy.deepcopy(model)
    p = list(m.parameters())
    opt: torch.optim.Optimizer
    if optimizer == "sgd":
        opt = torch.optim.SGD(p, lr, weight_decay=weight_decay)
    elif optimizer == "sgd_momentum":
        opt = torch.optim.SGD(p, lr, momentum=momentum, weight_decay=weight_decay)
    elif optimizer == "adam":
        opt = torch.optim.Adam(p, lr, weight_decay=weight_decay)
    else:
        opt = torch.optim.AdamW(p, lr, weight_decay=weight_decay)
    out = []
    for k, (x, y) in enumerate(batches):
        for group in opt.param_groups:
            group["lr"] = lr * float(mult[k])
        opt.zero_grad()
        loss = loss_fn(m(x), y)
        loss.backward()
        opt.step()
        out.append(loss.item())
    return np.array(out)
