"""Each rule on synthetic curves made for it, over several noise seeds."""

from __future__ import annotations

import json

import numpy as np
import pytest

from lrkit.doctor import VERDICTS, Thresholds, diagnose

from . import curves

SEEDS = range(4)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(
    ("make", "verdict"),
    [
        (curves.healthy, "healthy"),
        (curves.lr_too_low, "lr_too_low"),
        (curves.lr_too_high, "lr_too_high"),
        (curves.unstable, "unstable"),
        (curves.diverged, "diverged"),
        (curves.exploding, "diverged"),
        (curves.plateau, "plateau"),
        (curves.overfitting, "overfitting"),
        (curves.dead, "lr_too_high"),
        (curves.frozen, "lr_too_low"),
        (curves.spiky, "lr_too_high"),
    ],
)
def test_each_rule(make, verdict: str, seed: int) -> None:
    d = diagnose(make(seed=seed))
    assert d.verdict == verdict, d.explain()
    errors = [f for f in d.findings if f.severity == "error"]
    assert (not errors) if verdict == "healthy" else all(f.kind == verdict for f in errors)
    json.dumps(d.to_dict(), allow_nan=False)  # JSON-safe


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("make", [curves.stopped, curves.pinned])
def test_a_loss_that_does_not_move_at_all_is_a_frozen_plateau(make, seed: int) -> None:
    d = diagnose(make(seed=seed))
    assert d.verdict == "plateau", d.explain()
    (f,) = d.findings
    assert f.statistic == "frozen_loss" and f.value <= Thresholds().frozen_band
    assert "frozen" in f.message
    # not "decay the LR": check the updates, else the network died — LR / 10
    p = d.prescription
    assert "reach the weights" in p.text and "decay the learning rate" not in p.text
    assert p.schedule_change is None
    assert p.lr_factor == pytest.approx(0.1)
    if make is curves.stopped:  # 10 values: few, but an exactly constant loss is evidence
        assert p.lr == pytest.approx(0.01) and len(d.log.loss) == 10
    # the rule switched off: the old verdicts (nothing frozen about them)
    off = diagnose(make(seed=seed), thresholds=Thresholds(frozen_band=0.0))
    assert not any(g.statistic == "frozen_loss" for g in off.findings)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("first", [7.1, 1414.0, 2.41])
def test_a_loss_frozen_after_a_blow_up_is_a_dead_network(seed: int, first: float) -> None:
    """A per-epoch loss that blows up in its first epoch and then sits frozen (CIFAR-10 at LR
    0.1: ln 10 for 99 epochs): the network died — lr_too_high, LR / 10; a fall onto the
    level of less than twice it (2.41 -> 2.30) stays a frozen plateau."""
    rng = np.random.default_rng(seed)
    loss = 2.3026 + rng.uniform(-0.001, 0.001, 100)
    loss[0] = first
    d = diagnose({"epoch": np.arange(1.0, 101.0), "loss": loss})
    (f,) = d.findings
    if first > 2 * 2.3026:
        assert d.verdict == "lr_too_high" and f.statistic == "frozen_after_blowup", d.explain()
        assert f.value == pytest.approx(first / float(np.median(loss[10:])))
        assert "died" in f.message and d.prescription.lr_factor == pytest.approx(0.1)
        off = diagnose({"epoch": np.arange(1.0, 101.0), "loss": loss},
                       thresholds=Thresholds(frozen_from_above=0.0))  # fmt: skip
        assert off.verdict == "plateau"
    else:
        assert d.verdict == "plateau" and f.statistic == "frozen_loss", d.explain()


