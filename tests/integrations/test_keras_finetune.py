"""``lrkit.integrations.keras.find_lr``'s fine-tuning regime: pretrained vs fresh detection,
validation-scored trials from the exact starting state."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "torch")
pytest.importorskip(os.environ["KERAS_BACKEND"], reason="the Keras backend is not installed")
keras = pytest.importorskip("keras", reason="keras is not installed (pip install 'lrkit[keras]')")
from keras import ops  # noqa: E402

from lrkit.errors import ConfigError, LRKitWarning  # noqa: E402
from lrkit.finder._finetune import detect_pretrained, spectra_numpy, vertex_lr  # noqa: E402
from lrkit.integrations.keras import find_lr  # noqa: E402

OPTS = {"start_lr": 1e-6, "end_lr": 10.0, "steps": 30, "seed": 0, "batch_size": 32}


def data(n: int = 2048, shift: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(n, 16)).astype("float32")
    w = np.random.default_rng(99).normal(size=(16, 4))
    return x + shift, (x @ w).argmax(1).astype("int64")


def make_model() -> keras.Model:
    keras.utils.set_random_seed(1)
    model = keras.Sequential(
        [
            keras.Input((16,)),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(64, activation="relu"),
            keras.layers.Dense(4),
        ]
    )
    model.compile(
        optimizer=keras.optimizers.AdamW(learning_rate=1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )
    return model


@pytest.fixture(scope="module")
def pretrained() -> list[np.ndarray]:
    """The weights of the same model after 48 Adam steps at 1e-2 (largest ratio ~1.6)."""
    model = make_model()
    model.optimizer.learning_rate = 1e-2
    x, y = data()
    model.fit(x, y, batch_size=128, epochs=3, verbose=0, shuffle=False)
    return model.get_weights()


def run(model: keras.Model, **kw: object):  # type: ignore[no-untyped-def]
    x, y = data(384, shift=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LRKitWarning)
        return find_lr(model, x, y, **OPTS, **kw)  # type: ignore[arg-type]


def test_fresh_keras_model_is_not_detected_and_its_result_is_unchanged() -> None:
    model = make_model()
    det = detect_pretrained(spectra_numpy(model.get_weights()))
    assert not det.pretrained and det.trained_share == 0.0
    auto, scratch = run(model), run(model, regime="scratch")
    assert auto.regime == "scratch" and auto.detection is not None
    assert auto.suggestion == scratch.suggestion and auto.interval == scratch.interval
    assert not any("fine-tuning" in n for n in auto.notes)


def test_pretrained_keras_model_gets_the_finetune_rule_and_a_note(pretrained) -> None:
    model = make_model()
    model.set_weights(pretrained)
    before = [np.array(w) for w in model.get_weights()]
    x, y = data(384, shift=0.5)
    with pytest.warns(LRKitWarning, match="looks like fine-tuning"):
        r = find_lr(model, x, y, **OPTS)  # type: ignore[arg-type]
    for u, v in zip(before, model.get_weights(), strict=True):  # weights back bit for bit
        np.testing.assert_array_equal(u, v)
    assert r.regime == "finetune" and r.method == "finetune" and r.detection.pretrained
    lr_min = float(r.lrs[int(np.argmin(r.fitted))])
    # the default without validation_data: trials scored on a fifth of x, held out from them
    assert r.trials is not None and r.trials.trial_steps == 40
    assert any("76 held-out training samples" in n for n in r.notes)
    assert any("validation_data=" in n for n in r.notes)  # Keras' name for the split
    # scored on the validation loss: a quarter of a decade below its parabola's peak
    peak = vertex_lr(r.trials.lrs, r.trials.val_losses)
    assert r.suggestion == pytest.approx(peak / 10**0.25)
    assert r.suggestions["lrkit"] == pytest.approx(lr_min / 3)
    # no trials: the fitted minimum / 10
    none = run(model, trial_steps=0)
    assert none.trials is None and none.suggestion == pytest.approx(lr_min / 10)
    assert any("(validation_data=)" in n for n in none.notes)
    assert run(model, regime="scratch").suggestion == pytest.approx(lr_min / 3)


def test_keras_trials_without_validation_data_never_train_on_what_scores_them(pretrained) -> None:
    from lrkit.integrations._keras_finder import _Order, _trial_split

    x, y = data(384, shift=0.5)
    pool, scored, notes = _trial_split(x, y, None, np.random.default_rng(0))
    assert len(scored[0]) == 76 and len(pool) == 384 - 76
    held = {tuple(row) for row in scored[0]}
    order = _Order(len(pool), 32, True, np.random.default_rng(1), pool)
    drawn = np.concatenate([order.next() for _ in range(40)])
    assert set(drawn.tolist()) == set(pool.tolist())  # every trial batch comes from the pool
    assert not held & {tuple(row) for row in x[drawn]}
    # a large validation split is capped at a random MAX_VAL_SAMPLES
    from lrkit.finder._finetune import MAX_VAL_SAMPLES

    xv, yv = data(MAX_VAL_SAMPLES + 100)
    pool, scored, notes = _trial_split(x, y, (xv, yv), np.random.default_rng(0))
    assert len(pool) == 384 and len(scored[0]) == MAX_VAL_SAMPLES == len(scored[1])
    assert any(f"random {MAX_VAL_SAMPLES} of the {MAX_VAL_SAMPLES + 100}" in n for n in notes)


def val_split() -> tuple[np.ndarray, np.ndarray]:
    x, y = data(2048 + 256, shift=0.5)
    return x[2048:], y[2048:]  # held out from run()'s 384 training samples


def snapshot(model: keras.Model) -> list[np.ndarray]:
    """Every model and optimizer variable (weights, moments, ``iterations``), copied."""
    return [
        np.array(ops.convert_to_numpy(v)) for v in (*model.variables, *model.optimizer.variables)
    ]


def test_pretrained_keras_model_with_validation_data_runs_the_trials(pretrained) -> None:
    model = make_model()
    model.set_weights(pretrained)
    model.optimizer.build(model.trainable_variables)
    model.optimizer.iterations.assign(7)  # a started optimizer: its state must come back too
    before = snapshot(model)
    xv, yv = val_split()
    start = model.evaluate(xv, yv, batch_size=32, verbose=0, return_dict=True)["loss"]
    x, y = data(384, shift=0.5)
    with pytest.warns(LRKitWarning, match="trials of 40 updates"):
        r = find_lr(model, x, y, validation_data=(xv, yv), **OPTS)  # type: ignore[arg-type]
    after = snapshot(model)
    assert len(after) == len(before)
    for u, v in zip(before, after, strict=True):  # weights, moments, iterations: bit for bit
        np.testing.assert_array_equal(u, v)
    assert int(ops.convert_to_numpy(model.optimizer.iterations)) == 7
    assert r.regime == "finetune" and r.method == "finetune" and r.detection.pretrained
    assert r.trials is not None and r.trials.trial_steps == 40
    n = len(r.trials.val_losses)
    assert 4 <= n <= 10 and all(np.isfinite(r.trials.val_losses))
    assert len(set(r.trials.val_losses)) == n  # different LRs, different results
    assert r.trials.start_val_loss == pytest.approx(start, rel=1e-6)
    # the trial LRs: the fitted minimum * 10**(-k/2), k = 1..4 and consecutive half decades
    # below (or, climbing, up to two above); the suggestion: the loss's peak / 10**0.25
    lr_min = float(r.lrs[int(np.argmin(r.fitted))])
    k = -2 * np.log10(np.asarray(r.trials.lrs) / lr_min)
    assert np.allclose(k, np.round(k), atol=1e-6) and np.allclose(np.diff(k), -1.0)
    assert set(range(1, 5)) <= set(np.round(k).astype(int)) and k.min() >= -1 - 1e-6
    peak = vertex_lr(r.trials.lrs, r.trials.val_losses)
    assert r.suggestion == pytest.approx(peak / 10**0.25)
    assert r.suggestions["finetune"] == r.suggestion
    best = r.trials.lrs[int(np.argmin(r.trials.val_losses))]
    assert r.interval[0] <= min(r.suggestion, best / 10**0.5) and r.suggestion < r.interval[1]
    assert r.suggestions["lrkit"] == pytest.approx(lr_min / 3)  # the range test's own, kept


def test_a_keras_trial_equals_a_plain_training_from_the_start(pretrained) -> None:
    """The last trial (lowest LR) ran after five others: it must equal a fresh run."""
    model = make_model()
    model.set_weights(pretrained)
    xv, yv = val_split()
    x, y = data(384, shift=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LRKitWarning)
        r = find_lr(model, x, y, validation_data=(xv, yv), trial_steps=5, shuffle=False, **OPTS)  # type: ignore[arg-type]
    assert r.trials is not None and r.trials.trial_steps == 5
    ref = make_model()
    ref.set_weights(pretrained)
    ref.optimizer.learning_rate = r.trials.lrs[0]
    for i in range(5):  # shuffle=False: the batches in order
        ref.train_on_batch(x[32 * i : 32 * (i + 1)], y[32 * i : 32 * (i + 1)])
    loss = ref.evaluate(xv, yv, batch_size=32, verbose=0, return_dict=True)["loss"]
    assert r.trials.val_losses[0] == pytest.approx(loss, rel=1e-5)


def test_fresh_keras_model_with_validation_data_is_unchanged() -> None:
    model = make_model()
    before = snapshot(model)
    r = run(model, validation_data=val_split())
    assert r.regime == "scratch" and r.trials is None
    assert r.suggestion == run(make_model()).suggestion  # the scratch rule, val data unused
    after = snapshot(model)
    for u, v in zip(before, after[: len(before)], strict=True):
        np.testing.assert_array_equal(u, v)


def test_keras_trials_can_be_turned_off_and_bad_validation_data_is_named(pretrained) -> None:
    model = make_model()
    model.set_weights(pretrained)
    r = run(model, validation_data=val_split(), trial_steps=0)
    lr_min = float(r.lrs[int(np.argmin(r.fitted))])
    assert r.trials is None and r.suggestion == pytest.approx(lr_min / 10)
    x, y = data(64)
    with pytest.raises(ConfigError, match=r"validation_data must be a pair.*ndarray"):
        find_lr(model, x, y, validation_data=x)
    with pytest.raises(ConfigError, match="same length, but got 64 and 10"):
        find_lr(model, x, y, validation_data=(x, y[:10]))
    with pytest.raises(ConfigError, match="not both"):
        find_lr(model, x, y, validation_data=(x, y), val_data=(x, y))
    with pytest.raises(ConfigError, match="trial_steps"):
        find_lr(model, x, y, validation_data=(x, y), trial_steps=-1)


def test_keras_val_metric_scores_the_trials_on_a_compiled_metric(pretrained) -> None:
    model = make_model()
    model.compile(
        optimizer=keras.optimizers.AdamW(learning_rate=1e-3),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.set_weights(pretrained)
    model.optimizer.build(model.trainable_variables)
    before = snapshot(model)
    xv, yv = val_split()
    start = model.evaluate(xv, yv, batch_size=32, verbose=0, return_dict=True)["accuracy"]
    r = run(model, validation_data=(xv, yv), trial_steps=10, val_metric="accuracy")
    for u, v in zip(before, snapshot(model), strict=True):
        np.testing.assert_array_equal(u, v)
    t = r.trials
    assert t is not None and t.val_metrics is not None and t.metric_mode == "max"
    assert t.start_val_metric == pytest.approx(start, abs=1e-6)
    m = np.asarray(t.val_metrics)
    assert np.all((m >= 0) & (m <= 1)) and len(m) == len(t.val_losses)
    # the geometric mean of the accuracy's parabola peak and the validation loss's / 10**0.5
    loss_peak = vertex_lr(t.lrs, t.val_losses) / 10**0.5
    assert r.suggestion == pytest.approx(np.sqrt(vertex_lr(t.lrs, -m) * loss_peak))
    # the default, val_metric="auto": the compiled accuracy, with a note; None: the loss
    auto = run(model, validation_data=(xv, yv), trial_steps=10)
    assert auto.trials is not None and auto.trials.val_metrics == pytest.approx(t.val_metrics)
    assert auto.suggestion == pytest.approx(r.suggestion)
    assert any("val_metric='auto'" in n and "'accuracy'" in n for n in auto.notes)
    plain = run(model, validation_data=(xv, yv), trial_steps=10, val_metric=None)
    assert plain.trials is not None and plain.trials.val_metrics is None
    assert not any("val_metric='auto'" in n for n in plain.notes)
    # plain SGD: the parabola's peak alone, not shaded lower (with momentum: shaded)
    for momentum, peak in ((0.0, True), (0.9, False)):
        model.compile(
            optimizer=keras.optimizers.SGD(learning_rate=0.1, momentum=momentum),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
        model.optimizer.build(model.trainable_variables)
        sgd = run(model, validation_data=(xv, yv), trial_steps=10, val_metric="accuracy")
        assert sgd.trials is not None and sgd.trials.peak_only is peak
        m = -np.asarray(sgd.trials.val_metrics)
        if peak:
            assert sgd.suggestion == pytest.approx(vertex_lr(sgd.trials.lrs, m))
    x, y = data(64)
    with pytest.raises(ConfigError, match=r"val_metric='f1' is not a compiled metric.*accuracy"):
        find_lr(model, x, y, validation_data=(xv, yv), val_metric="f1", **OPTS)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match="name of a compiled metric"):
        find_lr(model, x, y, validation_data=(xv, yv), val_metric=len)
    with pytest.raises(ConfigError, match="val_metric_mode"):
        find_lr(model, x, y, validation_data=(xv, yv), val_metric_mode="up")


def test_spectra_numpy_match_the_exact_top_singular_value() -> None:
    w = np.random.default_rng(3).normal(size=(3, 3, 8, 16))  # a Keras conv kernel
    ((rows, cols, top, fro),) = spectra_numpy([w, np.ones(16), np.ones((4, 4))])
    m = w.reshape(-1, 16)
    assert (rows, cols) == (72, 16) and fro == pytest.approx(np.linalg.norm(m))
    assert top == pytest.approx(np.linalg.norm(m, 2), rel=1e-3)


def test_bad_regime_names_it() -> None:
    x, y = data(64)
    with pytest.raises(ConfigError, match="regime"):
        find_lr(make_model(), x, y, regime="pretrained")
    _ = ops  # the backend is imported


def test_keras_plain_sgd_trials_hang_from_the_floored_anchor(pretrained, monkeypatch) -> None:
    """Keras reads the optimizer like PyTorch: plain SGD's trials start no lower than the
    range test's reached top / 10**2.5, the trial LRs are half decades from that anchor;
    with momentum the fitted minimum is the anchor."""
    import lrkit.integrations._keras_finder as kf
    from lrkit.finder._finetune import trial_anchor

    seen: list[tuple[bool, float]] = []

    def spy(lr_min: float, lrs, losses, *, plain_sgd: bool) -> float:  # type: ignore[no-untyped-def]
        out = trial_anchor(lr_min, lrs, losses, plain_sgd=plain_sgd)
        seen.append((plain_sgd, out))
        return out

    monkeypatch.setattr(kf, "trial_anchor", spy)
    xv, yv = val_split()
    for momentum in (0.0, 0.9):
        model = make_model()
        model.set_weights(pretrained)
        model.compile(
            optimizer=keras.optimizers.SGD(learning_rate=0.1, momentum=momentum),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        )
        r = run(model, validation_data=(xv, yv))
        plain, anchor = seen[-1]
        assert plain is (momentum == 0.0)
        lr_min = float(r.lrs[int(np.argmin(r.fitted))])
        reached = max(lr for lr, v in zip(r.lrs, r.losses, strict=True) if np.isfinite(v))
        assert anchor == pytest.approx(max(lr_min, reached / 10**2.5) if plain else lr_min)
        assert r.trials is not None
        k = -2 * np.log10(np.asarray(r.trials.lrs) / anchor)
        assert np.allclose(k, np.round(k), atol=1e-6)
