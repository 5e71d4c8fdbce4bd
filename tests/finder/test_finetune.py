"""The finder's fine-tuning regime: detection, trials, exact restore, notes; plain SGD's interval."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="the fine-tuning finder needs torch")
from torch import nn  # noqa: E402

from lrkit.errors import ConfigError, LRKitWarning  # noqa: E402
from lrkit.finder import find_lr  # noqa: E402
from lrkit.finder._finetune import (  # noqa: E402
    TRIAL_STEPS,
    candidates,
    check_regime,
    detect_pretrained,
    metric_pick,
    outcome_of,
    pick,
    run_trials,
    trial_anchor,
    vertex_lr,
)
from lrkit.finder._finetune_torch import detect, spectra  # noqa: E402
from lrkit.finder._suggest import plain_sgd_interval  # noqa: E402

from .test_find_lr import assert_same, snapshot  # noqa: E402

D, C = 16, 4


def data(seed: int, n: int = 384, shift: float = 0.0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, D, generator=g)
    w = torch.randn(D, C, generator=torch.Generator().manual_seed(99))
    return x + shift, (x @ w).argmax(dim=1)


def fresh_model(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Linear(D, 64), nn.ReLU(), nn.Dropout(0.1), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, C)
    )


@pytest.fixture(scope="module")
def pretrained() -> dict[str, torch.Tensor]:
    """A tiny MLP pretrained for 300 Adam steps (a few seconds on one core)."""
    with torch.random.fork_rng(devices=[]):
        model = fresh_model(1)
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        x, y = data(0, n=2048)
        for i in range(300):
            idx = torch.arange(i * 64, (i + 1) * 64) % len(x)
            loss = nn.functional.cross_entropy(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def pretrained_model(state: dict[str, torch.Tensor]) -> nn.Module:
    model = fresh_model(2)
    model.load_state_dict(state)
    return model


# --- detection ---------------------------------------------------------------------------


def test_fresh_initialisations_are_not_detected() -> None:
    for seed in range(3):
        det = detect(fresh_model(seed))
        assert not det.pretrained and det.trained_share == 0.0
    conv = nn.Sequential(nn.Conv2d(3, 16, 3), nn.ReLU(), nn.Conv2d(16, 32, 3))
    assert not detect(conv).pretrained
    lm = nn.Sequential(nn.Embedding(100, 32), nn.Linear(32, 100))
    nn.init.orthogonal_(lm[1].weight)
    assert not detect(lm).pretrained


def test_a_pretrained_model_is_detected_also_with_a_fresh_head(pretrained: dict) -> None:
    model = pretrained_model(pretrained)
    det = detect(model)
    assert det.pretrained and det.trained_share > 0.5
    assert "singular value" in det.reason
    torch.manual_seed(5)
    model[5] = nn.Linear(64, C)  # a new head for new classes
    assert detect(model).pretrained


def test_detect_pretrained_reads_the_spectra() -> None:
    # a random 64x64 matrix sits at the edge (ratio ~1); a spike of 3x the edge looks trained
    edge = 1.0 * (8 + 8)
    assert not detect_pretrained([(64, 64, 1.0 * edge, 64.0)]).pretrained
    assert detect_pretrained([(64, 64, 3.0 * edge, 64.0)]).pretrained
    # share by weight count: a large trained matrix outweighs a small fresh one
    mixed = [(64, 64, 3.0 * edge, 64.0), (16, 16, 8.0, 16.0)]
    assert detect_pretrained(mixed).trained_share == pytest.approx(4096 / (4096 + 256))
    # too small to read, or all zero
    assert not detect_pretrained([(4, 64, 10.0, 1.0), (64, 64, 0.0, 0.0)]).pretrained
    # a lightly pretrained body: one matrix of nine above the edge, 6% of the weights
    # (fresh20's two-tower recommender; fresh22's forecaster), the rest random-looking
    body = [(64, 64, 1.0 * edge, 64.0)] * 8
    light = detect_pretrained([*body, (32, 64, 1.15 * (32**0.5 + 8), 2048**0.5)])
    assert light.pretrained and light.trained_share == pytest.approx(2048 / (2048 + 32768))
    assert not detect_pretrained([*body, (8, 64, 1.15 * (8**0.5 + 8), 512**0.5)]).pretrained  # 1%


def test_spectra_leave_the_global_rngs_alone() -> None:
    model = fresh_model()
    before = torch.get_rng_state()
    out = spectra(model)
    assert torch.equal(before, torch.get_rng_state())
    w = model[0].weight.detach()
    assert out[0][2] == pytest.approx(float(torch.linalg.matrix_norm(w, ord=2)), rel=1e-3)


# --- regime= and trial_steps= validation -------------------------------------------------


@pytest.mark.parametrize("bad", ["pretrained", "FINETUNE", None, 1])
def test_bad_regime_names_the_argument(bad: object) -> None:
    with pytest.raises(ConfigError, match="regime"):
        check_regime(bad)
    model = fresh_model()
    opt = torch.optim.Adam(model.parameters())
    before = snapshot(model, opt)
    with pytest.raises(ConfigError, match=f"regime={bad!r}"):
        find_lr(model, data(0), loss_fn=nn.functional.cross_entropy, optimizer=opt, regime=bad)
    assert_same(before, snapshot(model, opt))


@pytest.mark.parametrize("bad", [-1, -3, 2.5, "40"])
def test_bad_trial_steps_names_the_argument(bad: object) -> None:
    model = fresh_model()
    opt = torch.optim.Adam(model.parameters())
    with pytest.raises(ConfigError, match="trial_steps"):
        find_lr(model, data(0), loss_fn=nn.functional.cross_entropy, optimizer=opt, trial_steps=bad)


# --- the regimes on a pretrained and a fresh model -----------------------------------------


def rule_pick(t) -> float:  # type: ignore[no-untyped-def]
    """The suggestion the rule takes from trials ``t``: on the metric (a classifier under
    val_metric="auto"), the geometric mean of the metric's parabola peak and the validation
    loss's parabola peak / 10**0.5; on the loss, the best trial / 10**0.5."""
    if t.val_metrics is None:
        return float(t.lrs[int(np.argmin(t.val_losses))] / 10**0.5)
    peak = vertex_lr(t.lrs, -np.asarray(t.val_metrics))
    return math.sqrt(peak * vertex_lr(t.lrs, t.val_losses) / 10**0.5)


def run(model: nn.Module, opt: torch.optim.Optimizer, **kw: object):  # type: ignore[no-untyped-def]
    kw.setdefault("steps", 40)
    kw.setdefault("trial_steps", 10)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LRKitWarning)
        return find_lr(
            model,
            data(3, shift=0.5),
            loss_fn=nn.functional.cross_entropy,
            optimizer=opt,
            batch_size=32,
            seed=0,
            **kw,
        )


