"""Wall time of K LRs in one vectorised ``lrkit.sweep`` vs K ordinary trainings.

For each task (MNIST-1D MLP and CNN from ``lrkit.tasks``), optimizer (SGD, Adam) and K,
both sides train the same steps on the same pre-made batches from the same initial
weights. The sequential cost is K times the median wall time of one ordinary
``torch.optim`` training (timed ``--seq-runs`` times, so K = 128 CNN runs need not be
repeated 128 times); the sweep is timed whole (setup included) ``--repeats`` times, and
the ratio of medians is reported. Every timed call follows an untimed warm-up.

    python benchmarks/sweep_speed.py                       # CPU, writes results/sweep_speed.json
    python benchmarks/sweep_speed.py --device cuda             # adds a "cuda-..." run to it
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from lrkit.sweep import sweep
from lrkit.tasks import get_task, make_optimizer

TASKS = {"mlp": "mnist1d-mlp", "cnn": "mnist1d-cnn"}
LR_RANGE = {"sgd": (1e-3, 0.3), "adam": (1e-4, 3e-2)}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _batches(
    task: Any, steps: int, device: torch.device
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    x, y = task.train
    g = torch.Generator().manual_seed(0)
    out: list[tuple[torch.Tensor, torch.Tensor]] = []
    while len(out) < steps:
        order = torch.randperm(len(x), generator=g)
        for i in range(0, len(x), task.batch_size):
            idx = order[i : i + task.batch_size]
            out.append((x[idx].to(device), y[idx].to(device)))
    return out[:steps]


def _sequential_one(
    task: Any,
    init: dict[str, torch.Tensor],
    batches: list,
    opt: str,
    lr: float,
    device: torch.device,
) -> float:
    model = task.make_model().to(device)
    model.load_state_dict(init)
    optimizer = make_optimizer(opt, model.parameters(), lr)
    _sync(device)
    t = time.perf_counter()
    for x, y in batches:
        optimizer.zero_grad(set_to_none=True)
        loss = task.loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
    _sync(device)
    return time.perf_counter() - t


def _vectorised(
    task: Any,
    init: dict[str, torch.Tensor],
    batches: list,
    opt: str,
    lrs: np.ndarray,
    device: torch.device,
    engine: str,
) -> tuple[float, str]:
    model = task.make_model().to(device)
    model.load_state_dict(init)
    _sync(device)
    t = time.perf_counter()
    r = sweep(
        model,
        batches,
        loss_fn=task.loss_fn,
        lrs=lrs,
        optimizer=opt,
        steps=len(batches),
        chunk=len(lrs),
        device=device,
        engine=engine,
    )
    _sync(device)
    return time.perf_counter() - t, r.engine


def _matmul_bound(model: Any, k: int, batch: int, steps: int, device: torch.device) -> float:
    """Seconds the matrix products alone of ``steps`` batched-MLP steps take at K copies.

    The same products the engine runs (forward, weight gradient, input gradient but for the
    first layer), on preallocated tensors of the engine's shapes and dtype, nothing else: a
    floor under any exact float32 sweep of this model on this machine, so
    ``K x sequential / this`` bounds the speed-up it can reach.
    """
    from torch import nn

    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    ops = []
    for n, lin in enumerate(linears):
        o, i = lin.out_features, lin.in_features
        w = torch.randn(k, o, i, device=device)
        a = (
            torch.randn(batch, i, device=device).expand(k, batch, i)
            if n == 0
            else (torch.randn(k, batch, i, device=device))
        )
        d = torch.randn(k, batch, o, device=device)
        outs = (
            torch.empty(k, batch, o, device=device),
            torch.empty(k, o, i, device=device),
            torch.empty(k, batch, i, device=device),
        )
        ops.append((a, w, d, outs, n > 0))

    def once() -> None:
        for a, w, d, (fo, go, do), back in ops:
            torch.bmm(a, w.transpose(1, 2), out=fo)
            torch.bmm(d.transpose(1, 2), a, out=go)
            if back:
                torch.bmm(d, w, out=do)

    for _ in range(5):
        once()
    _sync(device)
    t = time.perf_counter()
    for _ in range(steps):
        once()
    _sync(device)
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--tasks", default="mlp,cnn")
    ap.add_argument("--optimizers", default="sgd,adam")
    ap.add_argument("--ks", default="8,32,128")
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seq-runs", type=int, default=5)
    ap.add_argument("--engine", default="auto", help="auto, vmap or batched-mlp")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: leave as is)")
    ap.add_argument("--label", default="", help="key of this run in the results file")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "sweep_speed.json"))
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    rows: list[dict[str, Any]] = []
    print(
        f"{'task':4} {'opt':5} {'K':>4} {'engine':12} {'seq/run s':>10} {'K seq s':>9} "
        f"{'sweep s':>8} {'speed-up':>8} {'matmul-only bound':>17}"
    )
    for short in args.tasks.split(","):
        task = get_task(TASKS[short])
        torch.manual_seed(0)
        init = {k: v.to(device) for k, v in task.make_model().state_dict().items()}
        batches = _batches(task, args.steps, device)
        for opt in args.optimizers.split(","):
            lo, hi = LR_RANGE[opt]
            _sequential_one(task, init, batches, opt, lo, device)  # warm-up
            seq = statistics.median(
                _sequential_one(task, init, batches, opt, float(lr), device)
                for lr in np.geomspace(lo, hi, args.seq_runs)
            )
            for k in (int(s) for s in args.ks.split(",")):
                lrs = np.geomspace(lo, hi, k)
                _vectorised(task, init, batches, opt, lrs, device, args.engine)  # warm-up
                times, engine = [], ""
                for _ in range(args.repeats):
                    t, engine = _vectorised(task, init, batches, opt, lrs, device, args.engine)
                    times.append(t)
                vec = statistics.median(times)
                bound = None
                if engine == "batched-mlp":
                    bound = statistics.median(
                        _matmul_bound(task.make_model(), k, task.batch_size, args.steps, device)
                        for _ in range(args.repeats)
                    )
                row = {
                    "task": TASKS[short],
                    "optimizer": opt,
                    "K": k,
                    "engine": engine,
                    "steps": args.steps,
                    "seq_one_s": seq,
                    "seq_total_s": seq * k,
                    "sweep_s": vec,
                    "speedup": seq * k / vec,
                    # the matrix products alone, and the speed-up they would allow if every
                    # other operation of the sweep were free
                    "matmul_only_s": bound,
                    "matmul_bound_speedup": seq * k / bound if bound else None,
                }
                rows.append(row)
                print(
                    f"{short:4} {opt:5} {k:>4} {engine:12} {seq:>10.3f} {seq * k:>9.2f} "
                    f"{vec:>8.3f} {seq * k / vec:>7.1f}x "
                    + (f"{seq * k / bound:>16.1f}x" if bound else f"{'-':>17}"),
                    flush=True,
                )
    meta = {
        "device": str(device),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "cuda_name": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "args": vars(args),
    }
    # One file holds every run, keyed by --label (default: device and thread count), so
    # the CPU and GPU figures sit side by side; re-running a label replaces it.
    out = Path(args.out)
    label = args.label or f"{device.type}-{torch.get_num_threads()}threads"
    runs = json.loads(out.read_text()).get("runs", {}) if out.exists() else {}
    runs[label] = {"meta": meta, "rows": rows}
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"runs": runs}, indent=2) + "\n")
    print(f"saved {out} [{label}]")


if __name__ == "__main__":
    main()
