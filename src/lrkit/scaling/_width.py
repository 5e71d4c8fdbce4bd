"""Width transfer of the learning rate, after μP (Yang et al., Tensor Programs V, 2022)."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lrkit._json import to_json_dict
from lrkit._validate import check_choice, check_float
from lrkit.errors import ConfigError
from lrkit.scaling._batch import check_transfer
from lrkit.scaling._groups import ParamGroups, merge_groups

__all__ = ["WidthScaling", "classify", "width", "width_groups"]

_LAYERS = ("input", "hidden", "output")
# LR exponent of the width multiplier m per (optimizer, role): Yang et al. 2022, Table 3 (μP
# column, LR relative to a base model). "input" covers input weights and all biases/gains.
_EXPONENT: dict[str, dict[str, int]] = {
    "adam": {"input": 0, "hidden": -1, "output": -1},
    "sgd": {"input": 1, "hidden": 0, "output": -1},
}
_ADAM_LIKE = ("adam", "adamw", "hdadam", "schedulefree_adamw", "rmsprop", "adagrad", "lamb")
_SGD_LIKE = ("sgd", "sgd_momentum", "hdsgd", "nesterov")


def _family(optimizer: str) -> str:
    key = optimizer.lower().replace("-", "_") if isinstance(optimizer, str) else optimizer
    if key in _ADAM_LIKE:
        return "adam"
    if key in _SGD_LIKE:
        return "sgd"
    raise ConfigError(
        f"optimizer must be 'adam' or 'sgd' (or a name in their family: "
        f"{', '.join(_ADAM_LIKE + _SGD_LIKE)}), but got optimizer={optimizer!r}"
    )


@dataclass(frozen=True)
class WidthScaling:
    """The LR of one kind of tensor at a new width.

    Attributes:
        lr: the scaled LR; ``factor`` is ``lr / base_lr`` and ``multiplier`` is
            ``width / base_width`` (μP's :math:`m`).
        layer: ``"input"``, ``"hidden"`` or ``"output"``; optimizer: ``"adam"`` or ``"sgd"``.
    """

    lr: float
    factor: float
    multiplier: float
    base_lr: float
    base_width: int
    width: int
    optimizer: str
    layer: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of the fields."""
        return to_json_dict(self)


def width(
    lr: float,
    base_width: int,
    width: int,
    optimizer: str = "adam",
    layer: str = "hidden",
) -> WidthScaling:
    r"""Transfer an LR tuned at ``base_width`` to ``width`` for one kind of tensor (μP).

    With :math:`m` = ``width / base_width`` (Yang et al., *Tensor Programs V: Tuning Large
    Neural Networks via Zero-Shot Hyperparameter Transfer*, 2022, Table 3):

    ==========================  ================  ================
    tensor                      Adam              SGD
    ==========================  ================  ================
    input weights, all biases   :math:`\eta`      :math:`\eta m`
    hidden weights              :math:`\eta / m`  :math:`\eta`
    output weights              :math:`\eta / m`  :math:`\eta / m`
    ==========================  ================  ================

    Full μP also scales initialisations (output weights at variance :math:`1/\text{fan\_in}^2`,
    or zero); this gives the LR part. Use :func:`width_groups` to apply it to a whole model.

    >>> width(1e-3, 64, 1024, "adam", "hidden").lr
    6.25e-05
    >>> width(1e-3, 64, 1024, "adam", "input").lr
    0.001
    >>> width(0.1, 64, 256, "sgd", "input").lr
    0.4
    """
    lr, base_width, width = check_transfer("width", lr, "width", base_width, width)
    layer = check_choice("width", "layer", layer, _LAYERS)
    family = _family(optimizer)
    m = width / base_width
    factor = m ** _EXPONENT[family][layer]
    return WidthScaling(
        lr=lr * factor,
        factor=float(factor),
        multiplier=float(m),
        base_lr=lr,
        base_width=base_width,
        width=width,
        optimizer=family,
        layer=layer,
    )


def classify(name: str, shape: tuple[int, ...], base_shape: tuple[int, ...], module: Any) -> str:
    """Role of one tensor from how its shape differs from the base model's (as ``mup`` does).

    Dimensions that grow are "infinite". Weights are laid out ``(fan_out, fan_in, ...)`` as
    in ``nn.Linear`` and ``nn.ConvNd``: both grow → hidden, only fan_in → output, only fan_out
    → input. Vectors (biases, norm gains), embeddings, and tensors that do not grow count as
    input (their LR is not divided by the width under Adam).
    """
    if len(shape) != len(base_shape):
        raise ConfigError(
            f"parameter {name!r} has shape {shape} but {base_shape} in the base model: "
            "the models must differ in width only"
        )
    grows = [a != b for a, b in zip(shape, base_shape)]
    if len(shape) < 2 or not any(grows):
        return "input"
    if type(module).__name__ == "Embedding":
        return "input"
    fan_out, fan_in = grows[0], grows[1]
    if fan_out and fan_in:
        return "hidden"
    if fan_in:
        return "output"
    return "input"


def _owners(model: Any) -> dict[str, Any]:
    owners = {}
    for mod_name, module in model.named_modules():
        for p_name, _ in module.named_parameters(recurse=False):
            owners[f"{mod_name}.{p_name}" if mod_name else p_name] = module
    return owners


def width_groups(
    model: Any,
    base_model: Any,
    lr: float,
    optimizer: str = "adam",
    *,
    layers: Mapping[str, str] | None = None,
    weight_decay: float = 0.0,
) -> ParamGroups:
    """Param groups applying :func:`width` to every tensor of ``model``, scaled up from ``base_model``.

    ``base_model`` is the same architecture at the width where ``lr`` was tuned (it may live
    on the ``meta`` device: only shapes are read). Each tensor's role comes from
    :func:`classify`; override it with ``layers={"glob pattern": "input"|"hidden"|"output"}``
    (first matching pattern wins), e.g. for a readout whose weight is stored transposed.
    The width multiplier is the growth of the tensor's own grown dimension(s), so models whose
    layers have different widths are handled. Use with ``lr`` as the optimizer's default so
    an :class:`lrkit.integrations.torch.Scheduler` keeps the ratios::

        opt = torch.optim.Adam(width_groups(big, small, lr=3e-3), lr=3e-3)
    """
    family = _family(optimizer)
    lr = check_float("width_groups", "lr", lr, low=0.0, low_open=True)
    weight_decay = check_float("width_groups", "weight_decay", weight_decay, low=0.0)
    base = dict(base_model.named_parameters())
    owners = _owners(model)
    patterns = dict(layers or {})
    for pattern, role in patterns.items():
        check_choice("width_groups", f"layers[{pattern!r}]", role, _LAYERS)
    entries = []
    for name, param in model.named_parameters():
        if not param.requires_grad:
            continue
        if name not in base:
            raise ConfigError(
                f"parameter {name!r} of model is not in base_model: build both from the same "
                "code with different widths"
            )
        shape, base_shape = tuple(param.shape), tuple(base[name].shape)
        forced = next((r for p, r in patterns.items() if fnmatch.fnmatchcase(name, p)), None)
        role = forced or classify(name, shape, base_shape, owners.get(name))
        grown = [a / b for a, b in zip(shape, base_shape) if a != b]
        # hidden weights grow in both dims by the same m in the usual case; take the fan_in one
        m = grown[-1] if grown else 1.0
        factor = m ** _EXPONENT[family][role]
        entries.append((name, param, role, lr * factor, weight_decay))
    return merge_groups(entries, base_lr=lr)
