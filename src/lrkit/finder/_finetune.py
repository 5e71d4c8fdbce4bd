"""The finder for fine-tuning: detect a pretrained start, then suggest a lower LR.

A range test reads the training loss, which falls fastest at LRs that overwrite what a
pretrained model knows; its fitted minimum sits 10-100x above the best fine-tuning LR
(huggingface/transformers#16013; lrkit's own ``benchmarks/finder_regret.py`` fine-tuning
family). :func:`detect_pretrained` reads a pretrained start off the weights' spectra. The
fine-tuning rule (the default, ``trial_steps=None``) runs short trials from the caller's exact
weights at LRs below the range test's fitted minimum — with plain SGD no lower than its reached
top / 10**2.5, :func:`trial_anchor` — (:func:`run_trials`: 4, then lower while the lowest is
strictly the best, or higher while the highest is or while no trial has moved the
score from the start, a decade at a time then; with plain SGD once more above a top that
fell just short of the best), scores them on the validation data
(at most :data:`MAX_VAL_SAMPLES`; without ``val_data``, on training samples held out from the
trials) and suggests a quarter of a decade below the validation loss's peak (a parabola through
the best trial and its neighbours: short trials favour too high an LR; with plain SGD the peak
itself, :func:`outcome_of`); the interval covers every trial within :data:`NEAR` of the best
and half a decade below them (:func:`pick`). With
``trial_steps=0`` it suggests the fitted minimum / 10 (:func:`apply`), with a note that this
evidence is weaker. Every trial starts from the caller's weights and optimizer state, restored
bit for bit.

With ``val_metric`` the trials are scored on the caller's metric instead and the suggestion is
the geometric mean of the metric's :func:`vertex_lr` and the validation loss's /
:data:`TRIAL_DIVISOR` (with plain SGD the metric's alone; :func:`metric_pick`); the front-ends' default
``val_metric="auto"`` does so with top-1 accuracy where the model's outputs are class scores
(:data:`METRIC_NAMES`).

The loss rule was chosen on four fine-tuning tasks of ``benchmarks/finetune_tasks.py``
(``lm_licence``, ``cnn_newhead``, ``mlp_shift``, ``tabular_drift``; ``benchmarks/finetune_rule.py``);
session 5's fresh pair (``gru_code``, ``bn_resmlp_newclasses``) was scored once and then joined
them to choose the validation cap and the no-``val_data`` default. The metric rule was chosen on
whole-run curves of the 10 tasks seen by session 7 (``benchmarks/finetune_curves.py``) and
measured once on a fresh pair (docs/benchmarks.md, with what does not hold where).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from lrkit._json import to_json_dict
from lrkit._validate import check_choice, check_int

if TYPE_CHECKING:
    from lrkit.finder._result import FinderResult

__all__ = [
    "MAX_VAL_SAMPLES",
    "METRIC_MODES",
    "METRIC_NAMES",
    "REGIMES",
    "Detection",
    "TrialOutcome",
    "apply",
    "candidates",
    "capped_note",
    "check_metric",
    "check_regime",
    "check_trial_steps",
    "default_trial_steps",
    "detect_pretrained",
    "finish",
    "held_out_count",
    "held_out_note",
    "improved",
    "outcome_of",
    "pick",
    "rule_applies",
    "run_trials",
    "spectra_numpy",
    "trial_anchor",
    "vertex_lr",
]

#: ``regime=`` values of :func:`lrkit.find_lr`.
REGIMES: tuple[str, ...] = ("auto", "scratch", "finetune")

#: Length of one trial, in optimizer updates, when the fine-tuning rule runs them by default
#: (``trial_steps=None``).
TRIAL_STEPS = 40
#: Fine-tuning rule (the default): the range test's fitted minimum / FINETUNE_DIVISOR, interval
#: half a decade either side. Chosen on lm_licence and cnn_newhead (benchmarks/finder_regret.py
#: --finetune choose): /10 had median regret 0.17 points, worst cell 0.28, worst run 0.48,
#: against /30: 0.33 / 0.46 / 0.92, /100: 3.15 / 4.85 / 5.89; the grid's best LR lay at 0.037x
#: to 0.084x the fitted minimum there.
FINETUNE_DIVISOR = 10.0
#: With trials: their best LR / TRIAL_DIVISOR (a horizon correction). 40-update trials scored on
#: the validation data pick too high an LR for a 192-300-update fine-tuning: on the four choose
#: tasks (benchmarks/finetune_rule.py, regret read off the grids) the best trial itself had
#: median regret 1.58 points (worst cell 3.67), / 10**0.5: 0.28 (0.37), / 10**0.75: 0.39 (0.72),
#: / 10: 1.19 (2.30); 20-update trials did worse (best 0.50 / 0.76), 80-update trials too
#: (0.26 / 1.17 at / 10**0.25) at twice the cost.
TRIAL_DIVISOR = 10**0.5
#: The interval holds every trial whose validation loss is within NEAR (relative) of the best,
#: one trial step wider on each side, / TRIAL_DIVISOR: it held the grid's best LR in 19/20 choose
#: runs (17/20 with only the best trial, 0.02: 17/20), median width one decade.
NEAR = 0.05
#: With ``val_metric=`` the trials are scored on the caller's metric and the suggestion is the
#: lowest trial LR whose metric is within NEAR (relative) of the best trial's, with no divisor:
#: the validation loss and the metric disagree where the loss overfits (rises) while the metric
#: still improves, and a constant divisor of the best trial could not serve every seen task
#: (benchmarks/finetune_curves.py: whole constant-LR fine-tunings of the 10 seen tasks,
#: replayed as 40-update trials; see docs/benchmarks.md). Since session 9 the suggestion is the
#: geometric mean of that LR and the peak of the parabola through the best trial and its
#: neighbours (:func:`vertex_lr`): 40-update trials are noisy near the top, the parabola reads
#: the peak off three of them and the lowest-near LR shades it away from the cliff above. On the
#: 26 seen trial sets (benchmarks/finetune_pick_replay.py, a proxy read off the grids): median
#: 0.59 points, worst cell 2.88, against 0.73 / 3.88 for the lowest-near LR alone. Since
#: session 12 it is the geometric mean of that peak and the validation loss's / TRIAL_DIVISOR
#: (:func:`metric_pick`; the lowest-near LR now only bounds the interval).
METRIC_MODES: tuple[str, ...] = ("max", "min")
#: ``val_metric=`` by name: ``"accuracy"`` (top-1 over the outputs' last axis) or ``"auto"`` (the
#: default of :func:`lrkit.find_lr`: top-1 accuracy when the outputs look like class scores for
#: integer targets, else the validation loss). The metric rule beat the loss rule wherever both
#: were measured on classification tasks (docs/benchmarks.md: 10 seen tasks, median 0.53 / worst
#: cell 3.08 points against the loss rule's 8.44 on lstm_markov; the fourth and fifth fresh pairs,
#: -0.06 / 0.85 and 0.50 / 0.85 against 1.65 / 3.00 and 1.39 / 1.76).
METRIC_NAMES: tuple[str, ...] = ("accuracy", "auto")
#: The trials are scored on at most this many validation samples (a seeded random subset of a
#: larger tensor split; the first batches of an iterable, until this many samples): a pass per
#: trial over a large split costs more than the trials' training (tabular_drift: 5.6% of the
#: grid's wall time with 1700 samples, 3.1% in optimizer steps). On the seen tasks
#: (benchmarks/finetune_rule.py --mode capN, regret read off the grids) 512 left every cell's
#: regret as with the whole split (cnn_newhead 0.23, mlp_shift 0.27, tabular_drift 0.28
#: points); 256 did not (0.45, 0.45, 0.28). Without val_data a fifth of the training samples
#: (at most this many) is held out to score the trials: median 0.49 points, worst cell 0.83,
#: interval 87% over the six seen tasks (the same proxy), where the fitted minimum / 10 had
#: median 0.81 and worst cell 2.18 (measured trainings).
MAX_VAL_SAMPLES = 512
#: Trials at the range test's fitted minimum times 10**(-k/2), k = 1 .. FIRST_CANDIDATES, then
#: one more half decade below while the lowest LR tried is the best (up to k = MAX_CANDIDATES).
#: With validation data the best trial was k = 1 or 2 in all 30 runs on the six seen tasks, and
#: the rule's suggestions and intervals were the same from 3 or 4 first trials as from 6 fixed
#: ones (benchmarks/finetune_rule.py, regret read off the grids; without val_data the best was
#: once at k = 4); a trial at the fitted minimum itself (k = 0) won 40-update trials on mlp_shift
#: but lost the full fine-tuning (worst cell 0.27 -> 1.84 points): none is run.
FIRST_CANDIDATES = 4
MAX_CANDIDATES = 8
#: Then up to MAX_ABOVE trials half a decade above the highest LR tried, one at a time, while
#: the highest LR tried is the best: with plain SGD the best fine-tuning LR can sit at or above
#: the range test's fitted minimum (benchmarks/finder_regret.py --finetune fresh5 --optimizers
#: sgd: the highest trial was the best in 18 of 20 runs and no trial bracketed the grid's best
#: LR, 1e-2 - 3e-2). A trial whose loss becomes non-finite is the worst and ends the climb.
#: It was 2 until session 10: with plain SGD the climb still ended on a strictly-best top in
#: 4 of 20 runs of fresh6's tcn_sequences and 2 of 20 of fresh8's tab_embed (whose grid best
#: lay 1-1.5 decades higher); 4 in session 10, 6 since session 11, when an inert first trial
#: stopped spending the other first candidates: the cap only bounds the cost, and MAX_TRIALS
#: bounds it first. The climb also looks one half decade above a top whose metric dipped while
#: its validation loss still fell (one trial's dip of a few hundred samples is as likely
#: noise as the peak: fresh10's pointnet, plain SGD, stopped at 1e-3 on a 0.8-point dip with
#: the grid's best at 1e-2). Since session 18, with plain SGD, it also looks one half decade
#: above a top that scored worse than the trial just below it but still improved on the start
#: (its loss and its metric dipped together: one 40-update trial at the stability edge is
#: noisy); two trials short of the best end it. Chosen on the 31 seen plain-SGD cells rerun
#: side by side with session 17's code (benchmarks/finder_regret.py --finetune ... --optimizers
#: sgd --grid-from ...): fresh18's charcnn_text 7.70 -> 1.81 points (a seed had stopped at
#: 2.3e-3 on one trial's dip, the grid's best at 3.2e-2), fresh11's moe_mlp 2.19 -> 1.41, no
#: cell worse; the extra trial costs 0.4-1.9% of the grid's updates where it runs.
MAX_ABOVE = 6
#: With plain SGD (no momentum) the trials start no lower than the highest LR the range test
#: reached with a finite loss / 10**PLAIN_SGD_FLOOR_DECADES (:func:`trial_anchor`): plain SGD's
#: best LR sits near the stability edge, and where the range test's loss is minibatch noise
#: from end to end its fitted minimum is noise too. Chosen in session 16 on the 26 seen
#: plain-SGD cells whose trials ran (130 runs; their saved range tests read again:
#: benchmarks/plain_sgd_anchor.py): the fitted minimum sat 1.25-5.5 decades below the grid's
#: best LR in 10 runs (fresh18's charcnn_text 5.5 decades, its 10 trials spent climbing;
#: fresh10's pointnet, fresh13's ssm_seq, fresh14's conv_ae_cls 3-5), where the range test's
#: fitted drop was a median 0.54 of its noise (1.56 elsewhere); with the floor none (the worst
#: 1.55 decades either way), 32 runs changed. 2 decades changed 72 runs, 3 left 5 of the 10.
PLAIN_SGD_FLOOR_DECADES = 2.5
#: No more than this many trials in all (400 updates at 40 each: 4.4% of a 12-LR, 3-seed grid
#: of 300-update fine-tunings).
MAX_TRIALS = 10
#: A trial is *inert* when its validation loss is within INERT (relative) of the start's.
#: While every trial so far is inert the LRs tried are too small to move the model in a
#: trial's updates, by an unknown factor (a tie says nothing about which way is better): the
#: trials climb a decade at a time from the highest, up to MAX_INERT_ABOVE times, instead of
#: going lower, then on as above (half decades). Seen first on the eighth fresh pair
#: (tab_embed, plain SGD, one seed): the range test's fitted minimum sat 2.3 decades below the
#: grid's best LR, eight trials going lower all tied the start's accuracy (their validation
#: loss moved < 0.3%) and the fallback cost 30 points. A decade, and the loss rather than the
#: metric, since the tenth pair (pointnet, plain SGD): in two of five runs the fitted minimum
#: sat 4-5 decades low, half-decade climbs stayed short of it, and a 500-sample accuracy that
#: moved 1-2% on noise alone ended one climb.
INERT = 0.01
MAX_INERT_ABOVE = 4
#: With ``val_metric``, the band of trials "near" the best is also at most GAIN_SHARE of the
#: best trial's gain over the start (in the metric's units): where the gain is small next to
#: the metric's level (a trial that barely moved the model scores within 5% of the best), 5% of
#: the level would count trials that did nothing as near. On the 34 seen trial sets
#: (benchmarks/finetune_pick_replay.py) it left the pick as it was (median 0.69 points, worst
#: cell 2.90, against 0.67 / 2.90 with 5% alone).
GAIN_SHARE = 0.5
# A weight matrix "looks trained" when its top singular value exceeds the edge of a random
# matrix with the same entry scale, sigma * (sqrt(rows) + sqrt(cols)) (Marchenko-Pastur), by this
# factor. Fresh PyTorch initialisations (benchmarks/detection_margin.py: every task of
# benchmarks/finder_regret.py, the fine-tuning tasks' architectures, common layers and inits,
# 3 seeds each): at most 1.03. It was 1.25 until session 6's fresh fine-tuning pair, where a
# small transformer classifier pretrained on 7k windows sat at 1.06-1.24 in 7 of its 9 matrices
# and was missed (the range-test rule ran: regret 1.40 points, interval 0/5); 1.1 keeps 7% above
# every fresh initialisation measured. Pretrained models elsewhere: up to 1.7-3.8.
_SPIKE = 1.1
# ... and the model is "pretrained" when at least this share of its matrix weights looks trained
# (every fresh initialisation measured: 0%, none of its matrices above 1.1). It was 0.2 until
# session 19: three small transformer-like models pretrained briefly were missed with 7-14% (a
# PatchTST forecaster, fresh22, 14%; an FT-Transformer, fresh16, 12%; a two-tower recommender,
# fresh20, 7%: two or one of their 8-11 matrices above 1.1, the rest at 0.9-1.06), and the
# range-test rule ran; the other 41 pretrained tasks sat at 20-100%. Rerun with 0.05
# (benchmarks/finder_regret.py, grids reused): patch_forecaster AdamW 1.52 -> 2.02 points, plain
# SGD 6.93 -> 0.70; ft_transformer_tabular 0.99 -> 1.18, 1.23 -> 0.82; two_tower_rec 0.12 ->
# -0.08, 1.04 -> 0.26. Chosen on those three (seen) tasks.
_TRAINED_SHARE = 0.05
#: Matrices smaller than this on either side are skipped (their spectrum says little).
MIN_SIDE = 8


def held_out_count(n: int) -> int:
    """Training samples (of ``n``) held out to score the trials when no validation data is
    given: a fifth, at least 1, at most :data:`MAX_VAL_SAMPLES`."""
    return min(max(1, n // 5), MAX_VAL_SAMPLES)


def capped_note(n_val: int) -> str:
    """The note for validation data cut to :data:`MAX_VAL_SAMPLES` of its ``n_val`` samples."""
    return (
        f"the trials were scored on a random {MAX_VAL_SAMPLES} of the {n_val} validation "
        "samples (a pass per trial over all of them would cost more than the trials' training)"
    )


def held_out_note(scored: str, val_arg: str) -> str:
    """The note for trials scored on held-out training data (``scored`` says which)."""
    return (
        f"no {val_arg} was given: the trials were scored on {scored}; pass {val_arg}= (your "
        "validation split) for a sharper choice"
    )


def check_regime(regime: Any) -> str:
    """``regime`` lower-cased, or :class:`~lrkit.errors.ConfigError` naming it."""
    return check_choice("find_lr", "regime", regime, REGIMES)


def check_metric(val_metric: Any, mode: Any) -> str:
    """``mode`` once ``val_metric`` is ``None``, a callable or ``"accuracy"``, else
    :class:`~lrkit.errors.ConfigError` naming the bad value."""
    if val_metric is not None and not callable(val_metric) and val_metric not in METRIC_NAMES:
        from lrkit.errors import ConfigError

        raise ConfigError(
            "find_lr: val_metric must be a callable (outputs, targets) -> number, 'accuracy', "
            f"'auto' or None, but got {type(val_metric).__name__} {val_metric!r}"
        )
    return check_choice("find_lr", "val_metric_mode", mode, METRIC_MODES)


def check_trial_steps(trial_steps: Any) -> int | None:
    """``trial_steps`` as an int >= 0 (or ``None``: the default), else
    :class:`~lrkit.errors.ConfigError` naming it."""
    if trial_steps is None:
        return None
    return check_int("find_lr", "trial_steps", trial_steps, low=0)


def rule_applies(regime: str, method: str, detection: Detection | None) -> bool:
    """Whether the fine-tuning rule replaces the range-test rule: ``regime="finetune"`` or a
    detected pretrained start, and the suggestion method is lrkit's own (``auto``/``lrkit``)."""
    tuning = regime == "finetune" or (detection is not None and detection.pretrained)
    return tuning and method.lower() in ("auto", "lrkit")


