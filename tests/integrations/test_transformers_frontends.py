"""Hugging Face front-ends against the real ``Trainer``: ``find_lr`` and ``GuardCallback``."""

from __future__ import annotations

import math
import warnings

import pytest

torch = pytest.importorskip("torch", reason="torch is not installed (pip install torch)")
transformers = pytest.importorskip(
    "transformers", reason="transformers is not installed (pip install 'lrkit[transformers]')"
)
pytest.importorskip("accelerate", reason="accelerate is not installed (the Trainer needs it)")

from lrkit import schedules as S  # noqa: E402
from lrkit.control import GuardPolicy  # noqa: E402
from lrkit.errors import ConfigError  # noqa: E402
from lrkit.finder import FinderResult  # noqa: E402
from lrkit.finder import find_lr as torch_find_lr  # noqa: E402
from lrkit.integrations.transformers import GuardCallback, find_lr, lrkit_scheduler  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::lrkit.errors.LRKitWarning")
N, FEATURES = 256, 6


class Net(torch.nn.Module):
    """Returns ``{"loss", "logits"}`` like a transformers model; faults on chosen calls."""

    def __init__(self, nan_at: tuple[int, ...] = (), spike_at: tuple[int, ...] = ()) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.body = torch.nn.Sequential(
            torch.nn.Linear(FEATURES, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1)
        )
        self.nan_at, self.spike_at, self.calls = nan_at, spike_at, 0

    def forward(self, x, labels=None):
        pred = self.body(x)
        loss = torch.nn.functional.mse_loss(pred, labels)
        if self.training:
            k, self.calls = self.calls, self.calls + 1
            if k in self.nan_at:
                loss = loss * math.nan
            if k in self.spike_at:
                loss = loss * 1000.0
        return {"loss": loss, "logits": pred}


class Data(torch.utils.data.Dataset):
    def __init__(self) -> None:
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(N, FEATURES, generator=g)
        self.y = torch.tanh(self.x.sum(1, keepdim=True))

    def __len__(self) -> int:
        return N

    def __getitem__(self, i: int) -> dict:
        return {"x": self.x[i], "labels": self.y[i]}


def make_args(tmp_path, **kw) -> transformers.TrainingArguments:
    base = {
        "output_dir": str(tmp_path),
        "max_steps": 40,
        "per_device_train_batch_size": 16,
        "learning_rate": 0.01,
        "report_to": [],
        "use_cpu": True,
        "disable_tqdm": True,
        "logging_strategy": "no",
        "save_strategy": "no",
        "remove_unused_columns": False,
        "dataloader_num_workers": 0,
        "seed": 0,
    }
    return transformers.TrainingArguments(**{**base, **kw})


def snapshot(model: torch.nn.Module) -> list:
    return [t.clone() for t in model.state_dict().values()]


def test_find_lr_runs_on_the_trainer_and_restores_it(tmp_path) -> None:
    model = Net()
    trainer = transformers.Trainer(model=model, args=make_args(tmp_path), train_dataset=Data())
    before = snapshot(model)
    res = find_lr(trainer, start_lr=1e-5, end_lr=10.0, steps=40)
    assert isinstance(res, FinderResult)
    assert 1e-5 < res.suggestion < 10.0 and res.diverged_at is not None
    assert all(torch.equal(a, b) for a, b in zip(before, snapshot(model), strict=True))
    assert trainer.optimizer is None  # train() builds its optimizer as usual
    trainer.train()
    assert trainer.state.global_step == 40


class SequentialTrainer(transformers.Trainer):
    """Batches in dataset order, so the reference below sees the same ones."""

    def _get_train_sampler(self, *args, **kwargs):
        return torch.utils.data.SequentialSampler(self.train_dataset)


def test_find_lr_equals_the_torch_finder_on_the_same_batches(tmp_path) -> None:
    # the same core: the Trainer's dict batches give the torch finder's curve on (x, y)
    torch.manual_seed(0)
    model = Net()
    opt = torch.optim.AdamW(model.parameters(), lr=0.01)
    args = make_args(tmp_path, dataloader_drop_last=True)
    trainer = SequentialTrainer(
        model=model, args=args, train_dataset=Data(), optimizers=(opt, None)
    )
    options = {"start_lr": 1e-5, "end_lr": 10.0, "steps": 30, "seed": 3}
    got = find_lr(trainer, **options)
    batches = [(b["x"], b["labels"]) for b in trainer.get_train_dataloader()]
    ref = torch_find_lr(
        model.body,
        batches,
        loss_fn=torch.nn.functional.mse_loss,
        optimizer=opt,
        **options,
    )
    assert len(got.losses) == len(ref.losses)
    assert got.suggestion == pytest.approx(ref.suggestion, rel=1e-6)


