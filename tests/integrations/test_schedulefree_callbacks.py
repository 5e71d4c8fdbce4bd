"""Schedule-free optimizers in Lightning and the Hugging Face Trainer: validation and
checkpoints at the evaluation weights, training weights back bit for bit."""

from __future__ import annotations

import warnings

import pytest

torch = pytest.importorskip("torch", reason="torch is not installed (pip install torch)")
schedulefree = pytest.importorskip(
    "schedulefree", reason="schedulefree is not installed (pip install schedulefree)"
)

from lrkit.integrations.torch._schedulefree import evaluation_weights  # noqa: E402

pytestmark = pytest.mark.filterwarnings(
    "ignore:.*does not have many workers:UserWarning",
    "ignore:.*LeafSpec.*:DeprecationWarning",
)


def tensors() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(128, 6, generator=g)
    return x, torch.tanh(x.sum(1, keepdim=True))


def trained_optimizer() -> tuple[torch.nn.Module, torch.optim.Optimizer]:
    torch.manual_seed(0)
    net = torch.nn.Linear(6, 1)
    opt = schedulefree.AdamWScheduleFree(net.parameters(), lr=0.05)
    opt.train()
    x, y = tensors()
    for _ in range(5):
        opt.zero_grad()
        torch.nn.functional.mse_loss(net(x), y).backward()
        opt.step()
    return net, opt


def test_evaluation_weights_switch_and_restore_exactly() -> None:
    net, opt = trained_optimizer()
    y_weights = [p.clone() for p in net.parameters()]
    with evaluation_weights([opt]):
        assert not opt.param_groups[0]["train_mode"]
        x_weights = [p.clone() for p in net.parameters()]
    assert opt.param_groups[0]["train_mode"]
    assert any(not torch.equal(a, b) for a, b in zip(x_weights, y_weights, strict=True))
    assert all(torch.equal(a, b) for a, b in zip(y_weights, net.parameters(), strict=True))


def test_lightning_validation_and_checkpoint_in_eval_mode(tmp_path) -> None:
    pl = pytest.importorskip("lightning.pytorch", reason="lightning is not installed")
    from lrkit.integrations.lightning import ScheduleFreeCallback

    class Net(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            torch.manual_seed(0)
            self.body = torch.nn.Linear(6, 1)
            self.modes: list[bool] = []

        def training_step(self, batch, batch_idx):
            return torch.nn.functional.mse_loss(self.body(batch[0]), batch[1])

        def validation_step(self, batch, batch_idx):
            self.modes.append(self.trainer.optimizers[0].param_groups[0]["train_mode"])

        def configure_optimizers(self):
            return schedulefree.AdamWScheduleFree(self.parameters(), lr=0.05)

    data = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(*tensors()), batch_size=32)
    net = Net()
    ckpt = pl.callbacks.ModelCheckpoint(dirpath=tmp_path, save_last=True)
    t = pl.Trainer(
        accelerator="cpu",
        max_epochs=2,
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[ScheduleFreeCallback(), ckpt],
        num_sanity_val_steps=0,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t.fit(net, data, data)
    assert net.modes and not any(net.modes)  # every validation batch at the eval weights
    opt = t.optimizers[0]
    assert not opt.param_groups[0]["train_mode"]  # eval_at_end
    saved = torch.load(tmp_path / "last.ckpt", weights_only=False)
    assert saved["optimizer_states"][0]["param_groups"][0]["train_mode"] is False
    # the checkpoint holds the evaluation weights: the final module's, in eval mode
    for k, v in net.state_dict().items():
        assert torch.equal(saved["state_dict"][k], v)


def test_transformers_evaluation_in_eval_mode(tmp_path) -> None:
    transformers = pytest.importorskip("transformers", reason="transformers is not installed")
    pytest.importorskip("accelerate", reason="accelerate is not installed")
    from lrkit.integrations.transformers import ScheduleFreeCallback

    modes: list[bool] = []

    class Net(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            torch.manual_seed(0)
            self.body = torch.nn.Linear(6, 1)
            self.opt = None

        def forward(self, x, labels=None):
            pred = self.body(x)
            if not self.training and self.opt is not None:
                modes.append(self.opt.param_groups[0]["train_mode"])
            return {"loss": torch.nn.functional.mse_loss(pred, labels), "logits": pred}

    class Data(torch.utils.data.Dataset):
        def __init__(self) -> None:
            self.x, self.y = tensors()

        def __len__(self) -> int:
            return len(self.x)

        def __getitem__(self, i):
            return {"x": self.x[i], "labels": self.y[i]}

    net = Net()
    opt = schedulefree.AdamWScheduleFree(net.parameters(), lr=0.05)
    net.opt = opt
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path),
        max_steps=20,
        per_device_train_batch_size=16,
        eval_strategy="steps",
        eval_steps=10,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        disable_tqdm=True,
        remove_unused_columns=False,
    )
    trainer = transformers.Trainer(
        model=net,
        args=args,
        train_dataset=Data(),
        eval_dataset=Data(),
        optimizers=(opt, torch.optim.lr_scheduler.LambdaLR(opt, lambda k: 1.0)),
        callbacks=[ScheduleFreeCallback(eval_at_end=False)],
    )
    trainer.train()
    assert modes and not any(modes)  # both evaluations at the eval weights
    assert opt.param_groups[0]["train_mode"]  # back to training afterwards
