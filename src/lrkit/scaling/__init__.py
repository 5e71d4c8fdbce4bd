"""Scale the learning rate with the batch size and the width; build per-tensor param groups.

- :func:`batch_size`: linear rule with warmup (Goyal et al. 2017) or square-root rule for
  adaptive optimizers (Malladi et al. 2022), with a warning outside the tested range.
- :func:`width` and :func:`width_groups`: μP's LR transfer across widths (Yang et al. 2022).
- :func:`param_groups`: layer-wise LR decay (ULMFiT, ELECTRA, BEiT), glob multipliers and the
  usual no-weight-decay set, as groups for any ``torch.optim`` optimizer.

The rules import no ML framework; the group builders only touch the model you pass.

>>> from lrkit import scaling
>>> scaling.batch_size(0.1, base_batch=256, batch=2048).lr
0.8
"""

from __future__ import annotations

from lrkit.scaling._batch import BatchScaling, batch_size
from lrkit.scaling._groups import ParamGroups, param_groups
from lrkit.scaling._width import WidthScaling, width, width_groups

# what users call, and the results they get back; the helpers (layer_ids, classify,
# optimizer_family, the safe-range constants) stay importable from the private modules
__all__ = [
    "BatchScaling",
    "ParamGroups",
    "WidthScaling",
    "batch_size",
    "param_groups",
    "width",
    "width_groups",
]