def test_find_lr_rejects_a_non_trainer() -> None:
    with pytest.raises(ConfigError, match="trainer"):
        find_lr(object())


def guarded_trainer(tmp_path, model: Net, **policy_kw) -> tuple:
    opt = torch.optim.AdamW(model.parameters(), lr=0.01)
    schedule = S.cosine(lr=0.01, steps=40)
    sched = lrkit_scheduler(opt, schedule)
    policy = GuardPolicy(window=10, warmup=5, checkpoint_every=5, patience=3, **policy_kw)
    cb = GuardCallback(policy=policy, log=False)
    trainer = transformers.Trainer(
        model=model,
        args=make_args(tmp_path),
        train_dataset=Data(),
        optimizers=(opt, sched),
        callbacks=[cb],
    )
    return trainer, cb, sched, schedule


def test_guard_skips_a_nan_and_rolls_back_a_spike(tmp_path) -> None:
    model = Net(nan_at=(12,), spike_at=(25, 26, 27))
    trainer, cb, sched, schedule = guarded_trainer(tmp_path, model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.train()
    kinds = [(e.kind, e.step) for e in cb.events]
    assert ("skip", 12) in kinds
    assert ("skip", 25) in kinds and ("rollback", 27) in kinds
    assert cb.to_dict()["scale"] == 0.5
    assert all(torch.isfinite(p).all() for p in model.parameters())
    # the scheduler counts applied updates only: 40 updates, 1 skipped, 2 withheld + the
    # rollback's, so it sits below 40 and its LR is s(k) x the cut
    k = sched.last_epoch
    assert k < 40
    assert sched.get_last_lr()[0] == pytest.approx(float(schedule(k)) * 0.5)


def test_guard_callback_without_faults_changes_nothing(tmp_path) -> None:
    plain = Net()
    t1 = transformers.Trainer(model=plain, args=make_args(tmp_path), train_dataset=Data())
    t1.train()
    guarded = Net()
    t2, cb, _, _ = guarded_trainer(tmp_path, guarded)
    t2.train()
    assert not [e for e in cb.events if e.kind not in ("snapshot",)]
    assert t2.state.global_step == 40


class ValData(Data):
    """A validation split: other samples than the training set's."""

    def __init__(self, seed: int = 1) -> None:
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randn(N, FEATURES, generator=g)
        self.y = torch.tanh(self.x.sum(1, keepdim=True))


class PretrainedNet(Net):
    """A square hidden layer with a large singular value: it reads as pretrained."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.body = torch.nn.Sequential(
            torch.nn.Linear(FEATURES, 16), torch.nn.Tanh(), torch.nn.Linear(16, 16),
            torch.nn.Tanh(), torch.nn.Linear(16, 1),
        )  # fmt: skip
        with torch.no_grad():
            w = self.body[2].weight
            u = torch.ones(16) / 4.0
            w += 3.0 * w.norm() / 4.0 * torch.outer(u, u)


FT = {"start_lr": 1e-5, "end_lr": 10.0, "steps": 30, "seed": 0, "trial_steps": 5}


def test_finetune_trials_take_the_trainers_eval_dataset_by_themselves(tmp_path) -> None:
    model = Net()
    trainer = transformers.Trainer(
        model=model, args=make_args(tmp_path), train_dataset=Data(), eval_dataset=ValData()
    )
    before = snapshot(model)
    res = find_lr(trainer, regime="finetune", **FT)
    assert res.trials is not None and 4 <= len(res.trials.val_losses) <= 8
    assert any("trainer.get_eval_dataloader()" in n for n in res.notes)
    assert all(torch.equal(a, b) for a, b in zip(before, snapshot(model), strict=True))
    # the same trials as with the eval loader passed as val_data, not those on training data
    ref = find_lr(trainer, regime="finetune", val_data=trainer.get_eval_dataloader(), **FT)
    assert ref.trials == res.trials
    bare = transformers.Trainer(model=Net(), args=make_args(tmp_path), train_dataset=Data())
    held = find_lr(bare, regime="finetune", **FT)
    assert held.trials is not None and held.trials.val_losses != res.trials.val_losses
    assert not any("trainer's validation data" in n for n in held.notes)


def test_a_dict_of_eval_datasets_is_scored_whole(tmp_path) -> None:
    evals = {"a": ValData(1), "b": ValData(2)}
    trainer = transformers.Trainer(
        model=Net(), args=make_args(tmp_path), train_dataset=Data(), eval_dataset=evals
    )
    res = find_lr(trainer, regime="finetune", **FT)
    assert any("for a, b" in n for n in res.notes)
    both = [b for name in evals for b in trainer.get_eval_dataloader(name)]
    ref = find_lr(trainer, regime="finetune", val_data=both, **FT)
    assert res.trials == ref.trials


def test_auto_regime_reads_the_eval_dataset_for_a_pretrained_model_only(tmp_path) -> None:
    def make(model: Net) -> transformers.Trainer:
        return transformers.Trainer(
            model=model, args=make_args(tmp_path), train_dataset=Data(), eval_dataset=ValData()
        )

    res = find_lr(make(PretrainedNet()), **FT)
    assert res.detection is not None and res.detection.pretrained and res.trials is not None
    assert any("trainer.get_eval_dataloader()" in n for n in res.notes)
    fresh = find_lr(make(Net()), **{**FT, "trial_steps": None})
    plain = find_lr(
        transformers.Trainer(model=Net(), args=make_args(tmp_path), train_dataset=Data()),
        **{**FT, "trial_steps": None},
    )
    assert fresh.trials is None and fresh.regime == "scratch"
    assert fresh.losses == plain.losses and fresh.suggestion == plain.suggestion


# --- val_metric: the fine-tuning trials scored on a metric, as lrkit.find_lr does -------------

CLASSES = 3


class ClsNet(torch.nn.Module):
    """A classifier returning ``{"loss", "logits"}`` like a transformers model."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.body = torch.nn.Sequential(
            torch.nn.Linear(FEATURES, 16), torch.nn.Tanh(), torch.nn.Linear(16, CLASSES)
        )

    def forward(self, x, labels=None):
        logits = self.body(x)
        return {"loss": torch.nn.functional.cross_entropy(logits, labels), "logits": logits}


