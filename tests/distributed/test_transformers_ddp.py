"""The Hugging Face ``Trainer`` on 2 gloo processes: find_lr, s(k), one guard decision."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="torch is not installed (pip install 'lrkit[torch]')")
pytest.importorskip("transformers", reason="transformers is not installed")
pytest.importorskip("accelerate", reason="accelerate is not installed (the Trainer needs it)")
if not torch.distributed.is_available():
    pytest.skip("torch.distributed is not available in this torch build", allow_module_level=True)

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _dist_harness as H  # noqa: E402
import _dist_workers as W  # noqa: E402


@pytest.fixture(scope="module")
def ranks() -> list[dict]:
    return H.values(H.run_ranks("hf_ddp", timeout=180, _init_pg=False))


def test_find_lr_is_the_same_on_both_ranks(ranks: list[dict]) -> None:
    r0, r1 = ranks
    assert r0["processes"] == 2
    assert r0["finder"] == r1["finder"]
    assert r0["finder_restored"] and r1["finder_restored"]


def test_finetune_trials_on_the_eval_dataset_agree_across_ranks(ranks: list[dict]) -> None:
    r0, r1 = (r["tuned"] for r in ranks)
    assert r0 == r1  # each rank scored its shard; the loss is the mean over both
    assert r0["trials"] is not None and 4 <= len(r0["trials"]["val_losses"]) <= 8
    assert any("trainer.get_eval_dataloader()" in n for n in r0["notes"])


def test_guard_acts_on_both_ranks_and_the_lr_follows_applied_updates(ranks: list[dict]) -> None:
    r0, r1 = ranks
    assert r0["events"] == r1["events"]
    assert ("skip", 12) in set(r0["events"])
    assert r0["checksum"] == r1["checksum"]
    # 30 Trainer steps, step 12 withheld: the scheduler counts the 29 applied updates, so
    # the LR before step j is s(j) up to 12 and s(j - 1) after it
    expected = r0["expected"]
    want = [expected[j] if j <= 12 else expected[j - 1] for j in range(30)]
    assert r0["lrs"] == pytest.approx(want, rel=1e-12)


def test_metric_scored_trials_agree_across_ranks_and_average_the_shards(ranks: list[dict]) -> None:
    W.check_metric_trials(ranks, "trainer.get_eval_dataloader()")


def test_auto_val_metric_is_decided_alike_on_every_rank(ranks: list[dict]) -> None:
    W.check_auto_alike(ranks)
