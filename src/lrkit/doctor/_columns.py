"""Which column is the step, the loss, the validation loss and the learning rate.

Names are compared after normalisation (lower case; ``/ - . space`` become ``_``), so
``Loss/train``, ``train-loss`` and ``TRAIN_LOSS`` all read as ``loss_train``/``train_loss``.
Exact aliases are tried in order first, then loose patterns.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = [
    "SPLIT_NAMES",
    "normalise",
    "pick_accuracy",
    "pick_epoch",
    "pick_loss",
    "pick_losses",
    "pick_lrs",
    "pick_psnr",
    "pick_step",
    "pick_val_loss",
]

_STEP = (
    "step", "train_global_step", "global_step", "trainer_global_step", "steps", "iteration", "iterations",
    "iter", "it", "update", "updates", "num_updates", "_step", "batch",
)  # fmt: skip
_EPOCH = ("epoch", "epochs", "_epoch", "ep")
# Per-step training loss before per-epoch: the finer curve carries more evidence.
_LOSS = (
    "train_loss_step", "train_loss", "loss", "training_loss", "loss_train", "train_batch_loss",
    "batch_loss", "loss_step", "trn_loss", "train_loss_epoch", "loss_epoch", "train_epoch_loss",
    "train_loss_avg", "avg_loss", "loss_training",
)  # fmt: skip
_VAL = (
    "val_loss", "val_loss_epoch", "valid_loss", "validation_loss", "loss_val", "loss_valid",
    "loss_validation", "eval_loss", "val_epoch_loss", "dev_loss", "val_loss_step", "test_loss",
    "loss_test",
)  # fmt: skip
_LR = (
    "lr", "learning_rate", "train_lr", "train_learning_rate", "lr_0", "lr_pg0", "lr_group0",
    "learning_rate_0", "lr_adam", "lr_adamw", "lr_sgd", "optimizer_lr",
)  # fmt: skip
_VAL_WORDS = re.compile(r"(^|_)(val|valid|validation|eval|dev|test|v)(_|$)")
# "loss" in other languages, for logs whose columns are not in English (Spanish, Portuguese,
# Catalan, French, Italian, German, Dutch, Polish, Turkish, Russian, Chinese, Japanese,
# Korean); tried only when no column says "loss".
_LOSS_WORDS = re.compile(
    r"(^|_)(p[eé]rdida|perda|p[eè]rdua|perte|perdita|verlust|verlies|strata|kay[iı]p|"
    r"потер[яи])(_|$)|损失|損失|손실"
)
# The objective named by what it computes (``train_mse_step``, ``val_nll``, ``cost``, an
# energy-based or predictive-coding model's ``Train Energy``, a physics-informed network's
# weighted sum of its terms printed as ``total``, Torch7's ``optim.Logger`` column ``training
# error``): tried only when no column says "loss" in any language above. Accuracy-like metrics
# are not losses.
_OBJECTIVE_WORDS = re.compile(
    r"(^|_)(mse|rmse|mae|nll|bce|xent|cross_?entropy|cost|objective|energy|error)(_|$)|^total$"
)


def normalise(name: str) -> str:
    """Lower-case ``name`` and turn separators — and camelCase word boundaries — into ``_``.

    >>> normalise("Loss/Train")
    'loss_train'
    >>> normalise("lr-Adam")
    'lr_adam'
    >>> normalise("ValLoss")
    'val_loss'
    """
    s = re.sub(r"(?<=[a-z])(?=[A-Z][a-z])", "_", name.strip())
    s = re.sub(r"[/\-. ]+", "_", s.lower())
    return re.sub(r"_+", "_", s) if not s.startswith("_") else "_" + re.sub(r"_+", "_", s[1:])


#: Leading name components that say which split a column belongs to: never stripped.
#: A split's names as logs write them, and the split each names (a ``split``/``phase`` column's
#: values, a printed table's column heads).
SPLIT_NAMES = {
    "train": "train", "training": "train", "trn": "train", "val": "val", "valid": "val",
    "validation": "val", "eval": "eval", "test": "test", "testing": "test", "dev": "dev",
}  # fmt: skip
_ROLES = frozenset({"train", "training", "val", "valid", "validation", "eval", "test", "dev"})


def _by_norm(names: Iterable[str]) -> dict[str, str]:
    """Each name by its normalised form, then — where no name holds that form — by its form
    without a leading namespace that names no split (a Lightning ``CSVLogger(prefix=...)`` or
    a ``self.log("finetuning/train_loss")``: ``finetuning/train_loss_step`` answers to
    ``train_loss_step``; ``val/loss`` never answers to ``loss``)."""
    names = list(names)
    by_norm: dict[str, str] = {}
    for n in names:
        by_norm.setdefault(normalise(n), n)
    for n in names:
        head, sep, rest = n.strip().partition("/")
        if sep and rest and normalise(head) not in _ROLES:
            by_norm.setdefault(normalise(rest), n)
    return by_norm


def _exact(names: Iterable[str], aliases: tuple[str, ...]) -> str | None:
    by_norm = _by_norm(names)
    for alias in aliases:
        if alias in by_norm:
            return by_norm[alias]
    return None


#: Name components of a column that is about the loss but is no loss value: a count
#: (``num_loss_tokens``), a weight or a mixed-precision scaler (``loss_scale`` = 65536), a mask.
_ABOUT_LOSS = re.compile(r"(?:^|_)(?:num|n|count|tokens?|weights?|scale|scaler|mask)(?:_|$)")


def _words(name: str) -> str:
    """``name`` normalised, every run of other characters one ``_`` (``Loss (Validation)`` →
    ``loss_validation``): the words a split or a metric is named by."""
    return re.sub(r"[^a-z0-9]+", "_", normalise(name)).strip("_")


def _loose(names: list[str], *, val: bool) -> list[str]:
    """The columns (validation ones if ``val``, else the others) whose name says "loss", else
    "loss" in another language, else the objective (:data:`_OBJECTIVE_WORDS`): the first of
    these that any column matches (never one only *about* the loss: :data:`_ABOUT_LOSS`)."""
    for says in (lambda k: "loss" in k, _LOSS_WORDS.search, _OBJECTIVE_WORDS.search):
        hits = [
            n
            for n in names
            if says(normalise(n))
            and not _ABOUT_LOSS.search(normalise(n))
            and bool(_VAL_WORDS.search(_words(n))) == val
        ]
        if hits:
            return hits
    return []


def pick_step(names: Iterable[str]) -> str | None:
    return _exact(names, _STEP)


def pick_epoch(names: Iterable[str]) -> str | None:
    return _exact(names, _EPOCH)


def pick_loss(names: Iterable[str]) -> str | None:
    names = list(names)
    hit = _exact(names, _LOSS)
    if hit is not None:
        return hit
    loose = _loose(names, val=False)
    trainish = [n for n in loose if "train" in normalise(n)]
    pool = trainish or loose
    return pool[0] if pool else None


def pick_losses(names: Iterable[str]) -> list[str]:
    """Every training-loss column by alias order (the reader keeps the most densely logged:
    a run summary's single ``train_loss`` must not win over a per-step ``loss``)."""
    names = list(names)
    by_norm = _by_norm(names)
    hits = [by_norm[a] for a in _LOSS if a in by_norm]
    if hits:
        return hits
    first = pick_loss(names)
    return [first] if first is not None else []


def pick_val_loss(names: Iterable[str]) -> str | None:
    names = list(names)
    hit = _exact(names, _VAL)
    if hit is not None:
        return hit
    loose = _loose(names, val=True)
    return loose[0] if loose else None


#: An accuracy column (``acc``, ``val_accuracy``, ``% mean class accuracy (train set)``,
#: ``top1``): what a log that keeps no loss still says about fitting.
_ACCURACY = re.compile(r"(^|_)(acc|accuracy|top_?1|top_?1_acc)(_|$)")
#: A perplexity column (``ppl``, ``val_perplexity``, ``valid ppl``): exp of a cross-entropy.
_PERPLEXITY = re.compile(r"(^|_)(ppl|perplexity)(_|$)")


def _pick_metric(names: Iterable[str], metric: re.Pattern[str], val: bool) -> str | None:
    """The first column whose words name ``metric`` (a validation one if ``val``, else one of
    the others)."""
    for n in names:
        words = _words(n)
        if metric.search(words) and bool(_VAL_WORDS.search(words)) == val:
            return n
    return None


def pick_perplexity(names: Iterable[str], *, val: bool) -> str | None:
    """The first perplexity column (a validation one if ``val``, else one of the others)."""
    return _pick_metric(names, _PERPLEXITY, val)


#: a peak signal-to-noise ratio in dB (image restoration, super-resolution): 10·log10(MAX²/MSE)
PSNR = re.compile(r"(^|_)psnr(_|$)")


def pick_psnr(names: Iterable[str], *, val: bool) -> str | None:
    """The first PSNR column (a validation one if ``val``, else one of the others)."""
    return _pick_metric(names, PSNR, val)


def pick_accuracy(names: Iterable[str], *, val: bool) -> str | None:
    """The first accuracy column (a validation one if ``val``, else one of the others)."""
    return _pick_metric(names, _ACCURACY, val)


def pick_lrs(names: Iterable[str]) -> list[str]:
    """Every LR column by alias order, then loose matches (the reader keeps the most densely
    logged: a config record's single ``lr`` must not win over a per-step ``train/lr``)."""
    names = list(names)
    by_norm = _by_norm(names)
    hits = [by_norm[a] for a in _LR if a in by_norm]
    for n in names:
        k = normalise(n)
        loose = k.startswith("lr_") or k.endswith("_lr") or "learning_rate" in k or "_lr_" in k
        if loose and n not in hits:
            hits.append(n)
    return hits