def default_trial_steps(finetune_rule: bool) -> int:
    """``trial_steps=None``: trials whenever the fine-tuning rule applies (scored on val_data,
    or on held-out training samples without it)."""
    return TRIAL_STEPS if finetune_rule else 0


@dataclass(frozen=True)
class Detection:
    """Whether the model's weights look pretrained, and why."""

    pretrained: bool
    trained_share: float
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return to_json_dict(self)


def detect_pretrained(spectra: Sequence[tuple[int, int, float, float]]) -> Detection:
    """Tell a pretrained model from a freshly initialised one by its weight matrices' spectra.

    ``spectra`` holds ``(rows, cols, top singular value, Frobenius norm)`` per weight matrix.
    A matrix with i.i.d. entries of standard deviation ``sigma`` (every usual initialisation:
    uniform, normal, Xavier, Kaiming, truncated normal) has its top singular value near
    ``sigma * (sqrt(rows) + sqrt(cols))``; an orthogonal or identity one below it. Training
    grows a few large singular values above that edge (Martin & Mahoney 2021, "Implicit
    self-regularization in deep neural networks"). The model counts as pretrained when at
    least :data:`_TRAINED_SHARE` (5%) of its matrix weights sit in matrices whose top singular
    value exceeds the edge by :data:`_SPIKE` (10%): no fresh initialisation measured has one.
    A new, freshly initialised head on a pretrained body is still detected.
    """
    total, trained, worst = 0, 0, 0.0
    for rows, cols, top, fro in spectra:
        if min(rows, cols) < MIN_SIDE or not fro > 0:
            continue
        sigma = fro / math.sqrt(rows * cols)
        ratio = top / (sigma * (math.sqrt(rows) + math.sqrt(cols)))
        worst = max(worst, ratio)
        total += rows * cols
        if ratio > _SPIKE:
            trained += rows * cols
    if total == 0:
        return Detection(False, 0.0, "no weight matrix large enough to read")
    share = trained / total
    reason = (
        f"{100 * share:.0f}% of its matrix weights have a top singular value above a random "
        f"matrix's (largest ratio {worst:.2f})"
    )
    return Detection(share >= _TRAINED_SHARE, share, reason)


