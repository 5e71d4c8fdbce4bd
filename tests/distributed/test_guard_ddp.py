"""torch ``Guard`` under DDP on 2 gloo ranks: a fault on one rank, one action on both."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="torch is not installed (pip install 'lrkit[torch]')")
if not torch.distributed.is_available():
    pytest.skip("torch.distributed is not available in this torch build", allow_module_level=True)

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _dist_harness as H  # noqa: E402


def test_nan_and_spike_on_one_rank_act_on_both_at_the_same_step() -> None:
    r0, r1 = H.values(H.run_ranks("guard_ddp", timeout=120))
    assert r0["events"] == r1["events"]
    kinds = {(k, s) for k, s in r0["events"]}
    assert ("skip", 25) in kinds  # the NaN: a bad batch, skipped on both ranks
    assert ("skip", 45) in kinds and ("skip", 46) in kinds  # the spike, waiting
    assert ("rollback", 47) in kinds  # confirmed on the third: rolled back on both
    assert r0["checksum"] == r1["checksum"]  # parameters identical at the end
    assert r0["lr"] == r1["lr"] and r0["scale"] == r1["scale"] == 0.5