def test_auto_on_a_pretrained_model_runs_trials_and_says_why(pretrained: dict) -> None:
    model = pretrained_model(pretrained)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    with pytest.warns(LRKitWarning, match="looks like fine-tuning"):
        r = find_lr(
            model,
            data(3, shift=0.5),
            loss_fn=nn.functional.cross_entropy,
            optimizer=opt,
            batch_size=32,
            steps=40,
            trial_steps=10,
            seed=0,
        )
    assert r.regime == "finetune" and r.method == "finetune"
    assert r.detection is not None and r.detection.pretrained
    t = r.trials
    assert t is not None and 4 <= len(t.lrs) <= 10 and t.trial_steps == 10
    # half-decade steps; more than 4 trials only while the lowest (going down) or the highest
    # (going up) LR tried was the best
    assert np.allclose(np.diff(np.log10(t.lrs)), 0.5)
    # val_metric="auto" scored them on accuracy (a classifier)
    assert t.val_metrics is not None and t.metric_mode == "max"
    acc = np.asarray(t.val_metrics)
    b = int(np.argmax(acc))
    assert len(t.lrs) == 4 or b in (0, 1, len(t.lrs) - 2, len(t.lrs) - 1)
    # the geometric mean of the accuracy's and the validation loss's parabola peaks (the
    # loss's half a decade lower), so never above the best accuracy trial's upper neighbour
    assert r.suggestion == pytest.approx(rule_pick(t))
    assert r.suggestion <= t.lrs[min(b + 1, len(t.lrs) - 1)] * (1 + 1e-9)
    assert r.interval[0] <= r.suggestion <= r.interval[1]
    assert r.suggestions["finetune"] == r.suggestion
    # the first trials start half a decade below the range test's fitted minimum; trials at or
    # above it only when the climb ran (the highest LR below it was the best)
    lr_min = float(r.lrs[int(np.argmin(r.fitted))])
    below = [lr for lr in t.lrs if lr < lr_min]
    assert max(below) == pytest.approx(lr_min / 10**0.5, rel=1e-6) and len(below) >= 4
    if len(below) < len(t.lrs):
        from lrkit.finder._finetune import MAX_ABOVE, MAX_INERT_ABOVE

        assert b >= len(below) - 1 and len(t.lrs) - len(below) <= MAX_ABOVE + MAX_INERT_ABOVE
    assert r.interval[0] < r.suggestion < r.interval[1]
    assert any("held-out training samples" in n for n in r.notes)  # no val_data was given
    d = r.to_dict()
    assert d["regime"] == "finetune" and d["detection"]["pretrained"] is True
    assert len(d["trials"]["val_losses"]) == len(r.trials.lrs)


def test_no_trials_on_a_pretrained_model_divides_the_fitted_minimum_by_10(pretrained: dict) -> None:
    model = pretrained_model(pretrained)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    r = run(model, opt, trial_steps=0)
    lr_min = float(r.lrs[int(np.argmin(r.fitted))])
    assert r.regime == "finetune" and r.method == "finetune" and r.trials is None
    assert r.detection is not None and r.detection.pretrained
    assert r.suggestion == pytest.approx(lr_min / 10)
    assert r.suggestions["lrkit"] == pytest.approx(lr_min / 3)  # the from-scratch rule, kept
    assert r.interval == pytest.approx((lr_min / 10**1.5, lr_min / 10**0.5))
    assert any("looks like fine-tuning" in n and "/ 10" in n for n in r.notes)
    assert r.to_dict()["trials"] is None


def test_default_without_val_data_scores_trials_on_held_out_training_samples(
    pretrained: dict,
) -> None:
    model = pretrained_model(pretrained)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    r = run(model, opt, trial_steps=None)  # the default trial length, no val_data
    assert r.trials is not None and r.trials.trial_steps == TRIAL_STEPS
    # a fifth of the 384 training samples scores the trials, never trained on by them
    assert any("76 held-out training samples" in n for n in r.notes)


class _Recorder(nn.Module):
    """The test MLP that records which samples (column 0 holds their index) it trained on."""

    def __init__(self, state: dict[str, torch.Tensor]) -> None:
        super().__init__()
        self.net = pretrained_model(state)
        self.seen: list[int] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and torch.is_grad_enabled():
            self.seen.extend(int(v) for v in x[:, 0])
        return self.net(torch.cat([torch.zeros_like(x[:, :1]), x[:, 1:]], dim=1))


def test_an_iterable_without_val_data_holds_out_batches_of_the_same_pass(
    pretrained: dict,
) -> None:
    x, y = data(3, n=320, shift=0.5)
    x = torch.cat([torch.arange(len(x), dtype=x.dtype)[:, None], x[:, 1:]], dim=1)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x, y), batch_size=32, shuffle=True,
        generator=torch.Generator().manual_seed(0),
    )  # fmt: skip
    held: list[int] = []
    real_split = __import__("lrkit.finder._finetune_torch", fromlist=["_split"])._split

    def spy(*a: object, **k: object):  # type: ignore[no-untyped-def]
        model.seen.clear()  # the range test is over: from here on, the trials' training
        out = real_split(*a, **k)
        held.extend(int(v) for xb, _ in out[1] for v in xb[:, 0])
        return out

    model = _Recorder(pretrained)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("lrkit.finder._finetune_torch._split", spy)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", LRKitWarning)
            r = find_lr(model, loader, loss_fn=nn.functional.cross_entropy, optimizer=opt,
                        regime="finetune", steps=20, trial_steps=6, seed=0)  # fmt: skip
    assert r.trials is not None
    assert len(held) == 64  # a fifth of the loader's 10 batches
    trained = set(model.seen)
    assert len(trained) >= 6 * 32 and not trained & set(held)
    assert any("first 2 training batches" in n for n in r.notes)


def test_large_val_data_is_capped_at_a_random_subset(pretrained: dict) -> None:
    from lrkit.finder._finetune import MAX_VAL_SAMPLES

    model = pretrained_model(pretrained)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    val = data(7, n=MAX_VAL_SAMPLES + 200, shift=0.5)
    scored: list[torch.Tensor] = []
    real_split = __import__("lrkit.finder._finetune_torch", fromlist=["_split"])._split

    def spy(*a: object, **k: object):  # type: ignore[no-untyped-def]
        out = real_split(*a, **k)
        scored.extend(xb for xb, _ in out[1])
        return out

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("lrkit.finder._finetune_torch._split", spy)
        r = run(model, opt, val_data=val, trial_steps=4)
    assert r.trials is not None
    assert any(f"random {MAX_VAL_SAMPLES} of the {MAX_VAL_SAMPLES + 200}" in n for n in r.notes)
    # the trials were scored on MAX_VAL_SAMPLES distinct rows of val_data
    rows = torch.cat(scored)
    assert len(rows) == MAX_VAL_SAMPLES == len(torch.unique(rows, dim=0))
    index = {tuple(v.tolist()): i for i, v in enumerate(val[0])}
    keep = torch.tensor([index[tuple(v.tolist())] for v in rows])
    model.eval()
    with torch.no_grad():
        sub = float(nn.functional.cross_entropy(model(val[0][keep]), val[1][keep]))
        whole = float(nn.functional.cross_entropy(model(val[0]), val[1]))
    model.train()
    assert r.trials.start_val_loss == pytest.approx(sub, rel=1e-5)
    assert abs(sub - whole) > 1e-6