class ClsData(torch.utils.data.Dataset):
    def __init__(self, seed: int = 0, n: int = N, label_key: str = "labels") -> None:
        g = torch.Generator().manual_seed(seed)
        self.x = torch.randn(n, FEATURES, generator=g)
        w = torch.randn(FEATURES, CLASSES, generator=torch.Generator().manual_seed(7))
        self.y = (self.x @ w).argmax(1)
        self.key = label_key

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> dict:
        return {"x": self.x[i], self.key: self.y[i]}


def opt_snapshot(opt: torch.optim.Optimizer) -> list:
    state = opt.state_dict()
    flat = [v for s in state["state"].values() for v in s.values()]
    return [t.clone() if isinstance(t, torch.Tensor) else t for t in flat] + [state["param_groups"]]


def same(a: list, b: list) -> bool:
    return all(
        torch.equal(x, y) if isinstance(x, torch.Tensor) else x == y
        for x, y in zip(a, b, strict=True)
    )


def test_val_metric_accuracy_gives_the_torch_finders_trials_and_restores_exactly(tmp_path) -> None:
    model = ClsNet()
    opt = torch.optim.AdamW(model.parameters(), lr=0.01)
    x = torch.randn(8, FEATURES)  # one update, so the optimizer has moments to restore
    torch.nn.functional.cross_entropy(model.body(x), torch.zeros(8, dtype=torch.long)).backward()
    opt.step()
    opt.zero_grad()
    # 80 eval samples in batches of 32: the last has 16, and batches count their samples
    args = make_args(tmp_path, per_device_eval_batch_size=32)  # 256 = 16 training batches
    trainer = SequentialTrainer(
        model=model, args=args, train_dataset=ClsData(), eval_dataset=ClsData(1, n=80),
        optimizers=(opt, None),
    )  # fmt: skip
    before, opt_before = snapshot(model), opt_snapshot(opt)
    ft = {**FT, "regime": "finetune"}
    res = find_lr(trainer, val_metric="accuracy", **ft)
    trials = res.trials
    assert trials is not None and trials.val_metrics is not None and trials.metric_mode == "max"
    assert len(trials.val_metrics) == len(trials.lrs) >= 4
    assert len(set(trials.val_metrics)) > 1 and all(0 <= m <= 1 for m in trials.val_metrics)
    assert any("trainer.get_eval_dataloader()" in n for n in res.notes)
    assert same(before, snapshot(model)) and same(opt_before, opt_snapshot(opt))
    # the PyTorch front-end on the same network, batches, optimizer and seed
    train = [(b["x"], b["labels"]) for b in trainer.get_train_dataloader()]
    val = [(b["x"], b["labels"]) for b in trainer.get_eval_dataloader()]
    assert [len(b[0]) for b in val] == [32, 32, 16]
    ref = torch_find_lr(
        model.body, train, loss_fn=torch.nn.functional.cross_entropy, optimizer=opt,
        val_data=val, val_metric="accuracy", **ft,
    )  # fmt: skip
    assert ref.trials is not None and ref.trials.val_metrics is not None
    assert trials.lrs == pytest.approx(ref.trials.lrs, rel=1e-9)
    assert trials.val_metrics == pytest.approx(ref.trials.val_metrics, abs=1e-9)
    assert res.suggestion == pytest.approx(ref.suggestion, rel=1e-9)
    assert res.interval == pytest.approx(ref.interval, rel=1e-9)
    # a callable (model, batch) -> number, lower is better: the same trials, read as errors
    seen: list[tuple] = []

    def error_rate(m, batch) -> torch.Tensor:
        seen.append((m is model, m.training, torch.is_grad_enabled(), tuple(sorted(batch))))
        return (m(**batch)["logits"].argmax(-1) != batch["labels"]).float().mean()

    err = find_lr(trainer, val_metric=error_rate, val_metric_mode="min", **ft)
    assert err.trials is not None and err.trials.metric_mode == "min"
    assert err.trials.val_metrics == pytest.approx([1 - a for a in trials.val_metrics])
    assert err.suggestion == pytest.approx(res.suggestion, rel=1e-12)
    assert set(seen) == {(True, False, False, ("labels", "x"))}
    assert same(before, snapshot(model)) and same(opt_before, opt_snapshot(opt))