@pytest.mark.parametrize("seed", SEEDS)
def test_a_validation_only_log_that_climbs_after_its_best_is_overfitting(seed: int) -> None:
    """A log with only a validation loss (a recommender's val_loss per epoch): it falls to its
    best at epoch 9, then climbs 40% — overfitting (stop at the best), where the same curve as
    a training loss is too high an LR."""
    rng = np.random.default_rng(seed)
    e = np.arange(65.0)
    val = np.where(e < 9, 1.12 - 0.021 * e, 0.93 + 0.4 * 0.93 * (e - 9) / 55)
    val = val * (1 + rng.normal(0, 0.004, e.size))
    d = diagnose({"epoch": e, "val_loss": val})
    assert d.log.loss_is_validation and any("no training loss" in n for n in d.log.notes)
    assert d.verdict == "overfitting", d.explain()
    f = next(f for f in d.findings if f.kind == "overfitting")
    assert f.statistic == "val_rise_over_min" and 6 <= f.steps[0] <= 12
    assert "stop at epoch" in d.prescription.text
    as_train = diagnose({"epoch": e, "train_loss": val})
    assert not as_train.log.loss_is_validation and as_train.verdict == "lr_too_high"


@pytest.mark.parametrize("seed", SEEDS)
def test_a_steady_crawl_is_not_frozen(seed: int) -> None:
    # within the band, but falling steadily: the steps are small, not absent
    d = diagnose(curves.crawl(seed=seed))
    assert not any(f.statistic == "frozen_loss" for f in d.findings), d.explain()
    # a run that learnt and then stopped moving is not frozen either (it progressed)
    h = curves.healthy(seed=seed)
    h["train_loss"][500:] = h["train_loss"][500]
    assert not any(f.statistic == "frozen_loss" for f in diagnose(h).findings)


def test_lr_prescriptions_use_the_logged_lr() -> None:
    # a straight fall under a constant LR of 1e-5: ×3 (the LR is too small, by an unknown factor)
    assert diagnose(curves.lr_too_low()).prescription.lr == pytest.approx(3e-5)
    assert diagnose(curves.lr_too_high()).prescription.lr == pytest.approx(0.03)
    assert diagnose(curves.diverged()).prescription.lr == pytest.approx(0.05)
    unstable = diagnose(curves.unstable()).prescription
    assert unstable.lr == pytest.approx(3.3e-4) and unstable.schedule_change is not None


def test_prescription_without_lr_column_gives_a_factor() -> None:
    d = curves.lr_too_low()
    del d["lr"]
    p = diagnose(d).prescription
    # Without the LR column nothing shows the LR was constant: a cautious x3, not x10.
    assert p.lr is None and p.lr_factor == 3.0 and "multiply your learning rate by 3" in p.text


def test_diverged_finding_evidence() -> None:
    d = diagnose(curves.diverged())
    f = d.findings[0]
    assert (f.kind, f.statistic, f.steps, f.value) == (
        "diverged",
        "nonfinite_values",
        (600, 999),
        400,
    )
    assert "from step 600" in f.message


def test_plateau_prescribes_a_decay_where_it_began() -> None:
    d = diagnose(curves.plateau())
    f = d.findings[0]
    assert 150 <= f.steps[0] <= 500 and f.steps[1] == 999
    assert (
        d.prescription.schedule_change == f"decay the learning rate by 10× at step {f.steps[0]:g}"
    )
    assert d.prescription.lr == pytest.approx(0.1 * d.log.lr.values.max())  # the LR to decay to


def test_plateau_under_a_decayed_lr_is_convergence() -> None:
    d = curves.plateau()
    d["lr"] = 0.1 * 0.5 * (1 + np.cos(np.pi * d["step"] / len(d["step"])))
    assert diagnose(d).verdict == "healthy"


def test_overfitting_early_stop_step() -> None:
    d = diagnose(curves.overfitting())
    assert d.log.x_name == "epoch"
    assert 9 <= d.prescription.early_stop_step <= 15
    assert d.findings[0].statistic == "val_rise_over_min" and d.findings[0].value > 0.3


def test_no_validation_rise_is_not_overfitting() -> None:
    d = curves.overfitting()
    d["val_loss"] = d["loss"] * 1.2
    assert diagnose(d).verdict != "overfitting"


