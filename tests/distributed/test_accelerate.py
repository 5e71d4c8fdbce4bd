"""lrkit's ``Scheduler`` under ``accelerate`` with 2 processes: s(k) at optimizer update k."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch", reason="torch is not installed (pip install 'lrkit[torch]')")
pytest.importorskip("accelerate", reason="accelerate is not installed (pip install accelerate)")
if not torch.distributed.is_available():
    pytest.skip("torch.distributed is not available in this torch build", allow_module_level=True)

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _dist_harness as H  # noqa: E402


@pytest.fixture(scope="module")
def ranks() -> list[dict]:
    return H.values(H.run_ranks("accelerate_lrs", timeout=180, _init_pg=False))


@pytest.mark.parametrize("setting", ["default", "split_batches", "accumulate"])
def test_lrkit_scheduler_is_exact(ranks: list[dict], setting: str) -> None:
    for r in ranks:
        got = r[setting]
        assert got["processes"] == 2
        n = len(got["lrs"])
        assert n >= 8  # enough updates to tell s(k) from s(2k)
        assert got["lrs"] == pytest.approx(r["expected"][:n], rel=1e-12)


def test_torch_scheduler_runs_at_twice_the_step_there(ranks: list[dict]) -> None:
    # what lrkit avoids: accelerate steps a plain torch scheduler twice per update
    got = ranks[0]["torch_lambda"]
    n = len(got["lrs"])
    expected = ranks[0]["expected"]
    assert got["lrs"] == pytest.approx([expected[2 * k] for k in range(n)], rel=1e-6)
