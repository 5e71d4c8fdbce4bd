"""Every threshold the doctor's rules use, in one place (see :mod:`lrkit.doctor._checks`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Thresholds:
    """Every number the rules use (defaults chosen on the benchmark's tuning split)."""

    #: diverged: the tail is this many times the initial loss.
    explode: float = 2.0
    #: lr_too_high: the smoothed loss rises this many times above L0 in the first 30% ...
    blowup: float = 1.5
    #: ... or at least two raw values rise above blowup_raw × L0 there ...
    blowup_raw: float = 3.0
    #: ... and progress stays below this (with more progress, the spike is "unstable").
    blowup_progress: float = 0.5
    #: ... and the rise clears blowup_noise × the loss's minibatch noise (0 = off; session 16:
    #: a Lightning log of 25 per-step losses, 0.004-0.040 with no trend, read as a 1.9x
    #: blow-up from its first value; 2 and 3 changed no synthetic verdict, 3 one more real log
    #: right, none wrong).
    blowup_noise: float = 3.0
    #: lr_too_high: the second half trends up (Mann–Kendall p below this) and the tail is
    #: this many times the best smoothed loss.
    rise_p: float = 0.01
    rise_factor: float = 1.25
    #: spikes: a value above the running median by > spike_z robust SDs, by > spike_range ×
    #: range and by > spike_rel × the median itself; spike_events events (or one as large as
    #: the range) count. With progress ≥ blowup_progress they make the run "unstable", with
    #: less (or with ≥ spike_events_high events) "lr_too_high".
    spike_z: float = 6.0
    spike_range: float = 0.25
    spike_rel: float = 0.5
    #: ... and by > spike_tail × the residuals' 95th percentile above their median (a
    #: heavy-tailed per-batch loss is noisy, not spiking) (0 = off).
    spike_tail: float = 3.0
    spike_events: int = 3
    spike_events_high: int = 8
    #: unstable (short, per-epoch curves): direction changes in the second half and their
    #: median size relative to range.
    osc_changes: float = 0.5
    osc_size: float = 0.1
    #: overfitting: validation loss rises this fraction above its minimum, at least
    #: overfit_persist of the later epochs stay > half that rise above it, while the training
    #: loss stays within overfit_train of its value at the minimum.
    overfit_rise: float = 0.1
    overfit_persist: float = 0.75
    overfit_train: float = 1.1
    #: ... or (a loss high above zero) it climbs back this fraction of what it gained before
    #: its minimum, steadily (Mann–Kendall p < rise_p on the values after the minimum) ...
    overfit_climb: float = 0.1
    #: ... or this smaller fraction, steadily, while the gap widens: the training loss ends
    #: below the validation loss's best, and what validation gave back plus what training
    #: gained since is at least gap_train_drop of that best (session 23).
    overfit_climb_gap: float = 0.05
    #: A validation loss at its floor is not overfitting: it gave back less than overfit_floor
    #: of what it gained, the rise (tail median − minimum) is below overfit_noise × its noise
    #: (robust SD of its changes over the second half, over √2) and the values after the
    #: minimum do not trend up (Mann–Kendall p < overfit_trend_p): a flat, noisy validation
    #: loss rises that far above its lowest value by chance (overfit_floor 0 = off).
    overfit_floor: float = 0.05
    overfit_noise: float = 3.0
    overfit_trend_p: float = 0.05
    #: A rise that gives back less than overfit_negligible of what the validation loss gained
    #: before its minimum is not overfitting however steady it is (a saturated classifier's
    #: validation loss drifting 4e-5 -> 1e-3 after falling from 0.2; 0 = off).
    overfit_negligible: float = 0.01
    #: Overfitting needs a model that fits its training data: not when the training loss
    #: ended less than this fraction below its start (it hardly moved: the run never learnt,
    #: and a validation loss drifting up after a tiny dip is that, not overfitting; 0 = off).
    overfit_learns: float = 0.05
    #: ... or, weaker evidence, the validation loss stopped improving: its best lies at least
    #: gap_stall of the evaluations before the end, it shows no downward trend after it
    #: (Mann–Kendall p < low_p) while the training loss kept falling significantly, by at least
    #: gap_train_drop of the validation loss's best and by overfit_noise × the validation
    #: loss's noise (0 = off): the generalisation gap widens.
    gap_stall: float = 0.4
    gap_train_drop: float = 0.1
    #: lr_too_low (only for quiet curves: minibatch noise over the last 40% below
    #: quiet_noise × its level): progress below low_progress while the last third still
    #: falls at ≥ low_ratio × the slope of the first third (Theil–Sen, Mann–Kendall p < low_p) ...
    low_progress: float = 0.8
    low_ratio: float = 0.3
    low_p: float = 0.05
    #: ... or the loss hardly moved (|progress| and range below stuck_progress × L0) and never
    #: rose above stuck_excursion × L0 (if it did, a too-high LR killed the network).
    stuck_progress: float = 0.05
    stuck_excursion: float = 1.5
    #: ... or a quiet curve (no excursion, LR not decayed) ends with less progress than this
    #: (off by default: on the built-in tasks such quiet stalls came from too-high LRs that
    #: a decay fixed; the leave-one-family-out benchmark may switch it on, see docs).
    quiet_progress: float = 0.0
    #: ... or, calm and without a fast start, it ends between barely and slow_progress below
    #: its start while falling significantly over the whole run and over its second half (any
    #: schedule; weak evidence; 0 = off). Off by default since session 8: on real logs it
    #: fired 5 times in 178 (real..real5) and the eye accepted 1 (slow but healthy fine-tunes
    #: and regressions); on the 26 synthetic families, where a quarter of the runs are too
    #: low by construction, 0.35 gives 7 more prescriptions toward the best LR (see docs).
    slow_progress: float = 0.0
    #: ... and a validation loss, when logged, at its best in the last part of the run (its
    #: minimum at or after this fraction of the evaluations).
    slow_val_best: float = 0.7
    quiet_noise: float = 0.05
    #: plateau: progress at least plateau_progress; over the last ≥ 30% either the minibatch
    #: noise (robust SD around the running median) is ≥ plateau_noise × the level (a noise
    #: floor) and the Theil–Sen drop is < plateau_change × level or < plateau_drop_noise ×
    #: noise (or its slope interval holds 0), or the curve is quiet and flat (slope interval
    #: holds 0 and the drop is < plateau_change × level: a stall); the level is >
    #: plateau_level × L0 and the LR was not decayed during the stall (end LR >
    #: plateau_lr_decay × LR at its start).
    plateau_progress: float = 0.2
    plateau_change: float = 0.05
    plateau_noise: float = 0.05
    plateau_drop_noise: float = 4.0
    plateau_level: float = 0.1
    plateau_lr_decay: float = 0.3
    #: lr_too_low: a quiet run that never spiked and moved less than this (relative to its
    #: start) took steps too small to matter. A curve with no trend whose 95% slope interval
    #: bounds its whole-run change below this (relative to its level) is a ``plateau``, not a
    #: lack of evidence (``flat_for_sure``).
    barely: float = 0.1
    #: ... unless more than this share of its drop came in the first tenth of the run (a fast
    #: start and a stall is not what small steps look like)
    early_drop_share: float = 0.6
    #: fewer loss values than this: not enough evidence for anything but a NaN (inconclusive).
    min_points: int = 8
    #: below this many values, only strong evidence counts (diverged, overfitting, a too-high
    #: LR); a plateau, a too-low LR or instability read from so few points is "inconclusive".
    weak_points: int = 20
    #: lr_too_low needs the loss to fall at least linearly: the last third's slope at least
    #: linear_ratio × the first third's (Theil–Sen, block medians).
    linear_ratio: float = 0.5
    #: ... a last third still falling significantly at weak_ratio × the first third's rate (or
    #: more, but below linear_ratio) under a constant LR is weak evidence of a too-low LR: the
    #: fall is slowing, so the run may also simply need more steps (off: = linear_ratio).
    weak_ratio: float = 0.3
    #: the LR counts as decayed (a schedule annealed it) when it ends below this × its peak.
    lr_decayed: float = 0.3
    #: rebound: after its best, the training loss climbs back by this fraction of its range.
    rebound: float = 0.3
    #: explosion in the first logged period: the first value is this many times the next ones.
    first_explode: float = 20.0
    #: ... unless the values after it keep falling and it is less than this many times them
    #: (an average over the initial drop: a start-up artefact of a per-period log).
    first_artefact: float = 100.0
    #: dead network: the loss ends within this relative distance of ln(k) (uniform predictions
    #: over k classes: chance level) and stays flat.
    chance_tol: float = 0.02
    #: ... with minibatch noise below this × the level (uniform predictions score every batch
    #: the same; a loss of another kind near ln(k) by accident keeps its noise) ...
    chance_noise: float = 0.01
    #: ... after learning, a spike, or a fall onto it from above this × the level.
    chance_from_above: float = 1.05
    #: ... the last only when the loss is frozen there: noise below this × the level (every
    #: batch, or every epoch's average, scores the same; a logger's average over many steps
    #: of a live network still moves more).
    chance_frozen: float = 0.002
    #: lr_too_high: the training loss ends (median of the last 20%) this fraction above where
    #: it started, by more than three times its minibatch noise: training made it worse.
    worse_than_start: float = 0.05
    #: lr_too_high: over the second half of the evaluations, the validation loss jumps between
    #: consecutive ones (robust spread of its changes around their median) by at least this
    #: fraction of everything it gained (from the run's start — the larger of the first
    #: validation value and the training loss's L0 — to its best), while the training loss made less
    #: than blowup_progress: the steps move the model more than it learns from them.
    val_jitter: float = 0.2
    #: no evidence: minibatch noise at least this × the level, and no significant trend.
    noisy_level: float = 0.2
    #: no evidence of learning: a run that no rule faults is not ``healthy`` when its loss shows
    #: no trend over the whole run (Mann–Kendall p on the block medians at least this) and ends
    #: less than ``barely`` below its start: nothing shows that it learns (0 = off).
    learning_p: float = 0.05
    #: frozen: every training loss value after the first tenth of the run lies within this
    #: relative distance of their median, with no downward trend, and the run ended less than
    #: ``barely`` below its start: the loss has stopped moving at all (a network that died or
    #: outputs a constant, or updates that never reach the weights). A live network's loss
    #: moves more from batch to batch or epoch to epoch, and a too-small LR still falls
    #: steadily (0 = off).
    frozen_band: float = 0.005
    #: frozen after a blow-up: a frozen loss whose first tenth reached more than this many
    #: times the frozen level (the run exploded, then froze) is ``lr_too_high`` (the network
    #: died), not a plateau. Chosen on real9 (seen: two CIFAR-10 runs at LR 0.1, 7.1 and 1414
    #: at epoch 1, then ln 10 for 99 epochs); a fall of 4% onto ln 2 (real5) stays a plateau
    #: (0 = off).
    frozen_from_above: float = 2.0
    #: frozen validation: where the training loss hardly moves, a validation loss whose
    #: second half lies within this relative distance of its median — unchanged up to float32
    #: rounding (~10 ulps) — is ``plateau`` (the frozen-loss prescription), not a too-small LR:
    #: evaluated on a fixed set, it changes with any update that reaches the model's outputs,
    #: so a frozen one means the outputs no longer change (a dead or saturated network, or
    #: updates that never arrive). At 1e-4 it also took a CNN at 1/100 of its best LR under a
    #: step decay (its validation loss fell 2.3083 -> 2.3034, 9e-5 over the last half) (0 = off).
    val_frozen_band: float = 1e-6
    #: frozen accuracy: where no other rule faults the run, a (validation, else training)
    #: accuracy at exactly one value — above 0 and below ``frozen_acc_ceiling`` of its scale —
    #: in at least this share of its evaluations after the first is ``plateau``: the model's
    #: predictions never change (a classifier that predicts one class sits at the majority
    #: rate), whatever its loss does — unless that loss fell by ``frozen_acc_progress`` of its
    #: start or more (it learns something the column does not measure: an auxiliary head's
    #: accuracy). At least ``frozen_acc_points`` evaluations. Chosen in session 24 on the 65
    #: real sets seen by then (three "healthy"/"inconclusive" calls of stuck classifiers,
    #: Keras and hand-written logs; 0 = off).
    frozen_acc_share: float = 0.9
    frozen_acc_ceiling: float = 0.99
    frozen_acc_progress: float = 0.5
    frozen_acc_points: int = 5
    #: rebound on a log scale: after its best, the training loss climbs back by this fraction
    #: of its log-range (log(L0 / best)); for a loss whose floor lies near zero a climb to
    #: several times the best is small next to the linear range (0 = off).
    rebound_log: float = 0.3
    #: plateau veto: a stall of the training loss is no plateau while the validation loss
    #: still improves over the same window: at least plateau_val_evals evaluations, falling
    #: (one-sided Mann–Kendall p < low_p) by more than overfit_noise × their own noise, their
    #: best among the last quarter of them; also what lets a short log pass as learning
    #: (0 = off).
    plateau_val_evals: int = 4
    #: learned second opinion: the shipped random forest (``_learned``) replaces the rules'
    #: verdict where its most probable verdict beats the rules' own by at least this margin
    #: of probability (chosen leave-one-set-out on the real logs and leave-one-family-out on
    #: the synthetic runs, ``benchmarks/doctor_learned.py``; 0 = off: the rules alone).
    learned_margin: float = 0.15