def test_isolated_nan_is_unstable_not_diverged(tmp_path) -> None:
    d = curves.healthy()
    rows = [
        f"{k:g},{float(v)!r},{float(lr)!r}" for k, v, lr in zip(d["step"], d["train_loss"], d["lr"])
    ]
    rows[500] = "500,nan,0.001"  # in a file a logged nan is data (in a dict it is padding)
    path = tmp_path / "log.csv"
    path.write_text("step,train_loss,lr\n" + "\n".join(rows) + "\n")
    out = diagnose(path)
    assert out.verdict == "unstable" and out.findings[0].statistic == "isolated_nonfinite"


def test_a_warmup_is_at_most_a_tenth_of_the_run() -> None:
    # a rise that lasts most of a 500-epoch run: the warm-up is capped at 50 epochs, not the
    # 1000 that twice the rise would give
    rng = np.random.default_rng(0)
    e = np.arange(1, 501, dtype=float)
    loss = np.where(
        e < 340, 2.3 * (1 + 0.02 * rng.standard_normal(500)), 0.4 * np.exp(-(e - 340) / 60)
    )
    loss[3:30] = 6.0 + rng.random(27)
    out = diagnose({"epoch": e, "train_loss": loss + 0.05})
    assert out.verdict == "unstable", out.explain()
    assert out.prescription.schedule_change == "add 50 warmup epochs", out.prescription.text
    from lrkit.doctor._prescribe import _warmup

    # twice the rise, rounded up to 1, 2 or 5 x 10^k — then capped at a tenth of the run
    assert (_warmup(3, 499), _warmup(0.4, 499), _warmup(1000, 499), _warmup(30, 5)) == (5, 1, 50, 1)


def test_early_spike_then_training_prescribes_warmup() -> None:
    d = curves.healthy()
    d["train_loss"][5:40] *= 4.0
    out = diagnose(d)
    assert out.verdict == "unstable"
    assert out.prescription.schedule_change is not None
    assert "warmup steps" in out.prescription.schedule_change


def test_oscillating_epoch_curve_is_unstable() -> None:
    e = np.arange(30.0)
    loss = 2.0 * np.exp(-e / 4) + 0.3 + 0.4 * (e > 10) * (e % 2)
    assert diagnose({"epoch": e, "loss": loss}).verdict == "unstable"


def test_rising_training_loss_is_lr_too_high() -> None:
    k = np.arange(600.0)
    loss = np.where(k < 200, 2.3 * np.exp(-k / 40), 2.3 * np.exp(-5) + (k - 200) * 0.002)
    rng = np.random.default_rng(0)
    d = diagnose({"step": k, "loss": loss * np.exp(rng.normal(0, 0.05, 600))})
    assert d.verdict == "lr_too_high", d.explain()


def test_thresholds_are_configurable() -> None:
    d = curves.plateau()
    assert diagnose(d, thresholds=Thresholds(plateau_progress=0.99)).verdict != "plateau"


def test_verdict_order_is_severity() -> None:
    # A diverged run that also overfitted before is reported as diverged, the rest as notes.
    d = curves.overfitting()
    d["loss"][-3:] = np.nan
    out = diagnose(d)
    assert out.verdict == "diverged" == VERDICTS[0]
    assert {f.severity for f in out.findings if f.kind != "diverged"} <= {"warning"}


@pytest.mark.parametrize("seed", SEEDS)
def test_noise_floor_decides_plateau_versus_underfit(seed: int) -> None:
    # Same shape: quiet minibatches, still falling but decelerating -> no evidence against
    # the LR: "train longer", never "raise the LR"; a loud noise floor -> plateau, where a
    # decay helps.
    quiet = diagnose(curves.decelerating(seed=seed, noise=0.01))
    loud = diagnose(curves.decelerating(seed=seed, noise=0.15))
    assert quiet.verdict == "healthy", quiet.explain()
    assert quiet.prescription.lr is None and "still falling" in quiet.prescription.text
    assert loud.verdict == "plateau", loud.explain()