def spectra_numpy(weights: Sequence[Any], iters: int = 30) -> list[tuple[int, int, float, float]]:
    """``(rows, cols, top singular value, Frobenius norm)`` of every weight matrix in ``weights``.

    Arrays of 2 or more dimensions are read with their last axis as the output side
    (Keras: Dense ``(in, out)``, Conv ``(*kernel, in, out)``, Embedding ``(vocab, dim)``);
    power iteration from a fixed seed, no global RNG touched. For frameworks whose weights
    arrive as NumPy arrays (Keras ``model.trainable_weights``).
    """
    out: list[tuple[int, int, float, float]] = []
    for w in weights:
        a = np.asarray(w, dtype=np.float64)
        if a.ndim < 2:
            continue
        m = a.reshape(-1, a.shape[-1])
        if min(m.shape) < MIN_SIDE:
            continue
        v = np.random.default_rng(0).standard_normal(m.shape[1])
        top = 0.0
        for _ in range(iters):
            u = m @ v
            u /= np.linalg.norm(u) + 1e-30
            v = m.T @ u
            top = float(np.linalg.norm(v))
            v /= top + 1e-30
        out.append((m.shape[0], m.shape[1], top, float(np.linalg.norm(m))))
    return out


def candidates(lr_min: float, n: int = FIRST_CANDIDATES) -> np.ndarray:
    """Trial LRs: ``lr_min * 10**(-k/2)`` for k = 1..n (half-decade steps below the minimum)."""
    return lr_min * 10.0 ** (-np.arange(1, n + 1) / 2.0)


