"""Lightning ``strategy="ddp"`` on 2 gloo ranks: s(k) at every update; one guard decision."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="torch is not installed (pip install 'lrkit[torch]')")
pytest.importorskip(
    "lightning", reason="lightning is not installed (pip install 'lrkit[lightning]')"
)
if not torch.distributed.is_available():
    pytest.skip("torch.distributed is not available in this torch build", allow_module_level=True)

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _dist_harness as H  # noqa: E402
import _dist_workers as W  # noqa: E402


@pytest.fixture(scope="module")
def ranks() -> list[dict]:
    return H.values(H.run_ranks("lightning_ddp", timeout=180, _init_pg=False))


def test_scheduler_gives_s_k_at_every_update(ranks: list[dict]) -> None:
    for r in ranks:
        ks = [k for k, _ in r["lrs"]]
        assert ks == list(range(20))  # 20 updates (40 batches, accumulate 2), k = 0..19
        assert [lr for _, lr in r["lrs"]] == pytest.approx(r["expected"], rel=1e-12)


def test_guard_callback_acts_on_both_ranks(ranks: list[dict]) -> None:
    r0, r1 = ranks
    assert r0["events"] == r1["events"]
    kinds = set(r0["events"])
    assert ("skip", 25) in kinds and ("rollback", 47) in kinds
    assert r0["checksum"] == r1["checksum"]
    assert r0["scale"] == r1["scale"] == 0.5


def test_find_lr_agrees_across_ranks_and_matches_one_process(ranks: list[dict]) -> None:
    r0, r1 = (r["finder"] for r in ranks)
    assert r0 == r1
    assert all(r["finder_restored"] for r in ranks)
    single = W.find_lr_single()  # the union of the two shards, one process
    assert r0["losses"] == pytest.approx(single["losses"], rel=1e-4)
    assert r0["suggestion"] == pytest.approx(single["suggestion"], rel=1e-3)


def test_finetune_trials_on_the_validation_loaders_agree_across_ranks(ranks: list[dict]) -> None:
    r0, r1 = (r["tuned"] for r in ranks)
    assert r0 == r1  # each rank scored its shard; the loss is the mean over both
    assert r0["trials"] is not None and 4 <= len(r0["trials"]["val_losses"]) <= 8
    assert any("(val_dataloaders)" in n for n in r0["notes"])


def test_metric_scored_trials_agree_across_ranks_and_average_the_shards(ranks: list[dict]) -> None:
    W.check_metric_trials(ranks, "(val_dataloaders)")


def test_auto_val_metric_is_decided_alike_on_every_rank(ranks: list[dict]) -> None:
    W.check_auto_alike(ranks)
