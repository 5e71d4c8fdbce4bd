"""``lrkit.integrations.lightning.find_lr`` against the real Lightning ``Trainer``."""

from __future__ import annotations

import warnings

import pytest

torch = pytest.importorskip("torch", reason="torch is not installed (pip install 'lrkit[torch]')")
pl = pytest.importorskip(
    "lightning.pytorch", reason="lightning is not installed (pip install 'lrkit[lightning]')"
)

from lrkit import schedules as S  # noqa: E402
from lrkit.errors import ConfigError  # noqa: E402
from lrkit.finder import FinderResult  # noqa: E402
from lrkit.finder import find_lr as torch_find_lr  # noqa: E402
from lrkit.integrations.lightning import configure_optimizers, find_lr  # noqa: E402

pytestmark = pytest.mark.filterwarnings(
    "ignore::lrkit.errors.LRKitWarning",
    "ignore:.*does not have many workers:UserWarning",
    "ignore:.*LeafSpec.*:DeprecationWarning",
)
OPTS = {"start_lr": 1e-5, "end_lr": 10.0, "steps": 30, "seed": 0}


def tensors() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(256, 6, generator=g)
    return x, torch.tanh(x.sum(1, keepdim=True))


class Net(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.body = torch.nn.Sequential(
            torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1)
        )

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.body(x), y)
        self.log("train_loss", loss)
        return {"loss": loss}

    def configure_optimizers(self):
        opt = torch.optim.AdamW(self.parameters(), lr=1e-2)
        return configure_optimizers(opt, S.cosine(lr=1e-2, steps=100))


def loader() -> torch.utils.data.DataLoader:
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(*tensors()), batch_size=32)


def trainer(**kw) -> pl.Trainer:
    return pl.Trainer(
        accelerator="cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        **kw,
    )


def test_same_result_as_the_torch_finder_and_fit_starts_fresh() -> None:
    model = Net()
    before = [t.clone() for t in model.state_dict().values()]
    t = trainer(max_steps=10)
    res = find_lr(t, model, train_dataloaders=loader(), **OPTS)
    assert isinstance(res, FinderResult)
    assert all(torch.equal(a, b) for a, b in zip(before, model.state_dict().values(), strict=True))
    ref_model = Net()
    ref = torch_find_lr(
        ref_model.body,
        list(loader()),
        loss_fn=torch.nn.functional.mse_loss,
        optimizer=torch.optim.AdamW(ref_model.parameters(), lr=1e-2),
        **OPTS,
    )
    assert res.losses == pytest.approx(ref.losses, rel=1e-6)
    assert res.suggestion == pytest.approx(ref.suggestion, rel=1e-6)
    assert t.global_step == 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t.fit(model, loader())
    assert t.global_step == 10


def test_gradient_accumulation_and_datamodule() -> None:
    class DM(pl.LightningDataModule):
        def train_dataloader(self):
            return loader()

    res = find_lr(trainer(accumulate_grad_batches=2), Net(), datamodule=DM(), **OPTS)
    # two batches per update: the 8-batch loader lasts 4 updates, re-iterated
    assert len(res.losses) > 0 and res.steps == OPTS["steps"]


def test_bad_arguments_fail_before_any_work() -> None:
    with pytest.raises(ConfigError, match="trainer"):
        find_lr(object(), Net())
    with pytest.raises(ConfigError, match="not both"):
        find_lr(trainer(), Net(), datamodule=pl.LightningDataModule(), train_dataloaders=loader())
    with pytest.raises(ConfigError, match="steps"):
        find_lr(trainer(), Net(), train_dataloaders=loader(), steps=2)
    # val_metric is taken now (tests below); a bad one fails before any work, naming it
    with pytest.raises(ConfigError, match=r"val_metric must be 'accuracy' or a callable .*'f1'"):
        find_lr(trainer(), Net(), train_dataloaders=loader(), val_metric="f1")