def test_default_with_val_data_runs_validation_scored_trials(pretrained: dict) -> None:
    model = pretrained_model(pretrained)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x, y = data(4)
    nn.functional.cross_entropy(model(x[:32]), y[:32]).backward()
    opt.step()  # non-empty optimizer state, grads left in place
    state = {k: v.clone() for k, v in model.state_dict().items()}
    before = snapshot(model, opt)
    val = data(7, n=256, shift=0.5)
    r = run(model, opt, val_data=val, trial_steps=None)  # the default trial length
    # exact restore: the pretrained weights come back bit for bit
    after = model.state_dict()
    assert all(torch.equal(state[k], after[k]) for k in state)
    assert_same(before, snapshot(model, opt))
    assert r.regime == "finetune" and r.method == "finetune"
    assert r.trials is not None and r.trials.trial_steps == TRIAL_STEPS == 40
    assert not any("held-out" in n for n in r.notes)  # scored on val_data, not training data
    # the trials' losses are the loss on val_data, as evaluated by hand at the start
    model.eval()  # the trials score without dropout
    with torch.no_grad():
        start = float(nn.functional.cross_entropy(model(val[0]), val[1]))
    model.train()
    assert r.trials.start_val_loss == pytest.approx(start, rel=1e-5)
    assert r.suggestion == pytest.approx(rule_pick(r.trials))
    assert r.interval[0] < r.suggestion < r.interval[1]
    # the range test read the training loss: the same curve as without val_data
    plain = run(model, opt, trial_steps=0)
    assert np.array_equal(r.losses, plain.losses)
    assert plain.trials is None and plain.suggestion == pytest.approx(plain.interval[1] / 10**0.5)
    assert any("(val_data=)" in n and "weaker" in n for n in plain.notes)


def test_val_data_on_a_fresh_model_still_drives_the_range_test() -> None:
    model = fresh_model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    val = data(7, n=128)
    auto = run(model, opt, val_data=val, trial_steps=None)
    scratch = run(model, opt, val_data=val, regime="scratch")
    assert auto.trials is None and auto.regime == "scratch"
    assert np.array_equal(auto.losses, scratch.losses) and auto.suggestion == scratch.suggestion
    assert not np.array_equal(auto.losses, run(model, opt, trial_steps=None).losses)


def test_scratch_regime_keeps_the_range_test_rule(pretrained: dict) -> None:
    model = pretrained_model(pretrained)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    r = run(model, opt, regime="scratch")
    assert r.regime == "scratch" and r.trials is None and r.detection is None
    assert r.method == "lrkit" and r.suggestion == r.suggestions["lrkit"]
    assert not any("fine-tuning" in n for n in r.notes)


def test_auto_on_a_fresh_model_is_unchanged() -> None:
    model = fresh_model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    auto = run(model, opt)
    scratch = run(model, opt, regime="scratch")
    assert auto.regime == "scratch" and auto.trials is None
    assert auto.detection is not None and not auto.detection.pretrained
    assert auto.suggestion == scratch.suggestion and auto.interval == scratch.interval
    assert auto.notes == scratch.notes


def test_finetune_regime_on_request_with_val_data(pretrained: dict) -> None:
    model = fresh_model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    r = run(model, opt, regime="finetune", val_data=data(7, n=128, shift=0.5))
    assert r.regime == "finetune" and r.detection is None and r.trials is not None
    assert any("regime='finetune' was asked for" in n for n in r.notes)
    assert not any("held-out" in n for n in r.notes)
    assert all(math.isfinite(v) for v in r.trials.val_losses)


def test_an_explicit_method_is_kept_with_a_note(pretrained: dict) -> None:
    model = pretrained_model(pretrained)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    r = run(model, opt, method="valley")
    assert r.trials is None and r.method == "valley"
    assert any("the fine-tuning rule was not applied" in n for n in r.notes)


# --- exact restore --------------------------------------------------------------------------


@pytest.mark.parametrize("as_loader", [False, True])
def test_trials_restore_everything_bit_for_bit(pretrained: dict, as_loader: bool) -> None:
    model = pretrained_model(pretrained)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x, y = data(4)
    nn.functional.cross_entropy(model(x[:32]), y[:32]).backward()
    opt.step()  # non-empty optimizer state, and grads left in place
    model.eval()  # a flag the trials flip
    state = {k: v.clone() for k, v in model.state_dict().items()}
    before = snapshot(model, opt)
    train: object = data(3, shift=0.5)
    if as_loader:
        ds = torch.utils.data.TensorDataset(*data(3, shift=0.5))
        train = torch.utils.data.DataLoader(ds, batch_size=32, shuffle=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LRKitWarning)
        r = find_lr(
            model,
            train,
            loss_fn=nn.functional.cross_entropy,
            optimizer=opt,
            steps=30,
            trial_steps=8,
            regime="finetune",
        )
    assert r.trials is not None
    after = model.state_dict()
    assert state.keys() == after.keys()
    assert all(torch.equal(state[k], after[k]) for k in state)
    assert_same(before, snapshot(model, opt))