@dataclass(frozen=True)
class TrialOutcome:
    """The trials' LRs, their validation losses (and metric), the pick and its interval.

    ``val_metrics`` / ``start_val_metric`` / ``metric_mode`` are set when the trials were
    scored on the caller's validation metric (``val_metric=``); the pick then reads them.
    ``peak_only``: the suggestion is :func:`vertex_lr` alone (plain SGD: :func:`outcome_of`).
    """

    lrs: tuple[float, ...]
    val_losses: tuple[float, ...]
    start_val_loss: float
    suggestion: float
    interval: tuple[float, float]
    trial_steps: int
    val_metrics: tuple[float, ...] | None = None
    start_val_metric: float | None = None
    metric_mode: str | None = None
    peak_only: bool = False

    def to_dict(self) -> dict[str, Any]:
        return to_json_dict(self)


def pick(
    lrs: Any,
    val_losses: Any,
    *,
    near: float = NEAR,
    divisor: float = TRIAL_DIVISOR,
    lowest_near: bool = False,
    vertex: bool = False,
    start: float | None = None,
) -> tuple[float, tuple[float, float]]:
    """The trials' verdict: ``(suggestion, interval)``.

    ``val_losses`` are scores, lower is better. The suggestion is the LR with the lowest score
    / ``divisor`` (short trials favour too high an LR), or with ``lowest_near`` the lowest LR
    whose score is within ``near`` (relative) of the best / ``divisor``; with ``vertex`` too,
    the geometric mean of that LR and :func:`vertex_lr` (the peak read off the best trial and
    its neighbours). The interval spans every trial within ``near`` of the best, widened by one
    step of the LR grid on each side, / ``divisor``. With ``start`` (the score before any
    trial) the band is also at most :data:`GAIN_SHARE` of the best trial's gain over it. A
    non-finite score counts as worst.
    """
    lr = np.asarray(lrs, dtype=float)
    v = np.asarray(val_losses, dtype=float)
    order = np.argsort(lr)
    lr, v = lr[order], np.where(np.isfinite(v[order]), v[order], np.inf)
    b = int(np.argmin(v))
    step = float(lr[1] / lr[0]) if len(lr) > 1 else math.sqrt(10.0)  # the grid's step
    band = near * abs(v[b])
    if start is not None and math.isfinite(start) and start > v[b]:
        band = min(band, GAIN_SHARE * (start - v[b]))
    close = lr[v <= v[b] + band] if math.isfinite(v[b]) else lr[b : b + 1]
    low, high = float(close.min()) / step, float(close.max()) * step
    best = float(close.min()) if lowest_near else float(lr[b])
    if vertex:
        best = math.sqrt(best * vertex_lr(lr, v))
    return best / divisor, (low / divisor, high / divisor)


