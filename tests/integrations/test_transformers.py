"""Hugging Face adapter: a real ``transformers.Trainer`` on CPU with a tiny model."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch is not installed (pip install torch)")
transformers = pytest.importorskip(
    "transformers", reason="transformers is not installed (pip install 'lrkit[transformers]')"
)
pytest.importorskip("accelerate", reason="accelerate is not installed (the Trainer needs it)")

from lrkit import schedules as S  # noqa: E402
from lrkit.control import ReduceOnPlateau  # noqa: E402
from lrkit.integrations.torch import Scheduler  # noqa: E402
from lrkit.integrations.transformers import (  # noqa: E402
    PlateauCallback,
    ScheduleTrainer,
    lrkit_scheduler,
)
from lrkit.testing._integration import (  # noqa: E402
    check_adapter,
    check_lrs,
    check_missing_dependency,
)


class Tiny(torch.nn.Module):
    def __init__(self, n_layers=1):
        super().__init__()
        torch.manual_seed(0)
        self.layers = torch.nn.ModuleList(torch.nn.Linear(3, 1) for _ in range(n_layers))

    def forward(self, x, labels=None):
        pred = sum(layer(x) for layer in self.layers)
        return {"loss": torch.nn.functional.mse_loss(pred, labels), "logits": pred}


class Data(torch.utils.data.Dataset):
    def __init__(self, n=20):
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(n, 3, generator=g)

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return {"x": self.x[i], "labels": self.x[i].sum(0, keepdim=True)}


class Recorder(transformers.TrainerCallback):
    """LR of each param group just before each optimizer update, keyed by global_step."""

    def __init__(self, trainer_ref):
        self.trainer_ref, self.steps, self.lrs = trainer_ref, [], []

    def on_pre_optimizer_step(self, args, state, control, **kwargs):
        self.steps.append(state.global_step)
        self.lrs.append([g["lr"] for g in self.trainer_ref[0].optimizer.param_groups])


def make_args(tmp_path, max_steps, **kw):
    return transformers.TrainingArguments(
        output_dir=str(tmp_path),
        max_steps=max_steps,
        per_device_train_batch_size=4,
        learning_rate=0.01,
        report_to=[],
        use_cpu=True,
        disable_tqdm=True,
        logging_strategy="no",
        save_strategy=kw.pop("save_strategy", "no"),
        remove_unused_columns=False,
        dataloader_num_workers=0,
        **kw,
    )


def fit(
    schedule,
    max_steps,
    root,
    *,
    ratios=(1.0,),
    resume=None,
    rec=None,
    use_subclass=False,
    plateau=None,
    **args_kw,
):
    rec = rec if rec is not None else Recorder([None])
    model = Tiny(len(ratios))
    args = make_args(root, max_steps, **args_kw)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if use_subclass:
            trainer = ScheduleTrainer(
                model=model,
                args=args,
                train_dataset=Data(),
                eval_dataset=Data(4),
                schedule=schedule,
                plateau=plateau,
                callbacks=[rec],
            )
        else:
            groups = [
                {"params": layer.parameters(), "lr": 0.01 * r}
                for layer, r in zip(model.layers, ratios, strict=True)
            ]
            opt = torch.optim.SGD(groups, lr=0.01)
            trainer = transformers.Trainer(
                model=model,
                args=args,
                train_dataset=Data(),
                optimizers=(opt, lrkit_scheduler(opt, schedule)),
                callbacks=[rec],
            )
        rec.trainer_ref[0] = trainer
        trainer.train(resume_from_checkpoint=resume)
    return rec, trainer


def run_hf(schedule, steps, *, resume_at=None, ratios=(1.0,), tmp_path, **kw):
    rec = Recorder([None])
    if resume_at is None:
        fit(schedule, steps, tmp_path, ratios=ratios, rec=rec, **kw)
    else:
        fit(
            schedule,
            resume_at,
            tmp_path,
            ratios=ratios,
            rec=rec,
            save_strategy="steps",
            save_steps=resume_at,
            **kw,
        )
        ckpt = tmp_path / f"checkpoint-{resume_at}"
        assert (ckpt / "scheduler.pt").exists()
        fit(schedule, steps, tmp_path, ratios=ratios, rec=rec, resume=str(ckpt), **kw)
    assert rec.steps == list(range(steps)), f"optimizer updates at global steps {rec.steps}"
    return np.asarray(rec.lrs)


def test_contract_with_optimizers_tuple(tmp_path):
    n = [0]

    def run(schedule, steps, **kw):
        n[0] += 1
        return run_hf(schedule, steps, tmp_path=tmp_path / str(n[0]), **kw)

    check_adapter(
        run,
        schedules=[S.warmup(S.cosine(lr=0.1, steps=6, min_lr=0.01), steps=3)],
        steps=10,
        resumes=1,
        ratios=(1.0, 0.5),
        seed=5,
    )


def test_gradient_accumulation_and_resume(tmp_path):
    s = S.multistep(lr=0.1, milestones=[1, 3, 5], gamma=0.5)
    lrs = run_hf(s, 7, resume_at=4, tmp_path=tmp_path, gradient_accumulation_steps=3)
    check_lrs(s, lrs, what="gradient_accumulation_steps=3, resumed after 4 updates")


def test_schedule_trainer_and_plateau(tmp_path):
    s = S.warmup(S.linear(0.1, end=0.0, steps=10), steps=2)
    # eval every 2 updates; the eval loss of an untrained-on-eval tiny model will not improve by
    # 1e9, so with threshold=1e9 (absolute) every evaluation but the first is "bad"
    plateau = ReduceOnPlateau(factor=0.5, patience=0, threshold=1e9, threshold_mode="abs")
    rec, trainer = fit(
        s, 8, tmp_path, use_subclass=True, plateau=plateau, eval_strategy="steps", eval_steps=2
    )
    assert isinstance(trainer.lr_scheduler, Scheduler)
    assert any(isinstance(c, PlateauCallback) for c in trainer.callback_handler.callbacks)
    assert rec.steps == list(range(8))
    # first evaluation (after update 2) improves from inf; each later one cuts by half
    scale = np.asarray([1, 1, 1, 1, 0.5, 0.5, 0.25, 0.25])
    # the default optimizer (AdamW, lr=0.01 from the args) has two groups at the same LR
    lrs = np.asarray(rec.lrs)
    assert lrs.shape[1] == 2
    np.testing.assert_allclose(lrs[:, 0], s(np.arange(8)) * scale, rtol=1e-12)
    np.testing.assert_allclose(lrs[:, 1], lrs[:, 0], rtol=1e-12)


def test_horizon_mismatch_warns():
    opt = torch.optim.SGD(torch.nn.Linear(1, 1).parameters(), lr=0.1)
    with pytest.warns(UserWarning, match="designed for 100 updates"):
        lrkit_scheduler(opt, S.cosine(lr=0.1, steps=100), num_training_steps=120)


@pytest.mark.parametrize("blocked", [["transformers"], ["accelerate"]])
def test_missing_framework_raises_dependency_error(blocked):
    msg = check_missing_dependency("lrkit.integrations.transformers", blocked, "transformers")
    assert blocked[0] in msg


# the README example, verbatim
README = """
import torch
import transformers
from lrkit import schedules as S
from lrkit.integrations.transformers import lrkit_scheduler


class Regressor(torch.nn.Module):  # any model whose forward returns a loss works
    def __init__(self):
        super().__init__()
        self.net = torch.nn.Linear(8, 1)

    def forward(self, x, labels=None):
        return {"loss": torch.nn.functional.mse_loss(self.net(x), labels)}


x = torch.randn(256, 8)
train = [{"x": xi, "labels": xi.sum(0, keepdim=True)} for xi in x]
model = Regressor()
opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
schedule = S.warmup(S.linear(1e-3, end=0.0, steps=40), steps=10)
args = transformers.TrainingArguments(output_dir="out", max_steps=50, per_device_train_batch_size=16,
                                      gradient_accumulation_steps=2, report_to=[], use_cpu=True,
                                      remove_unused_columns=False)
trainer = transformers.Trainer(model=model, args=args, train_dataset=train,
                               optimizers=(opt, lrkit_scheduler(opt, schedule, num_training_steps=50)))
trainer.train()  # update k runs at s(k); checkpoints save and resume the scheduler
"""


def test_readme_example(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(README, "README-transformers", "exec"), scope)
    assert scope["trainer"].state.global_step == 50
    assert scope["trainer"].lr_scheduler.step_count == 50
