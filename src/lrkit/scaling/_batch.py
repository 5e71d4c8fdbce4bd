"""Batch-size scaling rules: linear (Goyal et al. 2017) and square root (Malladi et al. 2022)."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any

from lrkit._json import to_json_dict
from lrkit._validate import check_choice, check_float, check_int
from lrkit.errors import ConfigError

__all__ = [
    "GOYAL_WARMUP_EPOCHS",
    "SAFE_MAX_BATCH",
    "SAFE_MAX_FACTOR",
    "BatchScaling",
    "batch_size",
    "optimizer_family",
]

#: Largest batch at which the linear rule was shown to hold (ResNet-50 on ImageNet, Goyal et al.).
SAFE_MAX_BATCH = 8192
#: Largest change of batch size (either way) lrkit treats as inside the tested range: 256 → 8192.
SAFE_MAX_FACTOR = 32.0
#: Goyal et al.'s gradual warmup length for the linear rule.
GOYAL_WARMUP_EPOCHS = 5.0

# Optimizer name (or class name, lower-cased) -> family. SGD-like optimizers follow the linear
# rule, adaptive ones the square-root rule; LR-free methods estimate their own step size.
_FAMILIES: dict[str, str] = {
    **dict.fromkeys(("sgd", "sgd_momentum", "nesterov", "lars", "hdsgd"), "sgd"),
    **dict.fromkeys(
        (
            "adam",
            "adamw",
            "adamax",
            "nadam",
            "radam",
            "rmsprop",
            "adagrad",
            "lamb",
            "hdadam",
            "schedulefree_adamw",
            "adamwschedulefree",
        ),
        "adaptive",
    ),
    **dict.fromkeys(("prodigy", "dadapt_adam", "dadaptadam", "dadapt_sgd", "dadaptsgd"), "lr_free"),
}
_RULE_OF_FAMILY = {"sgd": "linear", "adaptive": "sqrt", "lr_free": "none"}
_RULES = ("linear", "sqrt", "auto")


def optimizer_family(optimizer: Any) -> str:
    """``"sgd"``, ``"adaptive"`` or ``"lr_free"`` for an optimizer name, class or instance.

    >>> optimizer_family("adamw"), optimizer_family("sgd_momentum"), optimizer_family("prodigy")
    ('adaptive', 'sgd', 'lr_free')
    """
    if isinstance(optimizer, str):
        key = optimizer
    elif isinstance(optimizer, type):
        key = optimizer.__name__
    else:
        key = type(optimizer).__name__
    key = key.lower().replace("-", "_")
    if key not in _FAMILIES:
        raise ConfigError(
            f"cannot tell the family of optimizer={optimizer!r}: use rule='linear' (SGD-like) "
            "or rule='sqrt' (adaptive), or one of " + ", ".join(sorted(_FAMILIES))
        )
    return _FAMILIES[key]


@dataclass(frozen=True)
class BatchScaling:
    """The LR for a new batch size.

    Attributes:
        lr: the scaled learning rate.
        rule: ``"linear"``, ``"sqrt"`` or ``"none"`` (LR-free optimizers: keep their LR).
        factor: ``lr / base_lr``.
        base_lr, base_batch, batch: the inputs.
        warmup_epochs: recommended gradual warmup (Goyal et al.: 5 epochs when the batch grows
            under the linear rule); 0 otherwise.
        warmup_steps: ``warmup_epochs`` in updates at the new batch size, when ``dataset_size``
            was given; else ``None``.
        warning: why the result is outside the tested range, or ``None``.
    """

    lr: float
    rule: str
    factor: float
    base_lr: float
    base_batch: int
    batch: int
    warmup_epochs: float
    warmup_steps: int | None
    warning: str | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict of the fields."""
        return to_json_dict(self)

    def schedule(self, schedule: Any = None) -> Any:
        """``schedule`` (default: constant at :attr:`lr`) with the recommended warmup prepended.

        >>> from lrkit.schedules import cosine
        >>> s = batch_size(0.1, 256, 1024, dataset_size=2560).schedule(cosine(0.4, steps=100))
        >>> s
        warmup(schedule=cosine(lr=0.4, steps=100), steps=13)
        """
        from lrkit.schedules import constant, warmup

        inner = constant(self.lr) if schedule is None else schedule
        if not self.warmup_epochs:
            return inner
        if self.warmup_steps is None:
            raise ConfigError(
                "the warmup length in updates needs the data set size: "
                "batch_size(..., dataset_size=N)"
            )
        return warmup(inner, steps=self.warmup_steps) if self.warmup_steps > 0 else inner