def vertex_lr(lrs: Any, scores: Any) -> float:
    """The minimum of the parabola in log-LR through the best-scored trial and its two
    neighbours (``lrs`` ascending, lower scores better), kept between those neighbours; the
    best trial's LR where it is the lowest or highest tried or the parabola has no minimum. A
    non-finite score counts as the worst finite one (at least as bad as any trial that ran).
    """
    lr = np.asarray(lrs, dtype=float)
    v = np.asarray(scores, dtype=float)
    finite = np.isfinite(v)
    if not finite.any():
        return float(lr[0])
    v = np.where(finite, v, v[finite].max())
    b = int(np.argmin(v))
    if b == 0 or b == len(v) - 1:
        return float(lr[b])
    x, y = np.log10(lr[b - 1 : b + 2]), v[b - 1 : b + 2]
    a2, a1, _ = np.polyfit(x, y, 2)
    if a2 <= 0:
        return float(lr[b])
    return float(10 ** np.clip(-a1 / (2 * a2), x[0], x[2]))


def trial_anchor(lr_min: float, lrs: Any, losses: Any, *, plain_sgd: bool) -> float:
    """The LR the trials' candidates hang from: the range test's fitted minimum ``lr_min``;
    with ``plain_sgd`` at least the highest LR the range test reached before its first
    non-finite loss / 10**:data:`PLAIN_SGD_FLOOR_DECADES`.

    >>> trial_anchor(1e-7, [1e-7, 1e-3, 1e-1, 1.0], [1.0, 1.1, 0.9, float("nan")], plain_sgd=True)
    0.00031622776601683794
    >>> trial_anchor(1e-7, [1e-7, 1.0], [1.0, 1.0], plain_sgd=False)
    1e-07
    """
    if not plain_sgd:
        return lr_min
    lr = np.asarray(lrs, dtype=float)
    lo = np.asarray(losses, dtype=float)
    bad = ~(np.isfinite(lo) & np.isfinite(lr) & (lr > 0))
    reached = lr[: int(np.argmax(bad))] if bad.any() else lr
    if reached.size == 0:
        return lr_min
    return max(lr_min, float(reached.max()) / 10.0**PLAIN_SGD_FLOOR_DECADES)