VOCAB, TAGS, LENGTH = 11, 4, 6


class Tagger(torch.nn.Module):
    """Token classification: logits ``(batch, length, tags)``, label -100 ignored."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.emb = torch.nn.Embedding(VOCAB, 16)
        self.mix = torch.nn.Linear(16, 16)
        self.head = torch.nn.Linear(16, TAGS)

    def forward(self, input_ids, labels=None):
        logits = self.head(torch.tanh(self.mix(self.emb(input_ids))))
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(-1, TAGS), labels.reshape(-1), ignore_index=-100
        )
        return transformers.modeling_outputs.TokenClassifierOutput(loss=loss, logits=logits)


class Tokens(torch.utils.data.Dataset):
    """Tags ``id % 4``; tokens below 3 (padding, special) are labelled -100."""

    def __init__(self, seed: int, n: int = 128) -> None:
        g = torch.Generator().manual_seed(seed)
        self.ids = torch.randint(0, VOCAB, (n, LENGTH), generator=g)
        self.labels = torch.where(self.ids < 3, -100, self.ids % TAGS)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> dict:
        return {"input_ids": self.ids[i], "labels": self.labels[i]}


def test_token_labels_minus_100_are_ignored(tmp_path) -> None:
    model = Tagger()
    args = make_args(tmp_path, per_device_eval_batch_size=16)
    trainer = transformers.Trainer(
        model=model, args=args, train_dataset=Tokens(0), eval_dataset=Tokens(1, n=64)
    )
    before = snapshot(model)
    res = find_lr(trainer, regime="finetune", val_metric="accuracy", **FT)
    assert res.trials is not None and res.trials.val_metrics is not None
    assert same(before, snapshot(model))
    # the start's accuracy, by hand: over labelled tokens, batches weighted by their size
    masked = unmasked = 0.0
    with torch.no_grad():
        model.eval()
        for b in trainer.get_eval_dataloader():
            pred = model(**b).logits.argmax(-1)
            keep = b["labels"] != -100
            n = len(b["input_ids"])
            masked += (pred[keep] == b["labels"][keep]).float().mean().item() * n
            unmasked += (pred == b["labels"]).float().mean().item() * n
        model.train()
    assert res.trials.start_val_metric == pytest.approx(masked / 64, abs=1e-9)
    assert abs(masked - unmasked) / 64 > 0.05  # the -100 positions would have counted


class PlainNet(ClsNet):
    """Takes ``x`` and ``y`` (no ``labels``); optionally returns a tuple."""

    calls = 0

    def __init__(self, as_tuple: bool = False) -> None:
        super().__init__()
        self.as_tuple = as_tuple

    def forward(self, x, y=None, labels=None):
        PlainNet.calls += 1
        out = super().forward(x, y if labels is None else labels)
        return (out["loss"], out["logits"]) if self.as_tuple else out


def test_a_bad_val_metric_fails_in_one_line(tmp_path) -> None:
    trainer = transformers.Trainer(
        model=ClsNet(), args=make_args(tmp_path), train_dataset=ClsData(), eval_dataset=ClsData(1)
    )
    with pytest.raises(ConfigError, match=r"val_metric must be .* but got float 0\.5$"):
        find_lr(trainer, val_metric=0.5, regime="finetune", **FT)
    # batches without "labels": found before the sweep (no forward pass yet)
    PlainNet.calls = 0
    trainer = transformers.Trainer(
        model=PlainNet(), args=make_args(tmp_path), train_dataset=ClsData(label_key="y"),
        eval_dataset=ClsData(1, label_key="y"),
    )  # fmt: skip
    with pytest.raises(ConfigError, match=r"dict with keys \['x', 'y'\]") as info:
        find_lr(trainer, val_metric="accuracy", regime="finetune", **FT)
    assert "\n" not in str(info.value) and PlainNet.calls == 0
    # an output without logits (a tuple): said at the first validation batch, after the
    # sweep, and the model still comes back bit for bit
    tupled = PlainNet(as_tuple=True)
    before = snapshot(tupled)
    trainer = transformers.Trainer(
        model=tupled, args=make_args(tmp_path), train_dataset=ClsData(), eval_dataset=ClsData(1)
    )
    with pytest.raises(
        ConfigError, match=r"reads model\(\*\*batch\)\.logits.*a tuple of 2"
    ) as info:
        find_lr(trainer, val_metric="accuracy", regime="finetune", **FT)
    assert "\n" not in str(info.value) and same(before, snapshot(tupled))


def tiny_gpt2() -> transformers.GPT2LMHeadModel:
    config = transformers.GPT2Config(vocab_size=VOCAB, n_positions=LENGTH, n_embd=8, n_layer=1,
                                     n_head=2)  # fmt: skip
    return transformers.GPT2LMHeadModel(config)


class LMData(torch.utils.data.Dataset):
    """32 token sequences whose labels are their inputs (a causal LM shifts them itself);
    ``shift``: sequence ``i`` starts at token ``i``, else every sequence is the same."""

    def __init__(self, shift: bool = False) -> None:
        self.shift = shift

    def __len__(self) -> int:
        return 32

    def __getitem__(self, i: int) -> dict:
        ids = (torch.arange(LENGTH) + (i if self.shift else 0)) % VOCAB
        return {"input_ids": ids, "labels": ids}


def test_a_causal_lm_is_refused_by_accuracy_before_the_sweep(tmp_path) -> None:
    model = tiny_gpt2()
    trainer = transformers.Trainer(model=model, args=make_args(tmp_path), train_dataset=LMData())
    with pytest.raises(ConfigError, match="GPT2LMHeadModel is a causal LM"):
        find_lr(trainer, val_metric="accuracy", regime="finetune", **FT)


# --- val_metric="auto" (the default): accuracy for class scores, else the loss -----------------


def no_auto_note(res: FinderResult) -> bool:
    return not any("val_metric='auto'" in n for n in res.notes)


def test_auto_scores_a_classifier_on_accuracy_as_val_metric_accuracy_does(tmp_path) -> None:
    model = ClsNet()
    args = make_args(tmp_path, per_device_eval_batch_size=32)
    trainer = SequentialTrainer(
        model=model, args=args, train_dataset=ClsData(), eval_dataset=ClsData(1, n=80)
    )
    before = snapshot(model)
    ft = {**FT, "regime": "finetune"}
    res = find_lr(trainer, **ft)
    assert same(before, snapshot(model)) and trainer.optimizer is None
    assert res.trials is not None and res.trials.val_metrics is not None
    assert res.trials.metric_mode == "max"
    note = [n for n in res.notes if "val_metric='auto'" in n]
    assert len(note) == 1 and "top-1 accuracy" in note[0] and f"over {CLASSES} classes" in note[0]
    acc = find_lr(trainer, val_metric="accuracy", **ft)
    assert res.trials == acc.trials and res.suggestion == acc.suggestion
    assert res.interval == acc.interval and res.losses == acc.losses and no_auto_note(acc)
    # val_metric=None: the validation loss, no note
    loss = find_lr(trainer, val_metric=None, **ft)
    assert loss.trials is not None and loss.trials.val_metrics is None and no_auto_note(loss)
    assert same(before, snapshot(model))
    # no eval dataset: the held-out first batches of the (shuffling) training loader, read the
    # same way (the first batch was read with the RNGs put back)
    bare = transformers.Trainer(model=model, args=make_args(tmp_path), train_dataset=ClsData())
    held = find_lr(bare, **ft)
    ref = find_lr(bare, val_metric="accuracy", **ft)
    assert held.trials is not None and held.trials.val_metrics is not None
    assert held.trials == ref.trials and held.losses == ref.losses
    assert not no_auto_note(held) and same(before, snapshot(model))
    # token classification (logits (N, T, tags), labels -100 left out): accuracy as well
    tagger = Tagger()
    tagged = transformers.Trainer(
        model=tagger, args=make_args(tmp_path, per_device_eval_batch_size=16),
        train_dataset=Tokens(0), eval_dataset=Tokens(1, n=64),
    )  # fmt: skip
    auto = find_lr(tagged, regime="finetune", **FT)
    ref = find_lr(tagged, regime="finetune", val_metric="accuracy", **FT)
    assert auto.trials is not None and auto.trials == ref.trials
    assert any(f"over {TAGS} classes" in n for n in auto.notes)


def test_auto_leaves_a_regression_head_and_a_causal_lm_to_the_loss(tmp_path) -> None:
    # float labels (the test Net, then a real BERT regression head): the loss, no note
    trainer = transformers.Trainer(
        model=Net(), args=make_args(tmp_path), train_dataset=Data(), eval_dataset=ValData()
    )
    auto = find_lr(trainer, regime="finetune", **FT)
    loss = find_lr(trainer, regime="finetune", val_metric=None, **FT)
    assert auto.trials is not None and auto.trials.val_metrics is None and no_auto_note(auto)
    assert auto.trials == loss.trials and auto.suggestion == loss.suggestion

    config = transformers.BertConfig(
        vocab_size=VOCAB, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
        intermediate_size=16, max_position_embeddings=LENGTH, num_labels=1,
    )  # fmt: skip
    torch.manual_seed(0)
    bert = transformers.BertForSequenceClassification(config)

    class Scores(torch.utils.data.Dataset):
        def __init__(self, seed: int) -> None:
            g = torch.Generator().manual_seed(seed)
            self.ids = torch.randint(0, VOCAB, (32, LENGTH), generator=g)

        def __len__(self) -> int:
            return len(self.ids)

        def __getitem__(self, i: int) -> dict:
            return {"input_ids": self.ids[i], "labels": self.ids[i].float().mean() / VOCAB}

    before = snapshot(bert)
    trainer = transformers.Trainer(
        model=bert, args=make_args(tmp_path), train_dataset=Scores(0), eval_dataset=Scores(1)
    )
    auto = find_lr(trainer, regime="finetune", **FT)
    assert auto.trials is not None and auto.trials.val_metrics is None and no_auto_note(auto)
    assert same(before, snapshot(bert))

    # a causal LM (it shifts its labels inside forward): the loss, never an error
    lm = tiny_gpt2()
    before = snapshot(lm)
    trainer = transformers.Trainer(
        model=lm, args=make_args(tmp_path), train_dataset=LMData(True), eval_dataset=LMData(True)
    )
    auto = find_lr(trainer, regime="finetune", **FT)
    loss = find_lr(trainer, regime="finetune", val_metric=None, **FT)
    assert auto.trials is not None and auto.trials.val_metrics is None and no_auto_note(auto)
    assert auto.trials == loss.trials and same(before, snapshot(lm))


def test_auto_reads_no_eval_batch_without_the_trials(tmp_path) -> None:
    PlainNet.calls = 0
    trainer = transformers.Trainer(
        model=PlainNet(), args=make_args(tmp_path), train_dataset=ClsData(),
        eval_dataset=ClsData(1),
    )  # fmt: skip
    res = find_lr(trainer, **{**FT, "trial_steps": None})  # from scratch
    calls = PlainNet.calls
    PlainNet.calls = 0
    ref = find_lr(trainer, val_metric=None, **{**FT, "trial_steps": None})
    assert res.trials is None and calls == PlainNet.calls
    assert res.losses == ref.losses and res.notes == ref.notes