def test_restore_after_an_interrupted_trial(pretrained: dict) -> None:
    model = pretrained_model(pretrained)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    before = snapshot(model, opt)
    calls = {"n": 0}

    def loss_fn(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        calls["n"] += 1
        if calls["n"] > 40 + 15:  # inside the trials, after the 40-step range test
            raise KeyboardInterrupt
        return nn.functional.cross_entropy(out, y)

    with pytest.raises(KeyboardInterrupt), warnings.catch_warnings():
        warnings.simplefilter("ignore", LRKitWarning)
        find_lr(
            model,
            data(3),
            loss_fn=loss_fn,
            optimizer=opt,
            steps=40,
            trial_steps=10,
            regime="finetune",
        )
    assert_same(before, snapshot(model, opt))


# --- the framework-free pieces -------------------------------------------------------------


def test_candidates_sit_half_decades_below_the_minimum() -> None:
    c = candidates(1e-2, 4)
    assert np.allclose(np.log10(c), [-2.5, -3.0, -3.5, -4.0])


def test_pick_divides_the_best_trial_and_spans_the_near_ones() -> None:
    lrs = [1e-4, 1e-3, 1e-2, 1e-1]  # a decade apart: the divisor 10 makes the arithmetic exact
    # one clear best: the interval is its neighbours, everything / divisor
    best, (low, high) = pick(lrs, [2.0, 1.5, 1.7, math.nan], near=0.05, divisor=10)
    assert best == pytest.approx(1e-4)
    assert (low, high) == pytest.approx((1e-5, 1e-3))
    # a trial within 5% of the best widens the interval to its far neighbour
    best, (low, high) = pick(lrs, [2.0, 1.5, 1.55, 3.0], near=0.05, divisor=10)
    assert best == pytest.approx(1e-4) and (low, high) == pytest.approx((1e-5, 1e-2))
    # ... but not with a tighter tolerance
    assert pick(lrs, [2.0, 1.5, 1.55, 3.0], near=0.01, divisor=10)[1] == pytest.approx((1e-5, 1e-3))
    # best at the top end: one grid step above it; the order of the input does not matter
    best, (low, high) = pick(lrs[::-1], [1.0, 1.8, 1.9, 2.0], near=0.0, divisor=1)
    assert best == pytest.approx(1e-1) and (low, high) == pytest.approx((1e-2, 1.0))
    assert pick(lrs, [math.inf] * 4, divisor=1)[0] == pytest.approx(1e-4)
    # the default: half a decade below the best, interval around the suggestion
    best, (low, high) = pick(lrs, [2.0, 1.5, 1.7, 1.9])
    assert best == pytest.approx(1e-3 / 10**0.5) and low < best < high


def trials(target: float, log: list[str] | None = None):  # type: ignore[no-untyped-def]
    """run_trials on a toy: two updates of ``w += lr`` (a blow-up above lr 2), val (w - target)^2."""
    w = {"v": 0.0}
    log = [] if log is None else log

    def restore() -> None:
        log.append("restore")
        w["v"] = 0.0

    def step(lr: float) -> float:
        w["v"] += lr
        return math.inf if lr > 2.0 else 1.0

    lrs, losses, start, metrics, start_metric = run_trials(
        10.0,  # candidates 10 * 10**(-k/2): 3.16 (blows up), 1, 0.316, 0.1, then lower
        start_trial=lambda: log.append("start"),
        train_step=step,
        val_loss=lambda: (w["v"] - target) ** 2,
        restore=restore,
        trial_steps=2,
    )
    assert metrics is None and start_metric is None
    return lrs, losses, start


def test_run_trials_restores_before_each_trial_and_scores_a_blow_up_as_worst() -> None:
    from lrkit.finder._finetune import FIRST_CANDIDATES

    log: list[str] = []
    lrs, losses, start = trials(2 * 10**-0.5, log)  # best at the third candidate
    assert start == pytest.approx(0.4)
    assert len(lrs) == FIRST_CANDIDATES == 4  # bracketed: no more trials
    assert np.allclose(np.log10(lrs), [-1.0, -0.5, 0.0, 0.5])  # ascending
    assert losses[-1] == math.inf and losses[1] == pytest.approx(0.0, abs=1e-12)
    assert losses[0] == pytest.approx((0.2 - 2 * 10**-0.5) ** 2)
    assert log == ["restore", *["restore", "start"] * 4, "restore"]


def test_run_trials_go_lower_while_the_lowest_lr_is_best() -> None:
    from lrkit.finder._finetune import MAX_CANDIDATES

    lrs, losses, _ = trials(2 * 10**-1.5)  # best at k = 5: one more (k = 6) brackets it
    assert len(lrs) == 6 and np.argmin(losses) == 1
    lrs, losses, _ = trials(0.0)  # lower is always better: it stops at MAX_CANDIDATES
    assert len(lrs) == MAX_CANDIDATES and lrs[0] == pytest.approx(
        10.0 * 10 ** (-MAX_CANDIDATES / 2)
    )
    assert np.argmin(losses) == 0


def test_run_trials_go_higher_while_the_highest_lr_is_best() -> None:
    """Plain SGD's best fine-tuning LR can sit above the first trials: they climb half a decade
    at a time while the highest LR tried is strictly the best, at most MAX_ABOVE times, and a
    trial that blows up ends the climb."""
    from lrkit.finder._finetune import FIRST_CANDIDATES, MAX_ABOVE, MAX_TRIALS

    def go(lr_min: float, target: float, blow_up: float = 2.0):  # type: ignore[no-untyped-def]
        w = {"v": 0.0}

        def restore() -> None:
            w["v"] = 0.0

        def step(lr: float) -> float:
            w["v"] += lr
            return math.inf if lr > blow_up else 1.0

        lrs, losses, *_ = run_trials(
            lr_min,
            start_trial=lambda: None,
            train_step=step,
            val_loss=lambda: (w["v"] - target) ** 2,
            restore=restore,
            trial_steps=2,
        )
        return lrs, losses

    # first trials 0.316 .. 0.01; the best (w = 2 lr = 2) is at lr 1: one climb brackets it,
    # the second (3.16) blows up and is scored worst
    lrs, losses = go(1.0, 2.0)
    assert len(lrs) == FIRST_CANDIDATES + 2 == 6
    assert np.allclose(np.log10(lrs), np.arange(-2.0, 0.6, 0.5))  # ascending, half decades
    assert int(np.argmin(losses)) == 4 and losses[-1] == math.inf
    # the best far above (a loss that falls with every LR): the climb stops at MAX_ABOVE
    # trials, or MAX_TRIALS in all, even though the top is still best
    w = {"v": 0.0}

    def step_on(lr: float) -> float:
        w["v"] += lr
        return 1.0

    lrs, losses, *_ = run_trials(
        1.0, start_trial=lambda: None, train_step=step_on, val_loss=lambda: 1 / (1 + w["v"]),
        restore=lambda: w.update(v=0.0), trial_steps=2,
    )  # fmt: skip
    assert len(lrs) == min(FIRST_CANDIDATES + MAX_ABOVE, MAX_TRIALS)
    assert int(np.argmin(losses)) == len(lrs) - 1
    # bracketed from the start: no climb
    lrs, _ = go(1.0, 2 * 0.1)
    assert len(lrs) == FIRST_CANDIDATES and lrs.max() == pytest.approx(10**-0.5)
    # a tie at the top (a quantised score, flat from 0.03 to 1): the peak may lie above, so the
    # climb goes on until a trial is worse (lr 3.16: w = 6.3)
    w = {"v": 0.0}

    def quantised(v: float) -> float:
        return 1.0 if v < 0.05 else 0.5 if v < 5 else 2.0

    def step(lr: float) -> float:
        w["v"] += lr
        return 1.0

    lrs, losses, *_ = run_trials(
        1.0, start_trial=lambda: None, train_step=step, val_loss=lambda: quantised(w["v"]),
        restore=lambda: w.update(v=0.0), trial_steps=2,
    )  # fmt: skip
    assert np.allclose(np.log10(lrs), [-2.0, -1.5, -1.0, -0.5, 0.0, 0.5])
    assert list(losses) == [1.0, 0.5, 0.5, 0.5, 0.5, 2.0]


def test_run_trials_climb_while_every_trial_is_inert() -> None:
    """Trials that all leave the score within INERT of the start's say the LRs are too small:
    the trials climb a decade at a time (never go lower: below an inert trial every LR is
    inert too, so the other first candidates are skipped), up to MAX_INERT_ABOVE times while
    they stay inert, then on as usual (MAX_ABOVE more half decades while the top is best); a
    tie at the lowest LR is no reason to go lower."""
    from lrkit.finder._finetune import INERT, MAX_ABOVE, MAX_INERT_ABOVE, MAX_TRIALS

    def go(lr_min: float, val):  # type: ignore[no-untyped-def]
        w = {"v": 0.0}

        def restore() -> None:
            w["v"] = 0.0

        def step(lr: float) -> float:
            w["v"] += lr
            return 1.0

        lrs, losses, start, *_ = run_trials(
            lr_min,
            start_trial=lambda: None,
            train_step=step,
            val_loss=lambda: val(w["v"]),
            restore=restore,
            trial_steps=2,
        )
        return lrs, np.asarray(losses), start

    # a loss of 10 + (1 - w)^2 (w = 2 lr): the first trial (3.2e-3) moves it by < 1%, so no
    # lower one is tried; the climb goes a decade, to 3.2e-2, which moves it by more, then
    # half a decade at a time while the top is best (to 0.316), and one more brackets it
    lrs, losses, start = go(1e-2, lambda v: 10 + (1 - v) ** 2)
    moved = np.abs(losses - start) > INERT * start
    assert np.allclose(np.log10(lrs), [-2.5, -1.5, -1.0, -0.5, 0.0])  # never below the first
    assert not moved[0] and moved[1:-1].all()  # lr 1 lands back on the start's loss
    assert int(np.argmin(losses)) == len(lrs) - 2 and len(lrs) - 2 <= MAX_ABOVE
    # the best far above: an inert climb, then half decades, and no more than MAX_TRIALS in all
    lrs, losses, start = go(1e-2, lambda v: 10 + (1e4 - v) ** 2)
    assert len(lrs) == MAX_TRIALS and int(np.argmin(losses)) == len(lrs) - 2
    assert np.allclose(np.diff(np.log10(lrs))[:3], 1.0)  # decades while inert
    # nothing ever moves: MAX_INERT_ABOVE climbs from the first trial, then stop
    lrs, losses, start = go(1e-3, lambda v: 1e6 + v)
    assert len(lrs) == 1 + MAX_INERT_ABOVE
    assert lrs.min() == pytest.approx(1e-3 * 10**-0.5)
    assert np.allclose(np.diff(np.log10(lrs)), 1.0)  # decades
    # scored on a metric that moves by noise alone (±2%, more than INERT) while the validation
    # loss does not move: the loss decides inertness, and the trials still climb
    w = {"v": 0.0}
    noise = iter(np.random.default_rng(0).uniform(-0.02, 0.02, 50))

    def step(lr: float) -> float:
        w["v"] += lr
        return 1.0

    lrs, losses, start, metrics, _ = run_trials(
        1e-3, start_trial=lambda: None, train_step=step, val_loss=lambda: 1e6 + w["v"],
        restore=lambda: w.update(v=0.0), trial_steps=2, val_metric=lambda: 0.5 + next(noise),
    )  # fmt: skip
    assert metrics is not None and len(lrs) == 1 + MAX_INERT_ABOVE
    assert lrs.min() == pytest.approx(1e-3 * 10**-0.5)
    # a metric that moves by noise only (±0.4%, under NEAR of its start) while the loss falls
    # with every LR: the loss ranks the trials, so they climb while the top is best
    w["v"] = 0.0
    small = iter(np.random.default_rng(1).uniform(-0.002, 0.002, 50))
    lrs, losses, start, metrics, _ = run_trials(
        1e-2, start_trial=lambda: None, train_step=step, val_loss=lambda: 1 / (1 + w["v"]),
        restore=lambda: w.update(v=0.0), trial_steps=2, val_metric=lambda: 0.5 + next(small),
    )  # fmt: skip
    assert len(lrs) == 2 + MAX_ABOVE and int(np.argmin(losses)) == len(lrs) - 1
    # a quantised loss (round(w) + 0.5): the lowest of the first four is strictly best, one more
    # below ties it, and a tie is no reason to go lower still
    lrs, losses, _ = go(10.0, lambda v: round(v) + 0.5)
    assert len(lrs) == 5 and losses[0] == losses[1] == losses.min()


def test_run_trials_look_above_a_metric_dip_while_the_loss_still_falls() -> None:
    """A metric that turns down at the highest LR while the validation loss still falls there
    is as likely one trial's noise as the peak: the trials look one half decade above, and go
    on climbing where that trial is the best."""
    w = {"v": 0.0}

    def step(lr: float) -> float:
        w["v"] += lr
        return 1.0

    def metric(v: float) -> float:  # rises with w, but one trial (w = 2, lr 1) dips
        return 0.5 + 0.3 * math.log10(1 + v) - (0.1 if 1.5 < v < 2.5 else 0.0)

    def go(loss):  # type: ignore[no-untyped-def]
        w["v"] = 0.0
        lrs, _, _, metrics, _ = run_trials(
            1.0, start_trial=lambda: None, train_step=step, val_loss=lambda: loss(w["v"]),
            restore=lambda: w.update(v=0.0), trial_steps=2, val_metric=lambda: metric(w["v"]),
        )  # fmt: skip
        assert metrics is not None
        return np.log10(lrs), np.asarray(metrics)

    logs, metrics = go(lambda v: 1 / (1 + v))  # the loss falls with every LR
    i = int(np.argmin(np.abs(logs)))  # the dip at lr 1 is below lr 0.316's metric ...
    assert metrics[i] < metrics[i - 1]
    assert logs.max() > 0.4 and metrics.max() > metrics[i - 1]  # ... but the climb went on
    # the loss turns up at lr 1 too: the dip ends the climb there
    logs, metrics = go(lambda v: 1 / (1 + v) + (1.0 if v > 1.5 else 0.0))
    assert logs.max() == pytest.approx(0.0)


def test_plain_sgd_trials_look_once_above_a_top_that_fell_short() -> None:
    """With plain SGD a top trial that scored worse than the one just below it, but still
    better than the start, may be one trial's noise at the stability edge: the trials look one
    half decade above (and climb on where that one is the best). Not with other optimizers, not
    above a top worse than the start, and only once: two trials short of the best end it."""
    w = {"v": 0.0}

    def step(lr: float) -> float:
        w["v"] += lr
        return 1.0

    def go(loss, plain_sgd: bool):  # type: ignore[no-untyped-def]
        w["v"] = 0.0
        lrs, *_ = run_trials(
            1.0, start_trial=lambda: None, train_step=step, val_loss=lambda: loss(w["v"]),
            restore=lambda: w.update(v=0.0), trial_steps=2, plain_sgd=plain_sgd,
        )  # fmt: skip
        return float(np.log10(lrs).max())

    def dip(v: float) -> float:  # falls with w, but the trial at lr 1 (w = 2) scores worse
        return 1 / (1 + v) + (0.3 if 1.5 < v < 2.5 else 0.0)

    assert go(dip, plain_sgd=False) == pytest.approx(0.0)  # stops at the dip (lr 1)
    assert go(dip, plain_sgd=True) > 0.9  # looked above it and climbed on

    def step_up(by: float):  # type: ignore[no-untyped-def]
        return lambda v: 1 / (1 + v) + (by if v > 1.5 else 0.0)

    # a top worse than the start is no noise: the climb ends there
    assert go(step_up(1.0), plain_sgd=True) == pytest.approx(0.0)
    # two trials above the best both short of it: one look, then stop
    assert go(step_up(0.5), plain_sgd=True) == pytest.approx(0.5)


def test_run_trials_score_on_the_metric_when_given() -> None:
    """The metric (not the loss) picks the trials and drives the extension; a blown-up trial
    gets the worst metric; ``min`` mode reads it the other way round."""
    w = {"v": 0.0}

    def restore() -> None:
        w["v"] = 0.0

    def step(lr: float) -> float:
        w["v"] += lr
        return math.inf if lr > 2.0 else 1.0

    def go(mode: str):  # type: ignore[no-untyped-def]
        # loss best at the third candidate (w = 2 * 0.316), metric best at the lowest LRs
        return run_trials(
            10.0,
            start_trial=lambda: None,
            train_step=step,
            val_loss=lambda: (w["v"] - 2 * 10**-0.5) ** 2,
            restore=restore,
            trial_steps=2,
            val_metric=lambda: -w["v"] if mode == "max" else w["v"],
            metric_mode=mode,
        )

    for mode in ("max", "min"):
        lrs, losses, start, metrics, start_metric = go(mode)
        assert start_metric == 0.0 and metrics is not None
        # the lowest LR kept scoring best on the metric: more trials below, up to the cap
        from lrkit.finder._finetune import MAX_CANDIDATES

        assert len(lrs) == MAX_CANDIDATES
        assert metrics[-1] == (-math.inf if mode == "max" else math.inf)  # the blow-up
        assert np.argmin(losses) == MAX_CANDIDATES - 3  # the loss alone would pick another
        outcome = outcome_of(lrs, losses, start, 2, metrics, start_metric, mode)
        assert outcome.metric_mode == mode and outcome.val_metrics == tuple(metrics)
        # the metric's peak is its best trial, the lowest LR (an edge); the loss's peak lies
        # between its best trial's neighbours: the suggestion is their geometric mean, with the
        # loss's half a decade lower
        loss_peak = vertex_lr(lrs, losses)
        assert lrs[-4] <= loss_peak <= lrs[-2]
        assert outcome.suggestion == pytest.approx(math.sqrt(lrs[0] * loss_peak / 10**0.5))
        assert outcome.interval[0] <= outcome.suggestion <= outcome.interval[1]


def test_pick_lowest_near_takes_the_lowest_lr_within_near_of_the_best() -> None:
    lrs = [1e-4, 1e-3, 1e-2, 1e-1]
    scores = [-0.60, -0.70, -0.72, -0.50]  # a metric to maximise, negated
    best, (low, high) = pick(lrs, scores, divisor=1, lowest_near=True)
    assert best == pytest.approx(1e-3)  # -0.70 is within 5% of -0.72; -0.60 is not
    assert (low, high) == pytest.approx((1e-4, 1e-1))  # the near ones, one step wider
    best, _ = pick(lrs, scores, divisor=1, near=0.0, lowest_near=True)
    assert best == pytest.approx(1e-2)  # only the best itself
    # from a start of 0.69 the best gained 0.03: the band is at most half of that (0.015), and
    # -0.70 (a trial that barely moved) is no longer near
    best, (low, high) = pick(lrs, scores, divisor=1, lowest_near=True, start=-0.69)
    assert best == pytest.approx(1e-2) and (low, high) == pytest.approx((1e-3, 1e-1))
    # a large gain (from 0.2), or none (a start at 0.9, above every trial), leaves the band at 5%
    assert pick(lrs, scores, divisor=1, lowest_near=True, start=-0.2)[0] == pytest.approx(1e-3)
    assert pick(lrs, scores, divisor=1, lowest_near=True, start=-0.9)[0] == pytest.approx(1e-3)


def test_vertex_lr_reads_the_peak_off_the_best_trial_and_its_neighbours() -> None:
    lrs = 10.0 ** np.arange(-5, -1, 0.5)  # ascending, half-decade steps
    x = np.log10(lrs)
    # an exact parabola in log-LR with its minimum at 10**-3.3 (between trials)
    scores = (x + 3.3) ** 2
    assert vertex_lr(lrs, scores) == pytest.approx(10**-3.3)
    # only the best trial and its neighbours count: a far-off trial does not move the peak
    far = scores.copy()
    far[0] = 100.0
    assert vertex_lr(lrs, far) == pytest.approx(10**-3.3)
    # the peak stays between the neighbours: a lopsided triple gives the neighbour's LR
    lop = np.array([5.0, 5.0, 5.0, 1.0, 1.0 + 1e-9, 5.0, 5.0, 5.0])
    assert lrs[2] <= vertex_lr(lrs, lop) <= lrs[4]
    # the best at either end of the LRs tried: the best trial's LR
    assert vertex_lr(lrs, np.arange(8.0)) == pytest.approx(lrs[0])
    assert vertex_lr(lrs, -np.arange(8.0)) == pytest.approx(lrs[-1])
    # two tied best trials: the peak halfway between them (in log-LR)
    tied = np.array([3.0, 3.0, 3.0, 2.0, 2.0, 3.0, 3.0, 3.0])
    assert vertex_lr(lrs, tied) == pytest.approx(math.sqrt(lrs[3] * lrs[4]))
    # a blown-up neighbour counts as the worst trial that ran, and pulls the peak away from it
    blow = np.array([4.0, 3.0, 2.0, 1.0, np.inf, np.inf, np.inf, np.inf])
    assert lrs[2] < vertex_lr(lrs, blow) < lrs[3]
    assert vertex_lr(lrs, np.full(8, np.inf)) == pytest.approx(lrs[0])


def test_pick_with_vertex_is_the_geometric_mean_of_the_lowest_near_lr_and_the_peak() -> None:
    lrs = [1e-4, 1e-3, 1e-2, 1e-1]
    scores = [-0.60, -0.70, -0.72, -0.50]  # accuracy, negated
    best, (low, high) = pick(lrs, scores, divisor=1, lowest_near=True, vertex=True)
    peak = vertex_lr(lrs, scores)
    assert 1e-3 < peak < 1e-2  # -0.70 and -0.50 around the best: nearer the lower side
    assert best == pytest.approx(math.sqrt(1e-3 * peak))
    assert (low, high) == pytest.approx((1e-4, 1e-1))  # the interval is unchanged
    assert low < best < high
    # in any order
    again, _ = pick(lrs[::-1], scores[::-1], divisor=1, lowest_near=True, vertex=True)
    assert again == pytest.approx(best)


def test_plain_sgd_takes_the_parabolas_peak_alone(pretrained: dict) -> None:
    """With SGD without momentum the metric-scored suggestion is the parabola's peak, not
    shaded toward the lowest near trial; with momentum (or AdamW) it is shaded as before; the
    note says which; the optimizer a Lightning-style wrapper holds is the one read."""
    from lrkit.finder._finetune_torch import plain_sgd

    val = data(7, n=256, shift=0.5)
    model = pretrained_model(pretrained)
    r = run(model, torch.optim.SGD(model.parameters(), lr=0.1), val_data=val)
    t = r.trials
    assert t is not None and t.val_metrics is not None and t.peak_only
    assert r.suggestion == pytest.approx(vertex_lr(t.lrs, -np.asarray(t.val_metrics)))
    assert any("not shaded lower" in n for n in r.notes)
    model = pretrained_model(pretrained)
    heavy = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    r = run(model, heavy, val_data=val)
    assert r.trials is not None and not r.trials.peak_only
    assert r.suggestion == pytest.approx(rule_pick(r.trials))
    assert not any("not shaded lower" in n for n in r.notes)

    class Wrapped:  # LightningOptimizer keeps the optimizer in ._optimizer
        def __init__(self, inner: torch.optim.Optimizer) -> None:
            self._optimizer = inner

    sgd = torch.optim.SGD(model.parameters(), lr=0.1)
    assert plain_sgd(sgd) and plain_sgd(Wrapped(sgd)) and not plain_sgd(Wrapped(heavy))
    assert not plain_sgd(torch.optim.AdamW(model.parameters()))


def test_plain_sgd_trials_start_near_the_top_of_the_range_test() -> None:
    """Plain SGD: the anchor is at least the highest LR reached with a finite loss / 10**2.5
    (a noise-flat range test puts its fitted minimum anywhere); other optimizers keep the
    fitted minimum; a minimum above the floor is kept."""
    lrs = np.logspace(-7, 0, 50)
    losses = np.full(50, 1.0)
    losses[-5:] = [2.0, 5.0, 9.0, np.nan, 3.0]  # diverged at lrs[-2]: the reached top is lrs[-3]
    top = lrs[-3]
    assert trial_anchor(1e-7, lrs, losses, plain_sgd=True) == pytest.approx(top / 10**2.5)
    assert trial_anchor(1e-7, lrs, losses, plain_sgd=False) == 1e-7
    assert trial_anchor(0.05, lrs, losses, plain_sgd=True) == 0.05  # above the floor: kept
    assert trial_anchor(1e-7, lrs[:3], [np.nan] * 3, plain_sgd=True) == 1e-7  # nothing reached


def test_plain_sgd_trials_are_not_stranded_below_a_noise_minimum(
    pretrained: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Wiring: with a range test whose fitted minimum is noise far below its top (forced
    here), plain SGD's trials climb from the floor, AdamW's from the fitted minimum."""
    import lrkit.finder._finetune_torch as ft

    monkeypatch.setattr(ft, "lrkit_interval", lambda lrs, losses: (1e-9, 1e-8))
    val = data(7, n=256, shift=0.5)
    model = pretrained_model(pretrained)
    r = run(model, torch.optim.SGD(model.parameters(), lr=0.1), val_data=val, end_lr=1.0)
    assert r.trials is not None
    reached = max(lr for lr, v in zip(r.lrs, r.losses) if math.isfinite(v))
    assert max(r.trials.lrs) >= reached / 10**2.5 / 10**0.5 * 0.999
    assert min(r.trials.lrs) > 1e-7  # not a single trial spent at the noise minimum
    model = pretrained_model(pretrained)
    r = run(model, torch.optim.AdamW(model.parameters(), lr=1e-3), val_data=val, end_lr=1.0)
    assert r.trials is not None and min(r.trials.lrs) < 1e-8


def test_val_metric_scores_the_trials_and_the_weights_come_back(pretrained: dict) -> None:
    model = pretrained_model(pretrained)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    val = data(7, n=256, shift=0.5)

    def accuracy(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (out.argmax(1) == y).float().mean()

    r = run(model, opt, val_data=val, val_metric=accuracy)
    after = model.state_dict()
    assert all(torch.equal(state[k], after[k]) for k in state)
    t = r.trials
    assert t is not None and t.val_metrics is not None and t.metric_mode == "max"
    assert len(t.val_metrics) == len(t.val_losses) == len(t.lrs)
    model.eval()
    with torch.no_grad():
        start = float(accuracy(model(val[0]), val[1]))
    model.train()
    assert t.start_val_metric == pytest.approx(start, abs=1e-6)
    assert r.suggestion == pytest.approx(rule_pick(t))  # both peaks, the loss's / 10**0.5
    assert any("validation loss's peak half a decade lower" in n for n in r.notes)
    # val_metric="accuracy": the same top-1 accuracy, built in
    named = run(model, opt, val_data=val, val_metric="accuracy")
    assert named.trials is not None and named.trials.val_metrics == t.val_metrics
    # the losses are still recorded: the same as a loss-scored call on the same trial LRs
    # (the loss may extend the trials elsewhere: compare where both tried)
    plain = run(model, opt, val_data=val, val_metric=None)
    assert plain.trials is not None and plain.trials.val_metrics is None
    both = [lr for lr in t.lrs if any(math.isclose(lr, q, rel_tol=1e-9) for q in plain.trials.lrs)]
    assert len(both) >= 4
    for lr in both:
        mine = t.val_losses[t.lrs.index(lr)]
        theirs = plain.trials.val_losses[
            next(i for i, q in enumerate(plain.trials.lrs) if math.isclose(lr, q, rel_tol=1e-9))
        ]
        assert theirs == pytest.approx(mine, rel=1e-6)
    assert any("Pass val_metric=" in n for n in plain.notes)
    # the default, val_metric="auto": class scores for integer targets -> top-1 accuracy
    auto = run(model, opt, val_data=val)
    assert auto.trials is not None and auto.trials.val_metrics == t.val_metrics
    assert auto.suggestion == r.suggestion and auto.trials.metric_mode == "max"
    assert any("val_metric='auto'" in n and "over 4 classes" in n for n in auto.notes)


def test_auto_metric_reads_the_class_axis_and_leaves_other_outputs_to_the_loss() -> None:
    from lrkit.finder._finetune_torch import TopOne, auto_metric

    cpu = torch.device("cpu")

    def probe(out: torch.Tensor, y: torch.Tensor):  # type: ignore[no-untyped-def]
        model = nn.Module()
        model.forward = lambda x: out  # type: ignore[method-assign]
        return auto_metric(model, (torch.zeros(len(y)), y), cpu, False)

    g = torch.Generator().manual_seed(0)
    n, c, t = 6, 5, 4
    fn, note = probe(torch.randn(n, c, generator=g), torch.randint(0, c, (n,), generator=g))
    assert isinstance(fn, TopOne) and fn.axis == -1 and note is not None and "5 classes" in note
    # a language model's (N, T, V) and cross_entropy's (N, C, T)
    fn, _ = probe(torch.randn(n, t, c, generator=g), torch.randint(0, c, (n, t), generator=g))
    assert isinstance(fn, TopOne) and fn.axis == -1
    fn, _ = probe(torch.randn(n, c, t, generator=g), torch.randint(0, c, (n, t), generator=g))
    assert isinstance(fn, TopOne) and fn.axis == 1
    # regression, float targets, one output, a multi-label 0/1 float target: the loss
    for out, y in (
        (torch.randn(n, 1), torch.randn(n, 1)),
        (torch.randn(n, c), torch.rand(n, c)),
        (torch.randn(n, 1), torch.randint(0, 1, (n,))),
        (torch.randn(n, c), torch.randint(0, 2, (n, c)).bool()),
    ):
        assert probe(out, y) == (None, None)
    # ignore_index=-100 is left out of the accuracy
    out = torch.tensor([[2.0, 0.0], [0.0, 2.0], [2.0, 0.0]])
    assert TopOne(-1)(out, torch.tensor([0, 0, -100])) == pytest.approx(0.5)
    assert TopOne(-1)(out, torch.tensor([-100, -100, -100])) == 0.0


def test_trials_that_improve_nothing_fall_back_to_the_fitted_minimum_over_10() -> None:
    """Trials that all leave the validation score at or above its start cannot rank the LRs
    (a tiny held-out set): the suggestion is the fitted minimum / 10, the trials are kept."""
    from lrkit.finder._finetune import apply, improved

    model = fresh_model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    plain = run(model, opt, regime="scratch")  # a range-test result to apply the rule to
    lr_min = plain.interval[1]
    lrs = candidates(lr_min)[::-1]
    flat = outcome_of(lrs, [1.51, 1.52, 1.58, 1.85], 1.507, 40)  # all at or above the start
    assert not improved(flat)
    r = apply(plain, regime="finetune", method="auto", detection=None, outcome=flat)
    assert r.suggestion == pytest.approx(lr_min / 10) and r.trials == flat
    assert r.interval[0] < r.suggestion < r.interval[1]
    assert any(
        "none of the 4 fine-tuning trials improved the validation loss" in n for n in r.notes
    )
    # one trial below the start: the trials' rule as usual
    ok = outcome_of(lrs, [1.40, 1.52, 1.58, 1.85], 1.507, 40)
    assert improved(ok)
    assert apply(
        plain, regime="finetune", method="auto", detection=None, outcome=ok
    ).suggestion == (pytest.approx(ok.suggestion))
    # the metric's direction: no trial above the starting accuracy is no improvement either
    acc = outcome_of(lrs, [1.0] * 4, 1.0, 40, [0.30, 0.31, 0.29, 0.2], 0.31, "max")
    assert not improved(acc)
    assert improved(outcome_of(lrs, [1.0] * 4, 1.0, 40, [0.30, 0.35, 0.29, 0.2], 0.31, "max"))


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"val_metric": "f1"}, "val_metric must be a callable"),
        ({"val_metric_mode": "maximize"}, "val_metric_mode must be one of"),
    ],
)
def test_bad_val_metric_is_named(kw: dict, match: str) -> None:
    model = fresh_model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    with pytest.raises(ConfigError, match=match):
        find_lr(model, data(0), loss_fn=nn.functional.cross_entropy, optimizer=opt, **kw)


def test_a_metric_that_returns_no_number_is_named(pretrained: dict) -> None:
    model = pretrained_model(pretrained)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    with pytest.raises(ConfigError, match="val_metric must return a number"):
        run(model, opt, val_data=data(7, n=64), val_metric=lambda out, y: out.argmax(1))


# --- plain SGD: the interval holds the best LR -----------------------------------------------


# (fitted minimum of the range test, grid-best LR of a full training) for plain SGD, from
# benchmarks/results/finder_regret.json (built-in tasks: every distinct finder seed's minimum).
PLAIN_SGD_REFERENCE = [
    ("digits-mlp", 0.7391, 1.0),
    ("digits-mlp", 0.8902, 1.0),
    ("mnist1d-cnn", 1.0723, 0.3162),
    ("mnist1d-cnn", 0.8902, 0.3162),
    ("mnist1d-cnn", 0.5094, 0.3162),
    ("mnist1d-mlp", 1.5557, 1.0),
    ("mnist1d-mlp", 1.2915, 1.0),
    ("mnist1d-mlp", 0.6136, 1.0),
]


@pytest.mark.parametrize(("task", "lr_min", "best"), PLAIN_SGD_REFERENCE)
def test_plain_sgd_interval_holds_the_reference_best_lr(
    task: str, lr_min: float, best: float
) -> None:
    low, high = plain_sgd_interval(lr_min)
    assert low <= best <= high, task
    assert low < lr_min / 3 < high  # the suggestion stays inside


def test_the_range_test_interval_missed_plain_sgd_references() -> None:
    # why plain SGD gets its own interval: [lr_min / 10, lr_min] misses 3 of the 8 reference cases
    missed = [best for _, lr_min, best in PLAIN_SGD_REFERENCE if not lr_min / 10 <= best <= lr_min]
    assert len(missed) == 3


def test_plain_sgd_result_interval_is_the_widened_one() -> None:
    model = fresh_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    r = run(model, opt)
    lr_min = float(r.lrs[int(np.argmin(r.fitted))])
    assert r.interval == pytest.approx(plain_sgd_interval(lr_min))
    assert r.interval[0] <= r.suggestion <= r.interval[1]


def test_the_validation_loss_is_read_as_the_metric_too() -> None:
    """Scored on the validation loss, an adaptive optimizer's suggestion is a quarter of a
    decade below the loss's parabola peak (metric_pick with the loss in both places; short
    trials favour too high an LR), no longer the best trial / sqrt(10); plain SGD's is the
    peak, not shaded (its whole fine-tuning's best sat at or above the trials' peak). Both
    intervals hold the suggestion and reach down to the best trial / sqrt(10)."""
    lrs = np.array([1e-3, 10**-2.5, 1e-2, 10**-1.5])
    losses = [1.0, 0.8, 0.6, 0.9]
    peak = vertex_lr(lrs, losses)
    assert 10**-2.5 < peak < 10**-1.5 and peak != pytest.approx(1e-2, rel=0.05)
    adaptive = outcome_of(lrs, losses, 1.2, 40)
    sgd = outcome_of(lrs, losses, 1.2, 40, plain_sgd=True)
    assert adaptive.suggestion == pytest.approx(peak / 10**0.25)
    assert adaptive.suggestion == pytest.approx(metric_pick(lrs, losses, losses)[0])
    assert not adaptive.peak_only and adaptive.val_metrics is None
    assert sgd.suggestion == pytest.approx(peak) and sgd.peak_only
    for o in (adaptive, sgd):
        assert o.interval[0] <= min(o.suggestion, 1e-2 / 10**0.5) and o.suggestion <= o.interval[1]