def test_ddp_spawn_is_refused_with_a_one_line_error_naming_the_strategy(monkeypatch) -> None:
    for var in ("LOCAL_RANK", "RANK", "WORLD_SIZE"):
        monkeypatch.delenv(var, raising=False)
    trainer = pl.Trainer(
        accelerator="cpu", devices=2, strategy="ddp_spawn", logger=False,
        enable_progress_bar=False, enable_model_summary=False,
    )  # fmt: skip
    with pytest.raises(ConfigError, match=r"DDPStrategy\(start_method='spawn'\)") as info:
        find_lr(trainer, Net(), train_dataloaders=loader())
    assert "\n" not in str(info.value)
    assert not torch.distributed.is_initialized()


def test_finetune_trials_score_a_validation_loader_and_restore_the_module() -> None:
    model = Net()
    before = [t.clone() for t in model.state_dict().values()]
    val = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(*tensors()), batch_size=64)
    res = find_lr(
        trainer(max_steps=10), model, train_dataloaders=loader(), val_data=val,
        regime="finetune", trial_steps=5, **OPTS,
    )  # fmt: skip
    assert res.regime == "finetune" and res.trials is not None
    assert 4 <= len(res.trials.val_losses) <= 8 and all(v < 10 for v in res.trials.val_losses)
    assert not any("held-out" in n for n in res.notes)  # scored on val_data
    assert all(torch.equal(a, b) for a, b in zip(before, model.state_dict().values(), strict=True))


def val_tensors() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(1)  # not the training samples
    x = torch.randn(128, 6, generator=g)
    return x, torch.tanh(x.sum(1, keepdim=True))


def val_loader() -> torch.utils.data.DataLoader:
    return torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(*val_tensors()), batch_size=64
    )


class WithVal(Net):
    """A module with its own validation loader (counting the calls)."""

    calls = 0

    def val_dataloader(self):
        WithVal.calls += 1
        return val_loader()


