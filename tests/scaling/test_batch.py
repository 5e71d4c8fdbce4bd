"""Batch-size rules: linear (Goyal et al.), square root (Malladi et al.), auto, safe range."""

from __future__ import annotations

import json
import math
import warnings

import pytest

from lrkit.errors import ConfigError
from lrkit.scaling import batch_size
from lrkit.scaling._batch import SAFE_MAX_BATCH, SAFE_MAX_FACTOR, optimizer_family


def test_linear_rule_and_warmup() -> None:
    r = batch_size(0.1, 256, 8192, dataset_size=1_281_167)
    assert r.rule == "linear" and r.factor == 32 and r.lr == pytest.approx(3.2)
    # Goyal et al.: 5 epochs of gradual warmup, here in updates at batch 8192
    assert r.warmup_epochs == 5.0
    assert r.warmup_steps == math.ceil(5 * 1_281_167 / 8192)
    assert r.warning is None
    s = r.schedule()
    assert s(0) < 3.2 / 100 * 2 and s(r.warmup_steps) == pytest.approx(3.2)
    # shrinking the batch needs no warmup
    small = batch_size(0.1, 256, 64)
    assert small.lr == pytest.approx(0.025) and small.warmup_epochs == 0.0
    assert small.schedule()(0) == pytest.approx(0.025)


def test_sqrt_rule_and_auto() -> None:
    r = batch_size(3e-4, 256, 4096, rule="sqrt")
    assert r.factor == pytest.approx(4.0) and r.lr == pytest.approx(1.2e-3)
    assert r.warmup_epochs == 0.0
    assert batch_size(3e-4, 256, 4096, rule="auto", optimizer="adamw").rule == "sqrt"
    assert batch_size(0.1, 256, 1024, rule="auto", optimizer="sgd_momentum").rule == "linear"
    lr_free = batch_size(1.0, 256, 1024, rule="auto", optimizer="prodigy")
    assert lr_free.rule == "none" and lr_free.lr == 1.0 and lr_free.warning is None


def test_auto_with_optimizer_instance() -> None:
    torch = pytest.importorskip("torch")
    opt = torch.optim.Adam([torch.zeros(1, requires_grad=True)], lr=1e-3)
    assert batch_size(1e-3, 32, 128, rule="auto", optimizer=opt).lr == pytest.approx(2e-3)
    assert optimizer_family(torch.optim.SGD) == "sgd"


def test_warns_past_safe_range() -> None:
    with pytest.warns(UserWarning, match="batch=16384 is past 8192"):
        r = batch_size(0.1, 1024, 16384)
    assert r.warning is not None and "8192" in r.warning
    with pytest.warns(UserWarning, match="factor of 64"):
        r = batch_size(1e-3, 8, 512, rule="sqrt")
    assert "x32" in (r.warning or "")
    with pytest.warns(UserWarning, match="factor of 0.015625"):
        batch_size(0.1, 4096, 64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ok = batch_size(0.1, 256, SAFE_MAX_BATCH)  # exactly at the edge: no warning
    assert ok.factor == SAFE_MAX_FACTOR and ok.warning is None


def test_to_dict_is_json() -> None:
    d = batch_size(0.1, 256, 512).to_dict()
    assert json.loads(json.dumps(d)) == d and d["lr"] == pytest.approx(0.2)


@pytest.mark.parametrize(
    ("kwargs", "arg"),
    [
        ({"lr": -0.1}, "lr="),
        ({"lr": float("inf")}, "lr="),
        ({"base_batch": 0}, "base_batch=0"),
        ({"batch": 2.5}, "batch=2.5"),
        ({"rule": "cubic"}, "rule='cubic'"),
        ({"rule": "auto"}, "optimizer="),
        ({"rule": "auto", "optimizer": "lion9"}, "optimizer='lion9'"),
        ({"dataset_size": -5}, "dataset_size=-5"),
    ],
)
def test_invalid(kwargs: dict, arg: str) -> None:
    args = {"lr": 0.1, "base_batch": 256, "batch": 512, **kwargs}
    with pytest.raises(ConfigError, match=arg.replace("(", r"\(")):
        batch_size(**args)


def test_schedule_needs_dataset_size() -> None:
    with pytest.raises(ConfigError, match="dataset_size"):
        batch_size(0.1, 256, 1024).schedule()


def test_integral_float_batches_are_ints_and_errors_say_where() -> None:
    r = batch_size(0.1, 256.0, 1e3)
    assert type(r.base_batch) is int and r.base_batch == 256 and r.batch == 1000
    with pytest.raises(ConfigError, match="batch_size: batch must be an integer, but got"):
        batch_size(0.1, 256, 512.5)