@pytest.mark.parametrize("seed", SEEDS)
def test_quiet_stall_under_a_constant_lr_is_a_plateau(seed: int) -> None:
    # Early progress, then flat with little minibatch noise (no noise floor to speak of):
    # the run has stalled under a constant LR, which a decay (not a larger LR) addresses.
    rng = np.random.default_rng(seed)
    k = np.arange(1000, dtype=float)
    loss = (1.6 + 0.7 * np.exp(-k / 60)) * (1 + 0.01 * rng.standard_normal(1000))
    d = diagnose({"step": k, "train_loss": loss, "lr": np.full(1000, 3e-3)})
    assert d.verdict == "plateau", d.explain()
    # the same stall under a schedule that has already decayed is convergence
    lr = 3e-3 * 0.5 * (1 + np.cos(np.pi * k / 1000))
    assert diagnose({"step": k, "train_loss": loss, "lr": lr}).verdict == "healthy"


@pytest.mark.parametrize("seed", SEEDS)
def test_still_falling_fast_is_not_a_plateau(seed: int) -> None:
    # Noisy minibatches but a steep, clear descent to the end: not stalled.
    rng = np.random.default_rng(seed)
    k = np.arange(1000, dtype=float)
    loss = (2.3 - 1.8 * k / 1000) * (1 + 0.08 * rng.standard_normal(1000))
    d = diagnose({"step": k, "train_loss": loss, "lr": np.full(1000, 1e-2)})
    assert d.verdict != "plateau", d.explain()


def test_wording_for_a_run_that_ends_above_its_start_and_diverges_at_once(tmp_path) -> None:
    """No "-900% below", no "checkpoint before epoch 0", and "1 warmup epoch" (singular)."""
    from lrkit.doctor import diagnose

    rising = diagnose({"epoch": list(range(10)), "train_loss": [1e30 * (i + 1) for i in range(10)]})
    text = " ".join(f.message for f in rising.findings)
    assert "ends above where it started (by 900% of it)" in text
    assert "% below" not in text
    nan = float("nan")
    csv = tmp_path / "metrics.csv"  # a file's NaN is a logged NaN (in memory, all-NaN is padding)
    csv.write_text("epoch,train_loss\n" + "".join(f"{i},nan\n" for i in range(10)))
    dead = diagnose(csv)
    assert dead.verdict == "diverged"
    assert dead.prescription.text.endswith("then restart from the initial weights")
    assert "add 1 warmup epoch and" in dead.prescription.text
    later = diagnose({"epoch": list(range(10)), "train_loss": [2.0, 1.9, 1.8, 1.7] + [nan] * 6})
    assert later.prescription.text.endswith("restart from a checkpoint before epoch 4")


