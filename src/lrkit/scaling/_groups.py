"""Param groups with per-tensor LRs: glob multipliers, layer-wise LR decay, no-decay sets."""

from __future__ import annotations

import fnmatch
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from lrkit._json import to_json_dict
from lrkit._validate import check_float
from lrkit.errors import ConfigError

__all__ = ["GroupInfo", "ParamGroups", "layer_ids", "merge_groups", "param_groups"]

_NORM_CLASSES = ("LayerNorm", "RMSNorm", "GroupNorm", "LocalResponseNorm")


@dataclass(frozen=True)
class GroupInfo:
    """One param group: its LR, weight decay, and the names of its tensors."""

    label: str
    lr: float
    multiplier: float
    weight_decay: float
    names: tuple[str, ...]
    numel: int

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of the fields (a multiplier of a zero base LR, NaN, is ``None``)."""
        return to_json_dict(self)


@dataclass(frozen=True)
class ParamGroups:
    """Param groups ready for any ``torch.optim.Optimizer``: iterate it (or pass it directly).

    Build the optimizer with ``lr=base_lr`` so that :class:`lrkit.integrations.torch.Scheduler`
    keeps every group's multiplier under any schedule::

        groups = param_groups(model, 1e-3, layer_decay=0.75, weight_decay=0.05)
        print(groups)                       # one row per group
        opt = torch.optim.AdamW(groups, lr=groups.base_lr)
    """

    base_lr: float
    info: tuple[GroupInfo, ...]
    _params: tuple[tuple[Any, ...], ...] = field(repr=False, compare=False)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for g, params in zip(self.info, self._params):
            yield {"params": list(params), "lr": g.lr, "weight_decay": g.weight_decay}

    def __len__(self) -> int:
        return len(self.info)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe summary (tensor names, not tensors)."""
        return {"base_lr": self.base_lr, "groups": [g.to_dict() for g in self.info]}

    def lr_of(self, name: str) -> float:
        """The LR given to the tensor called ``name``."""
        for g in self.info:
            if name in g.names:
                return g.lr
        raise ConfigError(f"no parameter called {name!r} in these groups")

    def table(self, max_names: int = 3) -> str:
        """Plain-text table: one row per group (label, LR, multiplier, weight decay, tensors)."""
        rows = [("group", "lr", "x base", "wd", "tensors", "params")]
        for g in self.info:
            shown = ", ".join(g.names[:max_names])
            if len(g.names) > max_names:
                shown += f", … (+{len(g.names) - max_names})"
            rows.append(
                (
                    g.label,
                    f"{g.lr:.4g}",
                    f"{g.multiplier:.4g}",
                    f"{g.weight_decay:g}",
                    shown,
                    str(g.numel),
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
        return "\n".join(
            "  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows
        )

    def __str__(self) -> str:
        return self.table()

    def plot(self, path: str | None = None) -> Any:
        """Bar chart of the LR of every group (log scale); returns the matplotlib Figure."""
        from lrkit._plotting import pyplot

        plt = pyplot(path)

        fig, ax = plt.subplots(figsize=(max(4.0, 0.5 * len(self.info) + 2), 3.5))
        ax.bar(range(len(self.info)), [g.lr for g in self.info])
        ax.set_xticks(range(len(self.info)), [g.label for g in self.info], rotation=60, ha="right")
        ax.set(
            yscale="log", ylabel="learning rate", title=f"param groups (base lr {self.base_lr:g})"
        )
        fig.tight_layout()
        if path is not None:
            fig.savefig(path)
        return fig


def merge_groups(
    entries: Sequence[tuple[str, Any, str, float, float]], base_lr: float
) -> ParamGroups:
    """Merge ``(name, tensor, label, lr, weight_decay)`` rows with equal label, LR and decay."""
    order: list[tuple[str, float, float]] = []
    members: dict[tuple[str, float, float], list[tuple[str, Any]]] = {}
    for name, param, label, lr, wd in entries:
        key = (label, float(lr), float(wd))
        if key not in members:
            order.append(key)
            members[key] = []
        members[key].append((name, param))
    info, params = [], []
    for key in order:
        label, lr, wd = key
        rows = members[key]
        info.append(
            GroupInfo(
                label=label,
                lr=lr,
                multiplier=lr / base_lr if base_lr else math.nan,
                weight_decay=wd,
                names=tuple(n for n, _ in rows),
                numel=int(sum(p.numel() for _, p in rows)),
            )
        )
        params.append(tuple(p for _, p in rows))
    return ParamGroups(base_lr=float(base_lr), info=tuple(info), _params=tuple(params))


def layer_ids(names: Sequence[str]) -> dict[str, int]:
    """Depth of every parameter name, 0 = closest to the input (for layer-wise LR decay).

    The first integer component of a dotted name marks a block (``encoder.layer.3.``,
    ``blocks.3.``, ``0.`` in an ``nn.Sequential``); blocks are numbered in order of
    appearance. Tensors outside any block count as the embedding (depth 0) when they come
    before the first block, else as the head (one past the last block) — BEiT/ELECTRA's
    convention. A model without numbered blocks uses its top-level modules in order.

    >>> layer_ids(["embed.weight", "blocks.0.w", "blocks.1.w", "norm.weight", "head.weight"])
    {'embed.weight': 0, 'blocks.0.w': 1, 'blocks.1.w': 2, 'norm.weight': 3, 'head.weight': 3}
    """
    keys: list[str | None] = []
    for name in names:
        parts = name.split(".")
        idx = next((i for i, p in enumerate(parts[:-1]) if p.isdigit()), None)
        keys.append(None if idx is None else ".".join(parts[: idx + 1]))
    if all(k is None for k in keys):
        tops: dict[str, int] = {}
        for name in names:
            tops.setdefault(name.split(".")[0] if "." in name else name, len(tops))
        return {name: tops[name.split(".")[0] if "." in name else name] for name in names}
    first = next(i for i, k in enumerate(keys) if k is not None)
    has_embed = first > 0
    blocks: dict[str, int] = {}
    for k in keys:
        if k is not None and k not in blocks:
            blocks[k] = len(blocks) + int(has_embed)
    head = len(blocks) + int(has_embed)
    return {
        name: (blocks[k] if k is not None else 0 if i < first else head)
        for i, (name, k) in enumerate(zip(names, keys))
    }


def _is_norm(module: Any) -> bool:
    if module is None:
        return False
    cls = type(module)
    return any(c.__name__ in _NORM_CLASSES or "BatchNorm" in c.__name__ for c in cls.__mro__)


def _no_decay(name: str, module: Any, patterns: Sequence[str]) -> bool:
    lowered = name.lower()
    parts = lowered.split(".")
    for pattern in patterns:
        if any(ch in pattern for ch in "*?["):
            if fnmatch.fnmatchcase(name, pattern):
                return True
        elif pattern == "norm" and _is_norm(module):
            return True
        elif any(pattern.lower() in part for part in parts):
            return True
    return False


def param_groups(
    model: Any,
    lr: float,
    *,
    multipliers: Mapping[str, float] | None = None,
    layer_decay: float | None = None,
    weight_decay: float = 0.0,
    no_decay: Sequence[str] = ("bias", "norm"),
    layer_of: Callable[[str], int] | None = None,
) -> ParamGroups:
    r"""Param groups with layer-wise LR decay, glob multipliers and a no-weight-decay set.

    A tensor at depth :math:`d` (see :func:`layer_ids`, or ``layer_of(name)``) of a model
    whose top depth is :math:`D` gets :math:`\eta \cdot \text{layer\_decay}^{D-d}` times the
    multiplier of the first pattern in ``multipliers`` matching its name (``fnmatch`` globs,
    e.g. ``{"head.*": 10.0, "*.embed*": 0.1}``; a pattern that matches nothing is an error).
    Common decays: ELECTRA 0.8 (Clark et al. 2020), BEiT 0.65–0.75 (Bao et al. 2022), ULMFiT's
    discriminative fine-tuning :math:`\eta_{l-1} = \eta_l / 2.6` is ``layer_decay=1/2.6``
    (Howard & Ruder 2018).

    Tensors whose name has a component containing an entry of ``no_decay`` (``"bias"``), that
    belong to a normalisation layer (``"norm"``: LayerNorm, BatchNorm, GroupNorm, RMSNorm, or
    a name containing "norm"), or that match a glob entry get weight decay 0; the others
    ``weight_decay``. Frozen tensors (``requires_grad=False``) are left out.

    Build the optimizer with ``lr=lr``; ``print(groups)`` shows the groups.
    """
    w = "param_groups"
    lr = check_float(w, "lr", lr, low=0.0, low_open=True)
    if layer_decay is not None:
        layer_decay = check_float(w, "layer_decay", layer_decay, low=0.0, low_open=True, high=1.0)
    weight_decay = check_float(w, "weight_decay", weight_decay, low=0.0)
    if isinstance(no_decay, str):
        no_decay = (no_decay,)
    mults = {
        pattern: check_float(w, f"multipliers[{pattern!r}]", m, low=0.0)
        for pattern, m in (multipliers or {}).items()
    }

    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    if not named:
        raise ConfigError("the model has no trainable parameters")
    names = [n for n, _ in named]
    owners = {}
    for mod_name, module in model.named_modules():
        for p_name, _ in module.named_parameters(recurse=False):
            owners[f"{mod_name}.{p_name}" if mod_name else p_name] = module

    depth: dict[str, int] = {}
    if layer_decay is not None:
        depth = {n: int(layer_of(n)) for n in names} if layer_of is not None else layer_ids(names)
    top = max(depth.values()) if depth else 0
    used = dict.fromkeys(mults, False)
    entries = []
    for name, param in named:
        factor = 1.0
        label_parts = []
        if layer_decay is not None:
            factor *= float(layer_decay) ** (top - depth[name])
            label_parts.append(f"layer {depth[name]}")
        for pattern, m in mults.items():
            if fnmatch.fnmatchcase(name, pattern):
                used[pattern] = True
                factor *= float(m)
                label_parts.append(pattern)
                break
        decays = weight_decay > 0 and not _no_decay(name, owners.get(name), no_decay)
        wd = float(weight_decay) if decays else 0.0
        if weight_decay > 0:
            label_parts.append("decay" if decays else "no decay")
        entries.append((name, param, " · ".join(label_parts) or "all", lr * factor, wd))
    unused = [p for p, hit in used.items() if not hit]
    if unused:
        sample = ", ".join(names[:4]) + (", …" if len(names) > 4 else "")
        raise ConfigError(
            f"multipliers pattern(s) {unused} match no parameter name (names look like: {sample})"
        )
    return merge_groups(entries, base_lr=lr)