def run_trials(
    lr_min: float,
    *,
    start_trial: Callable[[], None],
    train_step: Callable[[float], float],
    val_loss: Callable[[], float],
    restore: Callable[[], None],
    trial_steps: int,
    progress: Callable[[int], None] | None = None,
    val_metric: Callable[[], float] | None = None,
    metric_mode: str = "max",
    plain_sgd: bool = False,
) -> tuple[np.ndarray, list[float], float, list[float] | None, float | None]:
    """Train ``trial_steps`` updates at each candidate LR from the restored start.

    The candidates are :func:`candidates` of ``lr_min`` (the range test's fitted minimum),
    highest first, then one more half decade below while the lowest LR tried scored strictly
    best (up to :data:`MAX_CANDIDATES`), then one more half decade above while the highest LR
    tried scored best or tied it, or its metric dipped while its validation loss was still the
    lowest (up to :data:`MAX_ABOVE`); with ``plain_sgd`` also once above a top that scored
    worse than the trial just below it but better than the start. While every trial is
    *inert* (its validation loss within :data:`INERT` of the start's) they climb a decade at
    a time instead, up to :data:`MAX_INERT_ABOVE` times, and an inert first trial skips the
    lower candidates (they would be inert too); :data:`MAX_TRIALS` in all. With
    ``val_metric`` the metric decides the direction once a trial has moved it by more than
    :data:`NEAR` of its start, the validation loss before that (distributed callers agree on
    every validation value, so every rank tries the same LRs). ``restore()`` puts the
    starting weights and optimizer state back; ``start_trial()`` rewinds the batches so that
    every trial sees the same ones (common random numbers: the trials differ only in their
    LR); ``train_step(lr)`` takes one update and returns its training loss
    (``StopIteration`` when the data ran out). ``val_metric()`` (optional) is called right
    after ``val_loss()`` and scores the trials instead of the loss (``metric_mode``:
    ``"max"`` or ``"min"``). Returns the LRs tried (ascending), the validation loss after
    each (``inf`` for a trial whose loss became non-finite), the one at the start, and the
    metric after each (the worst value for a non-finite trial) and at the start (``None``
    without ``val_metric``).
    """
    worst = -math.inf if metric_mode == "max" else math.inf
    restore()
    start = val_loss()
    start_metric = None if val_metric is None else val_metric()
    begin = start if start_metric is None else _score(start_metric, metric_mode)
    lrs: list[float] = []
    out: list[float] = []
    metrics: list[float] = []
    scores: list[float] = []  # lower is better
    done = 0

    def inert() -> bool:
        """Every trial so far left the validation loss within :data:`INERT` of the start's
        (the loss, not the metric: an accuracy moves in steps of one sample and its noise
        alone can exceed INERT)."""
        return all(abs(v - start) <= INERT * abs(start) for v in out)

    def next_lr() -> float | None:
        """The next trial's LR, or ``None`` once the best is bracketed (or the caps are hit)."""
        below = len(lrs) - above
        # Below an inert trial every lower LR is inert too: once the highest candidate left
        # the loss where it was, the other first candidates would be spent for nothing (the
        # trials climb instead, and never come back down to them).
        if below < FIRST_CANDIDATES and above == 0 and not (lrs and inert()):
            return float(candidates(lr_min, below + 1)[-1])
        if len(lrs) >= MAX_TRIALS:
            return None
        top = int(np.argmax(lrs))
        if inert():  # too small to tell apart, by an unknown factor: climb a decade
            return lrs[top] * 10.0 if above - moved < MAX_INERT_ABOVE else None
        # The metric ranks the trials once one of them moved it (either way) by more than NEAR
        # of its start; before that its differences are noise (a sample of a few hundred) and
        # the loss ranks them.
        moves = max(abs(v - begin) for v in scores)
        rank = scores if val_metric is None or moves > NEAR * abs(begin) else out
        others = min(v for i, v in enumerate(rank) if i != len(rank) - 1)
        if below < MAX_CANDIDATES and above == 0 and rank[-1] < others:
            return float(candidates(lr_min, below + 1)[-1])  # the lowest LR is strictly best
        if moved >= MAX_ABOVE:
            return None
        # Climb while the highest LR is the best so far (a tie: the peak may lie above; below,
        # a tie is no reason to go lower), or while the metric turned down at the top but the
        # validation loss still fell there: one trial's metric dip is as likely noise as the
        # peak, so look one step above.
        best_top = rank[top] <= min(v for i, v in enumerate(rank) if i != top)
        loss_falls = out[top] < min(v for i, v in enumerate(out) if i != top)
        if best_top or (rank is scores and loss_falls):
            return lrs[top] * 10**0.5
        # Plain SGD: a top that fell short of the best trial just below it but still improved
        # on the start may be one trial's noise at the stability edge: look one step above.
        below_top = sorted(range(len(lrs)), key=lrs.__getitem__)[-2]
        noisy_top = out[top] < start and rank[below_top] == min(rank)
        return lrs[top] * 10**0.5 if plain_sgd and noisy_top else None

    above = moved = 0  # trials above the first LR tried; those climbed from a non-inert top
    while (lr := next_lr()) is not None:
        if lr > max(lrs, default=math.inf):
            moved += not inert()
            above += 1
        restore()
        start_trial()
        value: float | None = None
        for _ in range(trial_steps):
            try:
                loss = train_step(lr)
            except StopIteration:
                break
            done += 1
            if progress is not None:
                progress(done)
            if not math.isfinite(loss):
                value = math.inf
                break
        metric = worst
        if value is None:
            value = val_loss()
            if val_metric is not None:
                metric = val_metric()
        value = value if math.isfinite(value) else math.inf
        metric = metric if math.isfinite(metric) else worst
        lrs.append(lr)
        out.append(value)
        metrics.append(metric)
        scores.append(value if val_metric is None else _score(metric, metric_mode))
    restore()
    order = np.argsort(lrs)
    ascending = np.asarray(lrs)[order]
    losses = [out[i] for i in order]
    if val_metric is None:
        return ascending, losses, start, None, None
    return ascending, losses, start, [metrics[i] for i in order], start_metric


def _score(metric: float, mode: str) -> float:
    """A metric as a score where lower is better (``-inf``/NaN-safe)."""
    if not math.isfinite(metric):
        return math.inf
    return -metric if mode == "max" else metric


