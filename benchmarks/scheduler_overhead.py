"""Per-step cost of lrkit's PyTorch Scheduler vs the native PyTorch scheduler of the same shape.

Both schedulers drive their own optimizer (same model, same LR shape) and are stepped in
alternating rounds in one process, so machine noise hits both alike; the figure is the ratio
of medians (lrkit / native, lower is better). Also: the time to evaluate one million steps
vectorised with NumPy.

    python benchmarks/scheduler_overhead.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from lrkit import schedules as S
from lrkit.integrations.torch import Scheduler

T = 10_000


def pairs() -> dict[str, tuple[Callable[[torch.optim.Optimizer], object], S.Schedule]]:
    lr = 0.1
    return {
        "cosine": (
            lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=T),
            S.cosine(lr, steps=T),
        ),
        "step": (
            lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=100, gamma=0.5),
            S.step_decay(lr, step_size=100, gamma=0.5),
        ),
        "multistep": (
            lambda o: torch.optim.lr_scheduler.MultiStepLR(o, milestones=[3000, 6000, 9000]),
            S.multistep(lr, milestones=[3000, 6000, 9000]),
        ),
        "one_cycle": (
            lambda o: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=lr, total_steps=T + 10),
            S.one_cycle(max_lr=lr, steps=T + 10),
        ),
        "warmup+cosine (SequentialLR)": (
            lambda o: torch.optim.lr_scheduler.SequentialLR(
                o,
                [
                    torch.optim.lr_scheduler.LinearLR(o, start_factor=0.01, total_iters=500),
                    torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=T),
                ],
                milestones=[500],
            ),
            S.warmup(S.cosine(lr, steps=T), steps=500),
        ),
    }


def make_opt() -> torch.optim.Optimizer:
    params = [torch.nn.Parameter(torch.zeros(4)), torch.nn.Parameter(torch.zeros(2))]
    opt = torch.optim.SGD([{"params": params[:1]}, {"params": params[1:], "lr": 0.05}], lr=0.1)
    return opt


def time_steps(sched: object, n: int) -> float:
    step = sched.step  # type: ignore[attr-defined]
    t0 = time.perf_counter()
    for _ in range(n):
        step()
    return (time.perf_counter() - t0) / n


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    rounds = 5 if args.quick else 15
    n = 1000 if args.quick else 2000
    results = []
    for name, (native_factory, schedule) in pairs().items():
        native_times, lrkit_times = [], []
        for _ in range(rounds):
            o1, o2 = make_opt(), make_opt()
            native = native_factory(o1)
            ours = Scheduler(o2, schedule)
            o1.step()  # a real loop calls optimizer.step() before the first scheduler.step()
            o2.step()
            time_steps(native, 50)  # warm-up
            time_steps(ours, 50)
            native_times.append(time_steps(native, n))
            lrkit_times.append(time_steps(ours, n))
        nat, our = statistics.median(native_times), statistics.median(lrkit_times)
        results.append(
            {"schedule": name, "native_us": nat * 1e6, "lrkit_us": our * 1e6, "ratio": our / nat}
        )
        print(
            f"{name:32s} native {nat * 1e6:7.2f} µs  lrkit {our * 1e6:7.2f} µs  ratio {our / nat:5.2f}"
        )

    vec = []
    ks = np.arange(1_000_000)
    for spec in [
        "cosine(lr=0.1, steps=1000000)",
        "warmup(cosine(lr=0.1, steps=990000), steps=10000)",
        "one_cycle(max_lr=0.1, steps=1000000)",
        "cosine_restarts(lr=0.1, period=1000, mult=2.0)",
        "multistep(0.1, [250000, 500000, 750000])",
    ]:
        s = S.parse(spec)
        s(ks[:10])
        ts = []
        for _ in range(3 if args.quick else 7):
            t0 = time.perf_counter()
            s(ks)
            ts.append(time.perf_counter() - t0)
        med = statistics.median(ts)
        vec.append({"schedule": spec, "seconds_per_million": med})
        print(f"{spec:52s} 1M steps vectorised: {med * 1e3:7.1f} ms")

    out = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, torch threads {torch.get_num_threads()}",
        "torch": torch.__version__,
        "numpy": np.__version__,
        "rounds": rounds,
        "steps_per_round": n,
        "per_step": results,
        "vectorised": vec,
    }
    path = Path(__file__).parent / "results" / "scheduler_overhead.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(out, indent=2))
    print(f"saved {path}")


if __name__ == "__main__":
    main()
