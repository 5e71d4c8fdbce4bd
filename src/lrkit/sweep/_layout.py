"""The layout every engine shares: the copies' parameters as rows of one flat ``(K, P)`` buffer."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from lrkit.errors import ConfigError

__all__ = ["Engine", "LossFn"]

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class Engine:
    """Common layout: named parameter slices of a flat ``(K, P)`` buffer."""

    name = "engine"

    def __init__(self, model: nn.Module, loss_fn: LossFn) -> None:
        self.model = model
        self.loss_fn = loss_fn
        named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        if not named:
            raise ConfigError(
                f"model has no trainable parameters, but got model={type(model).__name__}"
            )
        self.names = [n for n, _ in named]
        self.shapes = [tuple(p.shape) for _, p in named]
        self.sizes = [p.numel() for _, p in named]
        self.offsets = [0]
        for s in self.sizes:
            self.offsets.append(self.offsets[-1] + s)
        self.num_params = self.offsets[-1]
        self._initial = torch.cat([p.detach().reshape(-1) for _, p in named])

    def init_flat(self, k: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
        """K identical rows holding the model's current parameters."""
        row = self._initial.to(device=device, dtype=dtype)
        return row.unsqueeze(0).repeat(k, 1)

    def copy_rows(self, dst: torch.Tensor, src: torch.Tensor) -> None:
        """Copies ``dst`` take the per-copy state other than parameters of copies ``src``."""

    def buffers_of(self, copy: int) -> dict[str, torch.Tensor]:
        """Copy ``copy``'s buffers by name (detached CPU clones); none by default."""
        return {}

    def views(self, flat: torch.Tensor) -> list[torch.Tensor]:
        """Per-parameter ``(K, *shape)`` views into ``flat`` (no copies)."""
        k = flat.shape[0]
        return [
            flat[:, a:b].view(k, *shape)
            for a, b, shape in zip(self.offsets[:-1], self.offsets[1:], self.shapes)
        ]

    def loss_and_grad(
        self, flat: torch.Tensor, x: torch.Tensor, y: torch.Tensor, grad: torch.Tensor
    ) -> torch.Tensor:
        """Per-copy losses ``(K,)``; writes the gradients into ``grad`` ``(K, P)``."""
        raise NotImplementedError

    def forward(self, flat: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Outputs of all copies on a shared input: ``(K, N, ...)``."""
        raise NotImplementedError