def apply(
    result: FinderResult,
    *,
    regime: str,
    method: str,
    detection: Detection | None,
    outcome: TrialOutcome | None,
    notes: tuple[str, ...] = (),
    val_arg: str = "val_data",
) -> FinderResult:
    """The range test's result with the fine-tuning verdict: suggestion, interval, notes.

    ``val_arg``: the front-end's name for the validation split, which the no-trials note
    points to (Keras: ``validation_data``).
    """
    lr_min = result.interval[1]
    extra: list[str] = []
    if outcome is not None and not improved(outcome):
        scored = "val_metric" if outcome.val_metrics is not None else "validation loss"
        best = lr_min / FINETUNE_DIVISOR
        extra.append(
            f"none of the {len(outcome.lrs)} fine-tuning trials improved the {scored} over its "
            "value at the start, so they cannot rank the LRs (too few held-out samples, or "
            f"samples unlike the training data): the suggestion {best:.3g} is the range test's "
            f"fitted minimum {lr_min:.3g} / {FINETUNE_DIVISOR:g} instead, the weaker rule "
            f"(result.trials keeps the trials); pass your validation split ({val_arg}=)"
        )
        extra.extend(notes)
        return _fitted_minimum_rule(result, best, extra, detection, outcome)
    if outcome is not None:
        why = (
            "regime='finetune' was asked for"
            if detection is None
            else f"this looks like fine-tuning a pretrained model ({detection.reason})"
        )
        scored = "validation loss" if outcome.val_metrics is None else "val_metric"
        trials = (
            f"{len(outcome.lrs)} trials of {outcome.trial_steps} updates from your weights, "
            f"scored on {scored}"
        )
        within = f"within {100 * NEAR:.0f}% of the best {scored}"
        tip = ""
        if outcome.peak_only:
            how = (
                f"comes from {trials}: the peak of a parabola through the best trial and its "
                "neighbours, not shaded lower as for adaptive optimizers (with plain SGD the "
                "best LR of a whole fine-tuning sat at or above the short trials' peak in "
                "lrkit's benchmark)"
            )
        elif outcome.val_metrics is None:
            how = (
                f"comes from {trials}: a quarter of a decade below the peak of a parabola "
                "through the best trial and its neighbours (short trials favour too high an LR)"
            )
        else:
            how = (
                f"comes from {trials}: the geometric mean of val_metric's peak (a parabola "
                "through the best trial and its neighbours) and the validation loss's peak "
                "half a decade lower (short trials favour too high an LR; each score alone "
                "is noisy)"
            )
        if outcome.val_metrics is None:
            tip = " Pass val_metric= (e.g. accuracy) to score the trials on what you judge by."
            within += " and reaches down to half a decade below them"
        extra.append(
            f"{why}: the suggestion {outcome.suggestion:.3g} {how}, not the range "
            f"test's (its fitted minimum {lr_min:.3g} is where the training loss falls fastest, "
            "which overwrites what a pretrained model knows); the interval holds the trials "
            f"{within}. The rule was measured for fine-tuning runs of 200-300 updates.{tip} "
            "Pass regime='scratch' for the range-test rule."
        )
        extra.extend(notes)
        suggestions = {**result.suggestions, "finetune": outcome.suggestion}
        return dataclasses.replace(
            result,
            suggestion=outcome.suggestion,
            interval=outcome.interval,
            method="finetune",
            suggestions=suggestions,
            notes=(*result.notes, *extra),
            regime="finetune",
            detection=detection,
            trials=outcome,
            search_range=None,
        )
    finetune = regime == "finetune" or (detection is not None and detection.pretrained)
    if finetune and method.lower() in ("auto", "lrkit"):
        why = (
            "regime='finetune' was asked for"
            if detection is None
            else f"this looks like fine-tuning a pretrained model ({detection.reason})"
        )
        best = lr_min / FINETUNE_DIVISOR
        extra.append(
            f"{why}: the suggestion {best:.3g} is the range test's fitted minimum "
            f"{lr_min:.3g} / {FINETUNE_DIVISOR:g}, not / 3 as from scratch: the training loss "
            "falls fastest at LRs that overwrite what a pretrained model knows (in lrkit's "
            "benchmark the best fine-tuning LR lay 10-100x below that minimum, so also search "
            "below the interval). This rule is the weaker one: on lrkit's fine-tuning "
            "benchmark it did not beat a fixed AdamW 1e-3 on every task. "
            "Leave trial_steps at its default to score short trials from your weights on "
            f"your validation split ({val_arg}=) or held-out training samples instead, or pass "
            "regime='scratch' for the from-scratch rule."
        )
        return _fitted_minimum_rule(result, best, extra, detection, None)
    if finetune:
        extra.append(
            f"the model looks pretrained or regime='finetune' was asked for, but method={method!r} "
            "was chosen explicitly, so the fine-tuning rule was not applied; the range test's rules "
            "overshoot the best fine-tuning LR by 10-100x in lrkit's benchmark; use "
            "method='auto'"
        )
    return dataclasses.replace(
        result,
        notes=(*result.notes, *extra),
        regime="finetune" if detection is None and regime == "finetune" else "scratch",
        detection=detection,
    )


def _fitted_minimum_rule(
    result: FinderResult,
    best: float,
    notes: list[str],
    detection: Detection | None,
    trials: TrialOutcome | None,
) -> FinderResult:
    """``result`` with the fitted-minimum fine-tuning suggestion ``best`` (interval half a
    decade either side), ``notes`` added, and the trials (if any ran) kept."""
    return dataclasses.replace(
        result,
        suggestion=best,
        interval=(best / 10**0.5, best * 10**0.5),
        method="finetune",
        suggestions={**result.suggestions, "finetune": best},
        notes=(*result.notes, *notes),
        regime="finetune",
        detection=detection,
        trials=trials,
        search_range=None,
    )


def improved(outcome: TrialOutcome) -> bool:
    """Whether the best trial scored better than the start: trials that all left the score
    where it was (or worse) cannot tell the LRs apart."""
    if outcome.val_metrics is not None and outcome.start_val_metric is not None:
        start = _score(outcome.start_val_metric, outcome.metric_mode or "max")
        return min(_score(m, outcome.metric_mode or "max") for m in outcome.val_metrics) < start
    return min(outcome.val_losses) < outcome.start_val_loss


def finish(
    result: FinderResult,
    *,
    regime: str,
    method: str,
    detection: Detection | None,
    outcome: TrialOutcome | None = None,
    notes: tuple[str, ...] = (),
    val_arg: str = "val_data",
) -> FinderResult:
    """:func:`apply`, then issue the notes it added as :class:`~lrkit.errors.LRKitWarning`
    (for front-ends that warn nothing else themselves: Keras)."""
    import warnings

    from lrkit.errors import LRKitWarning

    out = apply(
        result, regime=regime, method=method, detection=detection, outcome=outcome,
        notes=notes, val_arg=val_arg,
    )  # fmt: skip
    for note in out.notes[len(result.notes) :]:
        warnings.warn(note, LRKitWarning, stacklevel=3)
    return out


def metric_pick(
    lrs: Any,
    scores: Any,
    losses: Any,
    *,
    start: float | None = None,
    plain_sgd: bool = False,
) -> tuple[float, tuple[float, float]]:
    """A metric-scored trial set's ``(suggestion, interval)``: the geometric mean of the
    metric's peak and the validation loss's peak / :data:`TRIAL_DIVISOR` (both
    :func:`vertex_lr`; ``scores``: the metric as a score, lower better); with ``plain_sgd`` the
    metric's peak alone. The interval is :func:`pick`'s on the metric (``start``: the score
    before any trial), widened to hold the suggestion."""
    order = np.argsort(np.asarray(lrs, dtype=float))
    lr = np.asarray(lrs, dtype=float)[order]
    peak = vertex_lr(lr, np.asarray(scores, dtype=float)[order])
    _, (low, high) = pick(lrs, scores, divisor=1.0, start=start)
    if plain_sgd:
        return peak, (low, high)
    best = math.sqrt(peak * vertex_lr(lr, np.asarray(losses, dtype=float)[order]) / TRIAL_DIVISOR)
    return best, (min(low, best), max(high, best))


