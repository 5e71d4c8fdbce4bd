from __future__ import annotations

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


def make_model(name: str) -> nn.Module:
    torch.manual_seed(1)
    if name == "mlp":
        m: nn.Module = nn.Sequential(
            nn.Linear(12, 16), nn.Tanh(), nn.Linear(16, 16), nn.ReLU(), nn.Linear(16, 3)
        )
    elif name == "cnn":
        m = TinyCNN()
    elif name == "bn-mlp":
        m = nn.Sequential(nn.Linear(12, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 3))
    else:
        raise KeyError(name)
    return m.double()


@pytest.fixture(scope="session")
def data() -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(160, 12, generator=g, dtype=torch.float64)
    w = torch.randn(12, 3, generator=g, dtype=torch.float64)
    y = (x @ w + 0.5 * torch.randn(160, 3, generator=g, dtype=torch.float64)).argmax(1)
    return x[:96], y[:96], x[96:], y[96:]


def accuracy(out: torch.Tensor, y: torch.Tensor) -> float:
    return float((out.argmax(-1) == y).double().mean())
