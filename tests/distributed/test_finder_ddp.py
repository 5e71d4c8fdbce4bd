"""``find_lr`` under DDP on 2 gloo ranks: one curve, one stop, one result, no hang."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="torch is not installed (pip install 'lrkit[torch]')")
if not torch.distributed.is_available():
    pytest.skip("torch.distributed is not available in this torch build", allow_module_level=True)

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _dist_harness as H  # noqa: E402
import _dist_workers as W  # noqa: E402


@pytest.fixture(scope="module")
def runs() -> dict[str, list[dict]]:
    ranks = H.values(H.run_ranks("finder_scenarios", timeout=120))
    return {k: [r[k] for r in ranks] for k in ranks[0]}


def test_ranks_agree_and_match_one_process_on_the_union(runs: dict[str, list[dict]]) -> None:
    ranks = runs["plain"]
    r0, r1 = (r["result"] for r in ranks)
    assert r0 == r1  # every field: curve, stop, suggestion, notes
    single = W.find_lr_single()
    # DDP averages the shards' gradients and lrkit their losses: the full-batch run, up to
    # float rounding, so the same stop and the same suggestion within one sweep step
    assert len(r0["losses"]) == len(single["losses"])
    assert r0["diverged_at"] == single["diverged_at"]
    assert r0["losses"] == pytest.approx(single["losses"], rel=1e-4)
    ratio = (W.FINDER["end_lr"] / W.FINDER["start_lr"]) ** (1 / (W.FINDER["steps"] - 1))
    assert abs(math.log(r0["suggestion"] / single["suggestion"])) <= math.log(ratio)
    for r in ranks:
        assert r["after"] == r["before"]  # restored on every rank
        assert r["opt_state"] == 0


def test_nan_on_one_rank_stops_both_at_that_step(runs: dict[str, list[dict]]) -> None:
    ranks = runs["nan"]
    r0, r1 = (r["result"] for r in ranks)
    assert r0 == r1
    assert len(r0["losses"]) == 30  # calls 0..29 recorded; the NaN step stops both
    assert r0["diverged_at"] == pytest.approx(r0["lrs"][-1] * (r0["lrs"][1] / r0["lrs"][0]))
    assert all(r["after"] == r["before"] for r in ranks)


def test_exception_on_one_rank_fails_every_rank_without_a_hang(
    runs: dict[str, list[dict]],
) -> None:
    ranks = runs["raise"]
    _, mro0, msg0 = ranks[0]["error"]
    name1, _, msg1 = ranks[1]["error"]
    assert name1 == "RuntimeError" and "injected failure" in msg1
    assert "LRKitError" in mro0 and "rank 1" in msg0
    assert all(r["after"] == r["before"] for r in ranks)
    # the group survives: the next call on both ranks agrees again
    a0, a1 = (r["result"] for r in runs["after"])
    assert a0 == a1 and len(a0["losses"]) > 0


def test_finetune_trials_agree_across_ranks(runs: dict[str, list[dict]]) -> None:
    # each rank scores the trials on a different validation shard; the losses are averaged
    ranks = runs["finetune"]
    r0, r1 = (r["result"] for r in ranks)
    assert r0["trials"] is not None and 4 <= len(r0["trials"]["val_losses"]) <= 8
    assert r0 == r1  # the same trial losses, suggestion and interval on both ranks
    assert all(r["after"] == r["before"] for r in ranks)


def test_metric_scored_finetune_trials_agree_across_ranks(runs: dict[str, list[dict]]) -> None:
    # each rank's metric on its own shard differs; the mean over ranks scores the trials
    ranks = runs["finetune_metric"]
    r0, r1 = (r["result"] for r in ranks)
    trials = r0["trials"]
    assert trials is not None and trials["metric_mode"] == "min"
    assert len(trials["val_metrics"]) == len(trials["val_losses"]) >= 4
    assert r0 == r1  # the same metric values, suggestion and interval on both ranks
    assert all(r["after"] == r["before"] for r in ranks)