def _slowing(tau: float, seed: int, n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    """A quiet loss falling as 1 + e^(-k/tau): the last third's rate is e^(-200/tau) of the
    first third's."""
    rng = np.random.default_rng(seed)
    k = np.arange(n, dtype=float)
    return k, (1.0 + np.exp(-k / tau)) * (1 + 0.01 * rng.standard_normal(n))


@pytest.mark.parametrize("seed", SEEDS)
def test_still_falling_but_slowing_under_a_constant_lr_is_weak_evidence_of_a_low_lr(
    seed: int,
) -> None:
    # The last third still falls at ~40% of the first third's rate, 37% progress, constant LR.
    k, loss = _slowing(218.0, seed)
    d = diagnose({"step": k, "train_loss": loss, "lr": np.full(len(k), 1e-4)})
    assert d.verdict == "lr_too_low", d.explain()
    assert d.evidence == "weak" and d.to_dict()["evidence"] == "weak"
    assert "weak evidence" in d.explain() and "slowing" in d.explain()
    # x3 (never x10 on weak evidence), as a short trial
    assert d.prescription.lr == pytest.approx(3e-4) and "trial run" in d.prescription.text
    # The same curve under a decaying LR is the schedule working, not a small LR.
    cos = 1e-4 * 0.5 * (1 + np.cos(np.pi * k / len(k)))
    assert diagnose({"step": k, "train_loss": loss, "lr": cos}).verdict == "healthy"
    # Slowing to a tenth of its early rate: converging, no evidence against the LR.
    k, fast = _slowing(87.0, seed)
    d = diagnose({"step": k, "train_loss": fast, "lr": np.full(len(k), 1e-4)})
    assert d.verdict != "lr_too_low", d.explain()


def test_strong_lr_too_low_evidence_is_graded_strong() -> None:
    d = diagnose(curves.lr_too_low(seed=0))
    assert d.verdict == "lr_too_low" and d.evidence == "strong"
    assert diagnose(curves.healthy(seed=0)).evidence == "strong"


@pytest.mark.parametrize("seed", SEEDS)
def test_loss_ending_above_its_start_is_lr_too_high(seed: int) -> None:
    # Per epoch: the first epoch's average 1.4, then flat at ~1.7 (20% worse) to the end,
    # quietly: no blow-up (< 1.5x), no rise in the second half, just worse than at the start.
    rng = np.random.default_rng(seed)
    e = np.arange(30, dtype=float)
    loss = np.r_[1.4, np.full(29, 1.7)] * (1 + 0.01 * rng.standard_normal(30))
    d = diagnose({"epoch": e, "loss": loss, "lr": np.full(30, 0.1)})
    assert d.verdict == "lr_too_high", d.explain()
    f = next(f for f in d.findings if f.kind == "lr_too_high")
    assert f.statistic == "end_over_start" and f.value == pytest.approx(1.7 / 1.4, rel=0.03)
    assert "above where it started" in f.message
    # 3% above the start within minibatch noise of 10%: no evidence of anything.
    noisy = np.r_[1.4, np.full(29, 1.44)] * (1 + 0.1 * rng.standard_normal(30))
    d = diagnose({"epoch": e, "loss": noisy, "lr": np.full(30, 0.1)})
    assert not any(f.statistic == "end_over_start" for f in d.findings), d.explain()


@pytest.mark.parametrize("seed", SEEDS)
def test_validation_loss_jumping_by_much_of_its_gain_is_lr_too_high(seed: int) -> None:
    # Training stalls at 2/3 of its start (33% progress, quiet: no other rule fires); from
    # the run's start (3.0) the validation loss gained ~1.2, and it jumps by ~0.3-0.6 between
    # evaluations.
    rng = np.random.default_rng(seed)
    k = np.arange(600, dtype=float)
    loss = (2.0 + 1.0 * np.exp(-k / 30)) * (1 + 0.01 * rng.standard_normal(600))
    ev = np.arange(19, 600, 20, dtype=float)
    val = 2.1 + 0.3 * rng.choice([-1.0, 1.0], len(ev))
    val[0] = 2.55
    log = {"step": k, "train_loss": loss, "lr": np.full(600, 0.1)}
    d = diagnose({**log, "val_loss": _at(k, ev, val)})
    assert d.verdict == "lr_too_high", d.explain()
    assert any(f.statistic == "val_jitter_over_gain" for f in d.findings)
    # The same validation loss falling smoothly: no finding from it.
    smooth = 2.55 - 0.45 * (1 - np.exp(-ev / 200))
    d = diagnose({**log, "val_loss": _at(k, ev, smooth)})
    assert not any(f.statistic == "val_jitter_over_gain" for f in d.findings), d.explain()


def _at(k: np.ndarray, ev: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``v`` at the steps ``ev`` of ``k``, NaN (not logged) elsewhere."""
    out = np.full(len(k), np.nan)
    out[np.searchsorted(k, ev)] = v
    return out


@pytest.mark.parametrize("seed", SEEDS)
def test_val_jitter_is_measured_against_the_gain_since_the_run_started(seed: int) -> None:
    # A count regression: training falls from 2.9 to ~1.75 (40% progress; its floor is high),
    # the first evaluation (after an epoch) is already near the best, 1.92, and the validation
    # loss moves by ~0.03 between evaluations: small next to the 1.0 gained since the start
    # (the first evaluation's 0.1 to the best would make it 30%).
    rng = np.random.default_rng(seed)
    k = np.arange(600, dtype=float)
    loss = (1.75 + 1.15 * np.exp(-k / 15)) * (1 + 0.05 * rng.standard_normal(600))
    ev = np.arange(19, 600, 20, dtype=float)
    val = 1.95 + 0.03 * rng.choice([-1.0, 1.0], len(ev))
    val[0] = 2.02
    d = diagnose({"step": k, "train_loss": loss, "val_loss": _at(k, ev, val),
                  "lr": np.full(600, 0.03)})  # fmt: skip
    assert not any(f.statistic == "val_jitter_over_gain" for f in d.findings), d.explain()


@pytest.mark.parametrize("seed", SEEDS)
def test_a_loss_near_ln_k_that_keeps_its_noise_is_not_a_dead_network(seed: int) -> None:
    # A Poisson NLL that spiked early and then sits at ~1.63 (within 2% of ln 5) with ±5%
    # minibatch noise: uniform predictions would score every batch the same.
    rng = np.random.default_rng(seed)
    k = np.arange(600, dtype=float)
    loss = (1.63 + 1.3 * np.exp(-k / 20)) * (1 + 0.05 * rng.standard_normal(600))
    loss[5] = 6.0
    d = diagnose({"step": k, "loss": loss, "lr": np.full(600, 0.1)})
    assert not any(f.statistic == "loss_at_chance" for f in d.findings), d.explain()
    # The same level frozen (no noise at all) after the spike: a dead network.
    dead = np.where(k < 20, loss, np.log(5))
    d = diagnose({"step": k, "loss": dead, "lr": np.full(600, 0.1)})
    assert any(f.statistic == "loss_at_chance" for f in d.findings), d.explain()


@pytest.mark.parametrize("seed", SEEDS)
def test_a_loss_frozen_at_chance_after_falling_onto_it_is_too_high(seed: int) -> None:
    # Per-epoch averages of a 10-class CNN at a huge LR: the first epoch averages 3.2, then
    # the loss sits at ln 10 with no noise while the LR is cut again and again.
    rng = np.random.default_rng(seed)
    e = np.arange(30, dtype=float)
    loss = np.log(10) * (1 + 1e-5 * rng.standard_normal(30)) + 0.02 * np.exp(-e)
    loss[0] = 3.2
    lr = 1.0 * 0.3 ** np.floor(e / 6)
    d = diagnose({"epoch": e, "loss": loss, "lr": lr})
    assert d.verdict == "lr_too_high", d.explain()
    f = next(f for f in d.findings if f.statistic == "loss_at_chance")
    assert "ln(10)" in f.message and "falling onto it from 3.2" in f.message
    # A logger's average of a live network near ln 6 (T5 fine-tuning at ~1.78, ±0.6%) after a
    # start at 1.91 is not frozen: no verdict from ln(k).
    k = np.arange(400, dtype=float)
    t5 = (1.776 + 0.13 * np.exp(-k / 10)) * (1 + 0.006 * rng.standard_normal(400))
    d = diagnose({"step": k, "loss": t5, "lr": np.full(400, 5e-5)})
    assert not any(f.statistic == "loss_at_chance" for f in d.findings), d.explain()
    # Above k = 10 every loss lies within 2% of some ln(k): a fall onto ~ln 17 says nothing.
    lm = np.log(17) * (1 + 1e-5 * rng.standard_normal(30))
    lm[0] = 3.9
    d = diagnose({"epoch": e, "loss": lm, "lr": np.full(30, 0.3)})
    assert not any(f.statistic == "loss_at_chance" for f in d.findings), d.explain()


def _slow_fall(seed: int, val_best_early: bool = False) -> dict[str, np.ndarray]:
    """A tabular MLP far below its best LR: per-step loss falling from 1.38 by ~16% over 300
    steps, slowing (the last third at ~19% of the first third's rate: not the linear fall of
    the other too-low rules), under ±4% minibatch noise; validation every 20 steps."""
    rng = np.random.default_rng(seed)
    k = np.arange(300, dtype=float)
    loss = (1.12 + 0.26 * np.exp(-k / 120)) * (1 + 0.04 * rng.standard_normal(300))
    ev = np.arange(19, 300, 20, dtype=float)
    val = 1.35 - 0.18 * ev / 300
    if val_best_early:
        val = 1.2 + 0.002 * ev / 20
        val[0] = 1.1
    return {"step": k, "train_loss": loss, "val_loss": _at(k, ev, val),
            "lr": np.full(300, 3e-4)}  # fmt: skip


@pytest.mark.parametrize("seed", SEEDS)
def test_a_slow_significant_fall_with_little_progress_is_weak_evidence_of_a_low_lr(
    seed: int,
) -> None:
    on = Thresholds(slow_progress=0.35)  # off by default (it misfired on real logs)
    d = diagnose(_slow_fall(seed), thresholds=on)
    assert d.verdict == "lr_too_low", d.explain()
    f = next(f for f in d.findings if f.kind == "lr_too_low")
    assert f.statistic == "slow_fall_progress" and f.evidence == "weak"
    assert "falls slowly all run long" in f.message and "Weak evidence" in f.message
    # x3 as a trial, never x10
    assert d.prescription.lr == pytest.approx(9e-4) and "trial run" in d.prescription.text
    # Switched off (the default): nothing else reads this curve as too low.
    for off in (diagnose(_slow_fall(seed)), diagnose(_slow_fall(seed), thresholds=Thresholds())):
        assert not any(f.statistic == "slow_fall_progress" for f in off.findings)
    # The validation loss at its best early on (a crawl down in training while validation
    # got worse): not what a small LR does.
    d = diagnose(_slow_fall(seed, val_best_early=True), thresholds=on)
    assert not any(f.statistic == "slow_fall_progress" for f in d.findings), d.explain()


# real34 v15 (a Lightning CSVLogger's train_loss every 50 steps): per-step noise, no blow-up
_V15 = [0.0158, 0.0178, 0.0236, 0.0327, 0.0183, 0.0301, 0.0136, 0.0042, 0.0122, 0.0144, 0.031,
        0.0397, 0.0145, 0.0203, 0.0136, 0.0104, 0.0161, 0.018, 0.0109, 0.0226, 0.0171, 0.0138,
        0.0286, 0.0104, 0.0085]  # fmt: skip


def test_a_rise_within_the_noise_of_a_sparse_log_is_no_blow_up() -> None:
    """25 per-step losses, 0.004-0.040 with no early trend: the start is one noisy value, so
    the running median's 1.9x excursion above it is noise, not a blow-up. The same log with a
    rise far outside that noise still is one."""
    steps = 50.0 * np.arange(len(_V15))
    val = 0.0354 - 0.0004 * np.arange(len(_V15))
    d = diagnose({"step": steps, "train_loss": np.array(_V15), "val_loss": val})
    assert not any(f.statistic == "early_rise_over_initial" for f in d.findings), d.explain()
    assert d.verdict != "lr_too_high"
    blown = np.array(_V15)
    blown[3:7] = 0.5  # 30x the start, for four logged points
    d = diagnose({"step": steps, "train_loss": blown, "val_loss": val})
    assert any(f.statistic == "early_rise_over_initial" for f in d.findings), d.explain()
    # switched off: the old reading of the noisy log
    off = diagnose(
        {"step": steps, "train_loss": np.array(_V15), "val_loss": val},
        thresholds=Thresholds(blowup_noise=0.0),
    )
    assert any(f.statistic == "early_rise_over_initial" for f in off.findings)