class Pretrained(WithVal):
    """A square hidden layer with a large singular value: it reads as pretrained."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.body = torch.nn.Sequential(
            torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 16), torch.nn.Tanh(),
            torch.nn.Linear(16, 1),
        )  # fmt: skip
        with torch.no_grad():
            w = self.body[2].weight
            u = torch.ones(16) / 4.0
            w += 3.0 * w.norm() / 4.0 * torch.outer(u, u)


FT = {**OPTS, "regime": "finetune", "trial_steps": 5}


def test_finetune_trials_take_the_models_validation_loader_by_themselves() -> None:
    model = WithVal()
    before = [t.clone() for t in model.state_dict().values()]
    res = find_lr(trainer(), model, train_dataloaders=loader(), **FT)
    assert res.trials is not None and 4 <= len(res.trials.val_losses) <= 8
    assert any("model.val_dataloader()" in n for n in res.notes)
    assert all(torch.equal(a, b) for a, b in zip(before, model.state_dict().values(), strict=True))
    # the same trials as with that loader passed as val_data (and not those on training data)
    ref = find_lr(trainer(), WithVal(), train_dataloaders=loader(), val_data=val_loader(), **FT)
    assert ref.trials == res.trials
    assert not any("trainer's validation data" in n for n in ref.notes)
    held = find_lr(trainer(), Net(), train_dataloaders=loader(), **FT)
    assert held.trials is not None and held.trials.val_losses != res.trials.val_losses
    assert any("held-out" in n or "first" in n for n in held.notes)


def test_validation_loaders_come_from_val_dataloaders_then_the_datamodule() -> None:
    class DM(pl.LightningDataModule):
        def train_dataloader(self):
            return loader()

        def val_dataloader(self):
            return [val_loader(), val_loader()]

    res = find_lr(trainer(), WithVal(), datamodule=DM(), **FT)
    assert any("datamodule.val_dataloader(), 2 loaders" in n for n in res.notes)
    # two copies of the same loader: the same mean loss as one
    one = find_lr(trainer(), WithVal(), datamodule=DM(), val_data=val_loader(), **FT)
    assert res.trials.val_losses == pytest.approx(one.trials.val_losses, rel=1e-6)
    res = find_lr(
        trainer(), WithVal(), train_dataloaders=loader(), val_dataloaders=val_loader(), **FT
    )
    assert any("(val_dataloaders)" in n for n in res.notes)
    with pytest.raises(ConfigError, match="not both"):
        find_lr(trainer(), Net(), train_dataloaders=loader(), val_dataloaders=val_loader(),
                val_data=val_loader())  # fmt: skip


def test_auto_regime_takes_validation_data_for_a_pretrained_module_only() -> None:
    WithVal.calls = 0
    res = find_lr(trainer(), Pretrained(), train_dataloaders=loader(), trial_steps=5, **OPTS)
    assert res.detection is not None and res.detection.pretrained
    assert res.trials is not None and WithVal.calls == 1
    assert any("model.val_dataloader()" in n for n in res.notes)
    # from scratch the validation loader is never asked for, and nothing changes
    fresh = find_lr(trainer(), WithVal(), train_dataloaders=loader(), **OPTS)
    plain = find_lr(trainer(), Net(), train_dataloaders=loader(), **OPTS)
    assert WithVal.calls == 1 and fresh.trials is None and fresh.regime == "scratch"
    assert fresh.losses == plain.losses and fresh.suggestion == plain.suggestion
    # trial_steps=0: no trials, so no validation data either
    off = find_lr(trainer(), Pretrained(), train_dataloaders=loader(), trial_steps=0, **OPTS)
    assert off.trials is None and WithVal.calls == 1


# --- val_metric: the fine-tuning trials scored on a metric, as lrkit.find_lr does -------------


def class_tensors(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(192, 6, generator=g)
    w = torch.randn(6, 3, generator=torch.Generator().manual_seed(7))  # the same rule for all
    return x, (x @ w).argmax(1)


def class_loader(seed: int, batch_size: int = 32) -> torch.utils.data.DataLoader:
    data = torch.utils.data.TensorDataset(*class_tensors(seed))
    return torch.utils.data.DataLoader(data, batch_size=batch_size)


class Classifier(pl.LightningModule):
    """Three classes; ``forward`` gives the logits, so ``val_metric="accuracy"`` reads them."""

    steps = 0

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.body = torch.nn.Sequential(
            torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 3)
        )

    def forward(self, x):
        return self.body(x)

    def training_step(self, batch, batch_idx):
        Classifier.steps += 1
        x, y = batch
        return torch.nn.functional.cross_entropy(self(x), y)

    def configure_optimizers(self):
        return torch.optim.AdamW(self.parameters(), lr=1e-2)


CLS = {**OPTS, "regime": "finetune", "trial_steps": 5}


def test_val_metric_accuracy_gives_the_torch_finders_trials_and_restores_the_module() -> None:
    model = Classifier()
    before = [t.clone() for t in model.state_dict().values()]
    # a last batch of 16 (80 = 2 x 32 + 16): batches count their samples, as in lrkit.find_lr
    val = class_loader(1, batch_size=32)
    val = torch.utils.data.DataLoader(
        torch.utils.data.Subset(val.dataset, range(80)), batch_size=32
    )
    res = find_lr(
        trainer(), model, train_dataloaders=class_loader(0), val_data=val,
        val_metric="accuracy", **CLS,
    )  # fmt: skip
    trials = res.trials
    assert res.regime == "finetune" and res.method == "finetune" and trials is not None
    assert trials.metric_mode == "max" and trials.val_metrics is not None
    assert len(trials.val_metrics) == len(trials.lrs) >= 4
    assert all(0.0 <= m <= 1.0 for m in trials.val_metrics)
    assert any("val_metric" in n for n in res.notes)
    assert all(torch.equal(a, b) for a, b in zip(before, model.state_dict().values(), strict=True))
    # the PyTorch front-end on the same network, batches, optimizer and seed
    ref_model = Classifier()
    ref = torch_find_lr(
        ref_model.body,
        list(class_loader(0)),
        loss_fn=torch.nn.functional.cross_entropy,
        optimizer=torch.optim.AdamW(ref_model.parameters(), lr=1e-2),
        val_data=list(val),
        val_metric="accuracy",
        **CLS,
    )
    assert ref.trials is not None and ref.trials.val_metrics is not None
    assert trials.lrs == pytest.approx(ref.trials.lrs, rel=1e-9)
    assert trials.val_metrics == pytest.approx(ref.trials.val_metrics, abs=1e-9)
    assert trials.val_losses == pytest.approx(ref.trials.val_losses, rel=1e-5)
    assert res.suggestion == pytest.approx(ref.suggestion, rel=1e-9)
    assert res.interval == pytest.approx(ref.interval, rel=1e-9)


def test_a_callable_val_metric_with_mode_min_scores_the_same_trials() -> None:
    seen: list[tuple] = []

    def error_rate(module, batch) -> float:
        x, y = batch
        seen.append((module.training, torch.is_grad_enabled(), x.device.type))
        return float((module(x).argmax(1) != y).float().mean())

    acc = find_lr(
        trainer(), Classifier(), train_dataloaders=class_loader(0), val_dataloaders=class_loader(1),
        val_metric="accuracy", **CLS,
    )  # fmt: skip
    err = find_lr(
        trainer(), Classifier(), train_dataloaders=class_loader(0), val_dataloaders=class_loader(1),
        val_metric=error_rate, val_metric_mode="min", **CLS,
    )  # fmt: skip
    assert err.trials is not None and acc.trials is not None
    assert err.trials.metric_mode == "min" and acc.trials.metric_mode == "max"
    assert err.trials.val_metrics == pytest.approx([1 - a for a in acc.trials.val_metrics])
    assert err.trials.start_val_metric == pytest.approx(1 - acc.trials.start_val_metric)
    # the same trials; the pick reads "within 5% of the best" relative to each metric's own
    # value (an error rate's 5% is narrower than its accuracy's), in its own direction
    from lrkit.finder._finetune import metric_pick

    assert err.trials.lrs == acc.trials.lrs
    for r, sign in ((err, 1.0), (acc, -1.0)):
        assert r.trials is not None and r.trials.val_metrics is not None
        scores = [sign * m for m in r.trials.val_metrics]
        begin = sign * r.trials.start_val_metric
        best, interval = metric_pick(r.trials.lrs, scores, r.trials.val_losses, start=begin)
        assert r.suggestion == pytest.approx(best) and r.interval == pytest.approx(interval)
    # a parabola's peak does not move when the metric is flipped: one suggestion for both
    assert err.suggestion == pytest.approx(acc.suggestion)
    assert seen and set(seen) == {(False, False, "cpu")}  # eval mode, no gradients, the device
    assert any("(val_dataloaders)" in n for n in err.notes)  # the trainer's validation data


def test_val_metric_on_the_models_own_validation_loader() -> None:
    class WithValCls(Classifier):
        def val_dataloader(self):
            return class_loader(1)

    res = find_lr(trainer(), WithValCls(), train_dataloaders=class_loader(0),
                  val_metric="accuracy", **CLS)  # fmt: skip
    ref = find_lr(trainer(), Classifier(), train_dataloaders=class_loader(0),
                  val_data=class_loader(1), val_metric="accuracy", **CLS)  # fmt: skip
    assert res.trials == ref.trials and res.trials is not None
    assert res.trials.val_metrics is not None


class DictBatches(Classifier):
    """Trains on ``{"x", "y"}`` batches: ``"accuracy"`` cannot read them."""

    def training_step(self, batch, batch_idx):
        Classifier.steps += 1
        return torch.nn.functional.cross_entropy(self(batch["x"]), batch["y"])


def dict_loader() -> list[dict]:
    return [{"x": x, "y": y} for x, y in class_loader(0)]


def test_a_bad_val_metric_fails_in_one_line_before_the_sweep() -> None:
    with pytest.raises(ConfigError, match=r"val_metric must be .* but got int 3$"):
        find_lr(trainer(), Classifier(), train_dataloaders=class_loader(0), val_metric=3, **CLS)
    with pytest.raises(ConfigError, match="val_metric_mode"):
        find_lr(trainer(), Classifier(), train_dataloaders=class_loader(0),
                val_metric="accuracy", val_metric_mode="best", **CLS)  # fmt: skip
    Classifier.steps = 0
    with pytest.raises(
        ConfigError, match=r"needs \(x, y\) batches.*dict with keys \['x', 'y'\]"
    ) as info:
        find_lr(trainer(), DictBatches(), train_dataloaders=dict_loader(),
                val_metric="accuracy", **CLS)  # fmt: skip
    assert "\n" not in str(info.value) and Classifier.steps == 0  # before any training_step
    # a module without forward(): no logits to read
    Classifier.steps = 0
    with pytest.raises(ConfigError, match="Net has no forward") as info:
        find_lr(trainer(), Net(), train_dataloaders=loader(), val_metric="accuracy", **CLS)
    assert "\n" not in str(info.value)
    # dict batches are fine with a callable that reads them
    res = find_lr(
        trainer(), DictBatches(), train_dataloaders=dict_loader(), **CLS,
        val_metric=lambda m, b: (m(b["x"]).argmax(1) == b["y"]).float().mean(),
    )  # fmt: skip
    assert res.trials is not None and res.trials.val_metrics is not None


def test_val_metric_is_not_used_without_the_trials() -> None:
    plain = find_lr(trainer(), Classifier(), train_dataloaders=class_loader(0), **OPTS)
    scored = find_lr(trainer(), Classifier(), train_dataloaders=class_loader(0),
                     val_metric="accuracy", **OPTS)  # fmt: skip
    assert scored.regime == "scratch" and scored.trials is None
    assert scored.losses == plain.losses and scored.suggestion == plain.suggestion
    off = find_lr(trainer(), DictBatches(), train_dataloaders=dict_loader(),
                  val_metric="accuracy", **{**CLS, "trial_steps": 0})  # fmt: skip
    assert off.trials is None  # no trials: the batches are never read for the metric


# --- val_metric="auto" (the default): accuracy for class scores, else the loss -----------------


def no_auto_note(res: FinderResult) -> bool:
    return not any("val_metric='auto'" in n for n in res.notes)


def test_auto_scores_a_classifier_on_accuracy_as_val_metric_accuracy_does() -> None:
    model = Classifier()
    before = [t.clone() for t in model.state_dict().values()]
    shuffled = torch.utils.data.DataLoader(class_loader(1).dataset, batch_size=32, shuffle=True)
    torch.manual_seed(5)
    rng = torch.get_rng_state()
    res = find_lr(trainer(), model, train_dataloaders=class_loader(0), val_dataloaders=shuffled,
                  **CLS)  # fmt: skip
    assert torch.equal(rng, torch.get_rng_state())
    assert all(torch.equal(a, b) for a, b in zip(before, model.state_dict().values(), strict=True))
    assert res.trials is not None and res.trials.val_metrics is not None
    assert res.trials.metric_mode == "max"
    note = [n for n in res.notes if "val_metric='auto'" in n]
    assert len(note) == 1 and "top-1 accuracy" in note[0] and "over 3 classes" in note[0]
    # the same trials, suggestion and interval as val_metric="accuracy" (the shuffling loader
    # draws the same seeds: the first batch was read with the RNGs put back)
    torch.manual_seed(5)
    acc = find_lr(trainer(), Classifier(), train_dataloaders=class_loader(0),
                  val_dataloaders=shuffled, val_metric="accuracy", **CLS)  # fmt: skip
    assert res.trials == acc.trials and res.suggestion == acc.suggestion
    assert res.interval == acc.interval and res.losses == acc.losses
    assert no_auto_note(acc)
    # val_metric=None: the validation loss, no note
    loss = find_lr(trainer(), Classifier(), train_dataloaders=class_loader(0),
                   val_dataloaders=class_loader(1), val_metric=None, **CLS)  # fmt: skip
    assert loss.trials is not None and loss.trials.val_metrics is None and no_auto_note(loss)
    # the held-out training batches (no validation data) are read the same way
    held = find_lr(trainer(), Classifier(), train_dataloaders=class_loader(0), **CLS)
    ref = find_lr(trainer(), Classifier(), train_dataloaders=class_loader(0),
                  val_metric="accuracy", **CLS)  # fmt: skip
    assert held.trials == ref.trials and held.trials is not None
    assert held.trials.val_metrics is not None and not no_auto_note(held)


def test_auto_leaves_regression_and_unreadable_batches_to_the_loss() -> None:
    # a regression module (float targets): the loss, no note, no error, weights back
    model = WithVal()
    before = [t.clone() for t in model.state_dict().values()]
    auto = find_lr(trainer(), model, train_dataloaders=loader(), **FT)
    assert all(torch.equal(a, b) for a, b in zip(before, model.state_dict().values(), strict=True))
    loss = find_lr(trainer(), WithVal(), train_dataloaders=loader(), val_metric=None, **FT)
    assert auto.trials is not None and auto.trials.val_metrics is None
    assert auto.trials == loss.trials and auto.suggestion == loss.suggestion
    assert no_auto_note(auto)
    # Net has no forward(), dict batches are not (x, y): the loss, never an error
    net = find_lr(trainer(), Net(), train_dataloaders=loader(), val_data=val_loader(), **FT)
    assert net.trials is not None and net.trials.val_metrics is None and no_auto_note(net)
    dicts = find_lr(trainer(), DictBatches(), train_dataloaders=dict_loader(), **CLS)
    assert dicts.trials is not None and dicts.trials.val_metrics is None
    # a one-pass iterator cannot be read twice: the loss
    once = find_lr(trainer(), Classifier(), train_dataloaders=class_loader(0),
                   val_data=iter(list(class_loader(1))), **CLS)  # fmt: skip
    assert once.trials is not None and once.trials.val_metrics is None and no_auto_note(once)


class CountedForward(Classifier):
    """Counts ``forward`` calls in eval mode (``"auto"`` reads the class scores so)."""

    evals = 0

    def forward(self, x):
        if not self.training:
            CountedForward.evals += 1
        return super().forward(x)


def test_auto_reads_nothing_without_the_trials() -> None:
    # from scratch (val_data then gives the sweep's validation loss) and with trial_steps=0:
    # the same forward passes, results and notes as with val_metric=None
    counts, results = [], []
    for metric in ("auto", None):
        CountedForward.evals = 0
        for kw in (OPTS, {**CLS, "trial_steps": 0}):
            results.append(find_lr(trainer(), CountedForward(), train_dataloaders=class_loader(0),
                                   val_data=class_loader(1), val_metric=metric, **kw))  # fmt: skip
        counts.append(CountedForward.evals)
    assert counts[0] == counts[1]
    for auto, loss in zip(results[:2], results[2:], strict=True):
        assert auto.trials is None and auto.losses == loss.losses
        assert auto.suggestion == loss.suggestion and auto.notes == loss.notes


class Segmenter(pl.LightningModule):
    """Per-position classes: scores ``(N, 3, 4)`` for targets ``(N, 4)`` (cross_entropy's
    layout): ``"auto"`` takes top-1 along axis 1."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.body = torch.nn.Sequential(
            torch.nn.Linear(6, 16), torch.nn.Tanh(), torch.nn.Linear(16, 12)
        )

    def forward(self, x):
        return self.body(x).reshape(-1, 3, 4)

    def training_step(self, batch, batch_idx):
        x, y = batch
        return torch.nn.functional.cross_entropy(self(x), y)

    def configure_optimizers(self):
        return torch.optim.AdamW(self.parameters(), lr=1e-2)


def seg_loader(seed: int) -> torch.utils.data.DataLoader:
    x, y = class_tensors(seed)
    targets = torch.stack([(y + k) % 3 for k in range(4)], dim=1)
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, targets), batch_size=32)


def test_auto_reads_class_scores_on_the_second_axis() -> None:
    res = find_lr(trainer(), Segmenter(), train_dataloaders=seg_loader(0),
                  val_data=seg_loader(1), **CLS)  # fmt: skip

    def top1(module, batch) -> float:
        x, y = batch
        return float((module(x).argmax(1) == y).float().mean())

    ref = find_lr(trainer(), Segmenter(), train_dataloaders=seg_loader(0),
                  val_data=seg_loader(1), val_metric=top1, **CLS)  # fmt: skip
    assert res.trials is not None and ref.trials is not None
    assert res.trials.val_metrics is not None and res.trials.metric_mode == "max"
    assert any("over 3 classes (axis 1)" in n for n in res.notes)
    assert res.trials.val_metrics == pytest.approx(ref.trials.val_metrics, abs=1e-9)
    assert res.suggestion == pytest.approx(ref.suggestion, rel=1e-12)