def check_transfer(where: str, lr: Any, what: str, base: Any, new: Any) -> tuple[float, int, int]:
    """Check an LR tuned at size ``base_<what>`` and the new size ``<what>`` (batch, width)."""
    return (
        check_float(where, "lr", lr, low=0.0),
        check_int(where, f"base_{what}", base),
        check_int(where, what, new),
    )


def batch_size(
    lr: float,
    base_batch: int,
    batch: int,
    rule: str = "linear",
    optimizer: Any = None,
    *,
    dataset_size: int | None = None,
) -> BatchScaling:
    r"""Scale a learning rate tuned at ``base_batch`` to ``batch``.

    With :math:`k` = ``batch / base_batch``:

    - ``"linear"`` (Goyal et al., *Accurate, Large Minibatch SGD*, 2017): :math:`\eta k`, for
      SGD with momentum, with a gradual linear warmup over 5 epochs when :math:`k > 1`
      (see :meth:`BatchScaling.schedule`).
    - ``"sqrt"`` (Malladi et al., *On the SDEs and Scaling Rules for Adaptive Gradient
      Algorithms*, NeurIPS 2022): :math:`\eta \sqrt{k}`, for Adam and RMSprop. The full rule
      also sets :math:`1-\beta_i \to k(1-\beta_i)` and :math:`\epsilon \to \epsilon/\sqrt{k}`;
      lrkit returns the LR only.
    - ``"auto"``: by ``optimizer`` (a name like ``"adamw"``, a class or an instance): SGD-like
      → linear, adaptive → sqrt, LR-free (Prodigy, D-Adaptation) → ``"none"`` (factor 1: they
      estimate their own step size).

    Safe range: Goyal et al. kept the linear rule accurate up to batch 8192 for ResNet-50 on
    ImageNet (×32 from 256) and saw it break beyond. Outside ``batch <= 8192`` and
    ``1/32 <= k <= 32`` (for either rule) a :class:`UserWarning` names the figure, and the
    result's ``warning`` carries the same text. Past the critical batch size (McCandlish et
    al. 2018, the gradient noise scale) no LR rule recovers the lost sample efficiency.

    >>> r = batch_size(0.1, 256, 1024)
    >>> r.lr, r.warmup_epochs
    (0.4, 5.0)
    >>> round(batch_size(3e-4, 256, 4096, rule="auto", optimizer="adam").lr, 6)
    0.0012
    """
    w = "batch_size"
    lr, base_batch, batch = check_transfer(w, lr, "batch", base_batch, batch)
    rule = check_choice(w, "rule", rule, _RULES)
    if dataset_size is not None:
        dataset_size = check_int(w, "dataset_size", dataset_size)
    if rule == "auto":
        if optimizer is None:
            raise ConfigError(f"{w}: rule='auto' needs optimizer= (a name, class or instance)")
        rule = _RULE_OF_FAMILY[optimizer_family(optimizer)]
    k = batch / base_batch
    factor = {"linear": k, "sqrt": math.sqrt(k), "none": 1.0}[rule]
    warmup_epochs = GOYAL_WARMUP_EPOCHS if rule == "linear" and k > 1 else 0.0
    warmup_steps = None
    if dataset_size is not None:
        warmup_steps = math.ceil(warmup_epochs * dataset_size / batch)

    warning = None
    if rule != "none":
        if batch > SAFE_MAX_BATCH:
            warning = (
                f"batch={batch} is past {SAFE_MAX_BATCH}, the largest batch at which the linear "
                "rule was shown to hold (Goyal et al. 2017); validate the scaled LR"
            )
        elif not 1 / SAFE_MAX_FACTOR <= k <= SAFE_MAX_FACTOR:
            warning = (
                f"the batch changes by a factor of {k:g} ({base_batch} -> {batch}), past the "
                f"x{SAFE_MAX_FACTOR:g} range where the {rule} rule was validated; "
                "validate the scaled LR"
            )
    if warning is not None:
        warnings.warn(warning, UserWarning, stacklevel=2)
    return BatchScaling(
        lr=lr * factor,
        rule=rule,
        factor=float(factor),
        base_lr=lr,
        base_batch=base_batch,
        batch=batch,
        warmup_epochs=warmup_epochs,
        warmup_steps=warmup_steps,
        warning=warning,
    )