# Since session 12 the metric-scored suggestion (not plain SGD) is the geometric mean of the
# metric's parabola peak and the validation loss's peak / TRIAL_DIVISOR (:func:`metric_pick`):
# the two read the same 40-update trials through partly independent noise (a few hundred
# samples' accuracy moves in steps; the loss is continuous but favours too high an LR, the
# divisor chosen for it in session 5), and their mean in log-LR scatters less than either.
# On the 145 saved AdamW trial runs of 29 seen cells (benchmarks/finetune_pick_replay.py, a
# proxy read off the grids): median 0.55 points, worst cell 3.68, 4 cells above 2, against
# 0.62 / 4.11 / 12 for session 10's pick (the lowest LR within 5% of the best, shaded with the
# peak); worse on 4 of 11 sets (fresh5/6/7/11), better on 7.
#
# With plain SGD (no momentum) the metric-scored suggestion is :func:`vertex_lr` alone, not
# shaded toward the lowest near trial: the reason for shading (40-update trials favour too
# high an LR) held for AdamW, but with plain SGD the whole fine-tuning's best LR sat at or
# above the trials' peak. On the 10 seen plain-SGD trial sets (a proxy read off the grids:
# benchmarks/finetune_pick_replay.py --by-optimizer; fresh5 .. fresh9, fresh8 with session
# 10's climb): median 0.90 points, worst cell 1.88, no cell above 2, against 1.08 / 2.90 / 3 for
# the shaded pick; on the 22 AdamW sets the parabola alone did worse (0.95 / 5.44 against
# 0.56 / 2.88), and SGD with momentum (2 sets) was a tie, so only plain SGD changes.
#
# Since session 18 the same holds where plain SGD's trials are scored on the validation loss
# (no metric: a regression, a multi-label or CTC loss): the loss's peak, unshaded, its interval
# reaching down to the shaded pick. On the four such seen cells, rerun (benchmarks/
# finder_regret.py; results/finder_regret_finetune_sgd_loss_s18.json): se_cnn_multilabel 6.81
# -> 4.10 points, ctc_recognizer 5.61 -> -0.09, box_regressor 2.73 -> 0.74, gru_forecast -0.50
# -> 1.48; interval 50% -> 100% of runs. Chosen after the twenty-first pair's first look (two of
# the four cells are that pair's).
#
# Since session 20 an adaptive optimizer's trials scored on the validation loss read it as the
# metric too (:func:`metric_pick` with the loss in both places): the geometric mean of the
# loss's peak and that peak / TRIAL_DIVISOR, a quarter of a decade below the peak, not the best
# trial / TRIAL_DIVISOR. The old pick sat below the grid's best in 7 of the 8 seen loss-scored
# AdamW cells (a regression, multi-label, CTC, mixture-density, flow or denoising loss; median
# 0.35 decades below), which suggested the change; then checked on the 24 seen classification
# cells whose trials finder_regret.py had also scored on the loss (``curves_loss``; never used
# to choose a loss-scored rule since session 5). A proxy read off the grids on all 32 (median /
# worst / cells above 2 points; benchmarks/finetune_loss_pick_replay.py): 1.88 / 10.18 / 15 ->
# 0.93 / 5.01 / 6; the interval (reaching down to the old pick) holds the grid's best in 99% of
# runs (82%), 1.5 decades wide (1.0).
# Rerun with training on the 8: mean 1.12 -> 0.40 points, worst 3.36 -> 1.41, none above 2.
def outcome_of(
    lrs: np.ndarray,
    losses: Sequence[float],
    start: float,
    trial_steps: int,
    metrics: Sequence[float] | None = None,
    start_metric: float | None = None,
    metric_mode: str = "max",
    plain_sgd: bool = False,
) -> TrialOutcome:
    """The trials' :class:`TrialOutcome`: LRs ascending, the :func:`metric_pick` verdict on
    the metric when ``metrics`` is given, else on the validation loss read as the metric too.
    ``plain_sgd``: the optimizer is SGD without momentum, and the suggestion is the parabola's
    peak alone, on the metric or on the validation loss (see the comment above)."""
    order = np.argsort(lrs)
    if metrics is None:
        # Scored on the validation loss: the loss read as the metric too (see the comment
        # above; with plain SGD its peak, unshaded), the interval reaching down to session
        # 5-19's pick (the best trial / TRIAL_DIVISOR): the peak is not always at or below the
        # whole fine-tuning's best (fresh19's gru_forecast).
        best, (low, high) = metric_pick(lrs, losses, losses, plain_sgd=plain_sgd)
        interval = (min(low / TRIAL_DIVISOR, best), max(high, best))
    else:
        scores = [_score(float(m), metric_mode) for m in metrics]
        begin = None if start_metric is None else _score(float(start_metric), metric_mode)
        best, interval = metric_pick(lrs, scores, losses, start=begin, plain_sgd=plain_sgd)
    return TrialOutcome(
        lrs=tuple(float(v) for v in np.asarray(lrs)[order]),
        val_losses=tuple(float(v) for v in np.asarray(losses)[order]),
        start_val_loss=float(start),
        suggestion=best,
        interval=interval,
        trial_steps=trial_steps,
        val_metrics=None
        if metrics is None
        else tuple(float(v) for v in np.asarray(metrics)[order]),
        start_val_metric=None if start_metric is None else float(start_metric),
        metric_mode=None if metrics is None else metric_mode,
        peak_only=plain_sgd,
    )
