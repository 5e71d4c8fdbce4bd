from __future__ import annotations

import math

import numpy as np
import pytest

from lrkit._progress import ProgressBar
from lrkit.study._train import run_one, sensitivity, sweep_engine_for
from lrkit.tasks import train

from .tiny_task import make, make_conv

OFF = ProgressBar("test", 1, enabled=False)


def test_plateau_loop_reproduces_tasks_train_until_it_cuts() -> None:
    task = make()
    # lr tiny: the validation loss improves every epoch, so the plateau rule never cuts and the
    # plateau run must equal lrkit.tasks.train with a constant LR, epoch by epoch.
    ours = run_one(task, "adam", "plateau", 1e-4, 3, 4, OFF)
    ref = train(task, 1e-4, seed=3, optimizer="adam", epochs=4)
    assert ours.val_metric == tuple(r.val_metric for r in ref.history)
    assert ours.val_loss == pytest.approx(tuple(r.val_loss for r in ref.history), rel=1e-6)
    assert set(ours.lr_at_epoch) == {1e-4}


def test_plateau_cuts_the_lr_when_validation_stalls() -> None:
    task = make()
    # A huge SGD LR makes the validation loss bounce: the rule must cut at least once.
    run = run_one(task, "sgd", "plateau", 5.0, 0, 8, OFF)
    lrs = [v for v in run.lr_at_epoch if math.isfinite(v)]
    assert run.diverged or min(lrs) < 5.0


def test_closed_form_schedule_run_records_history() -> None:
    task = make()
    r = run_one(task, "adam", "cosine", 1e-2, 1, 3, OFF)
    assert r.epoch == (1, 2, 3) and len(r.val_metric) == 3 and not r.diverged
    assert r.lr_at_epoch[-1] < r.lr_at_epoch[0]  # cosine decays
    assert 0.0 <= r.final_metric <= 1.0
    assert r.to_dict()["history"]["epoch"] == [1, 2, 3]


def test_engine_choice() -> None:
    assert sweep_engine_for(make()) == "sweep"
    assert sweep_engine_for(make_conv()) == "sequential"


def test_vectorised_and_sequential_sensitivity_agree_roughly() -> None:
    task = make()
    lrs = np.array([1e-3, 1e-2, 1e-1])
    vec, runs_v, notes_v = sensitivity(task, "adam", "one_cycle", lrs, 3, "sweep", OFF)
    seq, runs_s, notes_s = sensitivity(task, "adam", "one_cycle", lrs, 3, "sequential", OFF)
    assert notes_v == notes_s == [] and runs_v == [] and len(runs_s) == 3
    assert vec.engine.startswith("lrkit.sweep") and seq.engine.startswith("sequential")
    # Same init and schedule; only the batch order differs: the curves agree within noise.
    assert np.allclose(vec.final_metric, seq.final_metric, atol=0.1)
    assert vec.best_lr in lrs.tolist()


def test_plateau_sensitivity_is_always_sequential() -> None:
    curve, runs, _ = sensitivity(make(), "adam", "plateau", np.array([1e-2]), 2, "sweep", OFF)
    assert curve.engine.startswith("sequential") and len(runs) == 1
