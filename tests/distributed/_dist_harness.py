"""Run a function on 2 gloo ranks in spawned processes, with a hard timeout (no hang in CI).

Each rank runs ``_dist_workers.<name>(rank, world, **kwargs)`` inside an initialised process
group (with a short collective timeout) and writes what it returns to a pickle file; the parent
joins every rank with a deadline, kills the ranks still alive, and returns the per-rank results.
"""

from __future__ import annotations

import contextlib
import datetime
import multiprocessing as mp
import os
import pickle
import socket
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Any

HERE = str(Path(__file__).resolve().parent)
SRC = str(Path(__file__).resolve().parents[2] / "src")


#: What a worker prints when gloo's threads are torn down during interpreter finalization,
#: after the work ended on every rank: a torch/gloo race on CPU (pytorch/pytorch#179291), seen
#: in ~10% of runs on a loaded 2-core machine — also with a plain DDP script that uses no lrkit
#: at all (session 14: 4 of 8 runs under load). Tests that start a script give such a run, and
#: only such a run, another try.
TEARDOWN_ABORT = "terminate called without an active exception"


def teardown_abort(output: str, script: str) -> bool:
    """Whether ``output`` ends in the known teardown abort with no Python traceback from
    ``script`` (the file name of the script that ran)."""
    return TEARDOWN_ABORT in output and f'{script}", line' not in output


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _entry(name: str, rank: int, world: int, port: int, out: str, kwargs: dict[str, Any]) -> None:
    os.environ.update(
        MASTER_ADDR="127.0.0.1",
        MASTER_PORT=str(port),
        RANK=str(rank),
        WORLD_SIZE=str(world),
        LOCAL_RANK=str(rank),
        LOCAL_WORLD_SIZE=str(world),
        OMP_NUM_THREADS="1",
    )
    import torch
    import torch.distributed as dist

    torch.set_num_threads(1)
    import _dist_workers

    result: dict[str, Any]
    try:
        if kwargs.pop("_init_pg", True):
            dist.init_process_group(
                "gloo",
                init_method=f"tcp://127.0.0.1:{port}",
                rank=rank,
                world_size=world,
                timeout=datetime.timedelta(seconds=kwargs.pop("_pg_timeout", 20)),
            )
        result = {"ok": True, "value": getattr(_dist_workers, name)(rank, world, **kwargs)}
    except BaseException as exc:  # reported to the parent, which asserts on it
        result = {
            "ok": False,
            "type": type(exc).__name__,
            "mro": [c.__name__ for c in type(exc).__mro__],
            "message": str(exc),
            "traceback": traceback.format_exc(),
        }
    with open(out, "wb") as f:
        pickle.dump(result, f)
    if dist.is_initialized():
        # a failed group may not tear down cleanly; the result is written already
        with contextlib.suppress(Exception):
            dist.destroy_process_group()


def run_ranks(name: str, *, world: int = 2, timeout: float = 90.0, **kwargs: Any) -> list[dict]:
    """Results of ``name`` on every rank; fails (never hangs) if a rank does not finish."""
    for p in (HERE, SRC):
        if p not in sys.path:
            sys.path.insert(0, p)
    ctx = mp.get_context("spawn")
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        outs = [os.path.join(tmp, f"rank{r}.pkl") for r in range(world)]
        procs = [
            ctx.Process(target=_entry, args=(name, r, world, port, outs[r], dict(kwargs)))
            for r in range(world)
        ]
        for p in procs:
            p.start()
        deadline = timeout
        import time

        start = time.monotonic()
        for p in procs:
            p.join(max(0.1, deadline - (time.monotonic() - start)))
        hung = [r for r, p in enumerate(procs) if p.is_alive()]
        for p in procs:
            if p.is_alive():
                p.kill()
                p.join(5)
        if hung:
            raise AssertionError(f"{name}: rank(s) {hung} still running after {timeout:g} s")
        results = []
        for r, out in enumerate(outs):
            if not os.path.exists(out):
                raise AssertionError(
                    f"{name}: rank {r} exited {procs[r].exitcode} without a result"
                )
            with open(out, "rb") as f:
                results.append(pickle.load(f))
        return results


def values(results: list[dict]) -> list[Any]:
    """The return values, or an AssertionError carrying a failed rank's traceback."""
    for r, res in enumerate(results):
        if not res["ok"]:
            raise AssertionError(f"rank {r} failed:\n{res['traceback']}")
    return [res["value"] for res in results]
