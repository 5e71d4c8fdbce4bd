"""Synthetic training curves, one per verdict (noise is multiplicative, like minibatch loss)."""

from __future__ import annotations

import numpy as np


def _noise(rng: np.random.Generator, n: int, sd: float) -> np.ndarray:
    return np.exp(rng.normal(0.0, sd, n))


def healthy(n: int = 1000, seed: int = 0) -> dict[str, np.ndarray]:
    """Fast then slow decrease under a cosine-decayed LR; validation tracks training."""
    rng = np.random.default_rng(seed)
    k = np.arange(n, dtype=float)
    loss = (0.05 + 2.25 * np.exp(-k / (n / 8))) * _noise(rng, n, 0.15)
    lr = 1e-3 * 0.5 * (1 + np.cos(np.pi * k / n))
    return {"step": k, "train_loss": loss, "lr": lr}


def lr_too_low(n: int = 1000, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    k = np.arange(n, dtype=float)
    loss = (2.3 - 0.9 * k / n) * _noise(rng, n, 0.03)
    return {"step": k, "train_loss": loss, "lr": np.full(n, 1e-5)}


def lr_too_high(n: int = 1000, seed: int = 0) -> dict[str, np.ndarray]:
    """Adam far above its best LR: an early blow-up, then stuck near chance level."""
    rng = np.random.default_rng(seed)
    k = np.arange(n, dtype=float)
    base = 2.0 + 30.0 * np.exp(-((k - 30) ** 2) / 200.0)
    base[:5] = 2.3
    loss = base * _noise(rng, n, 0.1)
    return {"step": k, "train_loss": loss, "lr": np.full(n, 0.3)}


def unstable(n: int = 1000, seed: int = 0) -> dict[str, np.ndarray]:
    """Training progresses, but the loss spikes back up several times."""
    d = healthy(n, seed)
    loss = d["train_loss"].copy()
    for at in (250, 450, 700, 850):
        loss[at : at + 8] += 1.5
    return {"step": d["step"], "train_loss": loss, "lr": np.full(n, 1e-3)}


def diverged(n: int = 1000, seed: int = 0) -> dict[str, np.ndarray]:
    d = healthy(n, seed)
    loss = d["train_loss"].copy()
    loss[600:] = np.nan
    return {"step": d["step"], "train_loss": loss, "lr": np.full(n, 0.5)}


def exploding(n: int = 1000, seed: int = 0) -> dict[str, np.ndarray]:
    d = healthy(n, seed)
    k = d["step"]
    loss = d["train_loss"] * np.exp(np.clip(k - 500, 0, None) / 60.0)
    return {"step": k, "train_loss": loss, "lr": np.full(n, 0.5)}


def plateau(n: int = 1000, seed: int = 0) -> dict[str, np.ndarray]:
    """Constant LR: fast progress, then flat at a noise floor well above zero."""
    rng = np.random.default_rng(seed)
    k = np.arange(n, dtype=float)
    loss = (0.6 + 1.7 * np.exp(-k / (n / 15))) * _noise(rng, n, 0.2)
    return {"step": k, "train_loss": loss, "lr": np.full(n, 0.1)}


def overfitting(epochs: int = 40, seed: int = 0) -> dict[str, np.ndarray]:
    """Per-epoch history (Keras-like): val loss bottoms out at epoch ~12, then climbs."""
    rng = np.random.default_rng(seed)
    e = np.arange(epochs, dtype=float)
    loss = 0.02 + 2.0 * np.exp(-e / 6) * _noise(rng, epochs, 0.03)
    val = 0.35 + 1.9 * np.exp(-e / 4) + 0.02 * np.clip(e - 12, 0, None) ** 1.2
    val = val * _noise(rng, epochs, 0.03)
    return {"loss": loss, "val_loss": val, "learning_rate": np.full(epochs, 1e-3)}


def dead(n: int = 1000, seed: int = 0) -> dict[str, np.ndarray]:
    """SGD far too high: a short excursion, then the network outputs the prior (flat at ln 10)."""
    rng = np.random.default_rng(seed)
    loss = 2.30 * _noise(rng, n, 0.02)
    loss[[9, 17]] = [6.9, 13.5]
    return {"step": np.arange(n, dtype=float), "train_loss": loss, "lr": np.full(n, 3.0)}


def frozen(n: int = 1000, seed: int = 0) -> dict[str, np.ndarray]:
    """LR so small nothing moves: flat at the initial loss with minibatch noise, no excursion."""
    rng = np.random.default_rng(seed)
    k = np.arange(n, dtype=float)
    loss = (2.30 - 0.01 * k / n) * _noise(rng, n, 0.03)
    return {"step": k, "train_loss": loss, "lr": np.full(n, 1e-6)}


def spiky(n: int = 1000, seed: int = 0) -> dict[str, np.ndarray]:
    """Trains, but spikes all through the run (12 events): too high, not merely unstable."""
    d = healthy(n, seed)
    loss = d["train_loss"].copy()
    for at in range(100, 1000, 75):
        loss[at : at + 3] += 2.0
    return {"step": d["step"], "train_loss": loss, "lr": np.full(n, 1e-2)}


def decelerating(n: int = 1000, seed: int = 0, noise: float = 0.01) -> dict[str, np.ndarray]:
    """Fast at first, then slowly falling at a high level (40% progress), constant LR."""
    rng = np.random.default_rng(seed)
    k = np.arange(n, dtype=float)
    loss = (2.3 - 0.95 * (1 - np.exp(-k / 250)) - 0.05 * k / n) * _noise(rng, n, noise)
    return {"step": k, "train_loss": loss, "lr": np.full(n, 1e-4)}


def stopped(epochs: int = 10, seed: int = 0) -> dict[str, np.ndarray]:
    """A dead network logged per epoch: the same average loss to the last digit every epoch
    (its outputs no longer depend on the inputs), under Adam at 0.1."""
    del seed  # nothing random: that is the point
    return {
        "epoch": np.arange(epochs, dtype=float),
        "train_loss": np.full(epochs, 3.3918),
        "lr": np.full(epochs, 0.1),
    }


def pinned(epochs: int = 30, seed: int = 0) -> dict[str, np.ndarray]:
    """A binary classifier that falls onto ln 2 in two epochs and stays there to the fourth
    decimal (uniform predictions)."""
    rng = np.random.default_rng(seed)
    loss = np.log(2) + rng.normal(0.0, 3e-5, epochs)
    loss[:2] = [0.72, 0.70]
    return {"epoch": np.arange(epochs, dtype=float), "train_loss": loss}


def crawl(epochs: int = 30, seed: int = 0) -> dict[str, np.ndarray]:
    """An LR so small the per-epoch loss falls by only 0.3% over the run — steadily."""
    rng = np.random.default_rng(seed)
    k = np.arange(epochs, dtype=float)
    loss = 1.2 * (1 - 0.003 * k / epochs) + rng.normal(0.0, 2e-5, epochs)
    return {"epoch": k, "train_loss": loss, "lr": np.full(epochs, 1e-6)}
