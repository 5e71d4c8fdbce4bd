"""Guard recovery: does a guarded run with an injected fault end where a clean run ends?

For each task, seed, fault and fault step, trains the same model (same seed, same batch order)
three ways in a plain PyTorch loop with Adam + cosine (lrkit's ``Scheduler``):

* clean;
* faulty, unguarded;
* faulty, guarded by ``lrkit.integrations.torch.Guard`` (``check`` before ``backward``).

Faults: ``nan`` — the loss of one batch is NaN (as from a corrupt batch); ``lr`` — the LR is
×1000 for 3 updates (as from a bad schedule segment or a corrupted value). Reports the final
validation accuracy of each run (non-finite logits count as 0), the guarded run's rollbacks
and LR cuts, and the guard's overhead per step: clean runs with and without the guard,
interleaved in one process, median of per-run step times, as a ratio. The noise floor is
the same clean run with only the batch at the fault step dropped: how far the final accuracy
moves when the trajectory is nudged at all (MNIST-1D's is several points).

    python benchmarks/guard_recovery.py            # digits-mlp + mnist1d-mlp, 5 seeds
    python benchmarks/guard_recovery.py --quick    # digits-mlp, 2 seeds
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import time
from pathlib import Path

import torch

from lrkit import schedules as S
from lrkit.integrations.torch import Guard, Scheduler
from lrkit.tasks import get_task

# task -> (lr, epochs, batch size, fault steps); Adam + cosine to 0
RECIPES = {
    "digits-mlp": (1e-2, 10, 64, (30, 70, 150)),
    "mnist1d-mlp": (1e-2, 30, 128, (100, 400, 800)),
}
SNAPSHOT_EVERY = 25


def train(task, seed: int, fault: str | None, fault_at: int, guarded: bool) -> dict:
    lr, epochs, bs, _ = RECIPES[task.name]
    torch.manual_seed(seed)
    model = task.make_model()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    x, y = task.train
    n = len(x)
    sched = Scheduler(opt, S.cosine(lr=lr, steps=epochs * math.ceil(n / bs)))
    guard = Guard(model, opt, sched, snapshot_every=SNAPSHOT_EVERY, log=False) if guarded else None
    gen = torch.Generator().manual_seed(seed)
    step, gave_up = 0, None
    t0 = time.perf_counter()
    try:
        for _ in range(epochs):
            perm = torch.randperm(n, generator=gen)
            for i in range(0, n, bs):
                idx = perm[i : i + bs]
                loss = task.loss_fn(model(x[idx]), y[idx])
                if fault == "nan" and step == fault_at:
                    loss = loss * float("nan")
                if fault == "skip" and step == fault_at:  # the noise floor: drop one batch
                    step += 1
                    continue
                if guard is not None and guard.check(step, loss):
                    step += 1
                    continue
                opt.zero_grad()
                loss.backward()
                if fault == "lr" and fault_at <= step < fault_at + 3:
                    for g in opt.param_groups:
                        g["lr"] *= 1000.0
                opt.step()
                sched.step()
                step += 1
    except Exception as exc:  # GuardError: report it, keep benchmarking
        gave_up = str(exc)
    seconds = time.perf_counter() - t0
    with torch.no_grad():
        logits = model(task.val[0])
        logits = torch.where(torch.isfinite(logits), logits, torch.zeros_like(logits))
    out = {
        "acc": task.metric(logits, task.val[1]),
        "steps": step,
        "updates": sched.last_epoch,
        "sec_per_step": seconds / max(step, 1),
        "gave_up": gave_up,
    }
    if guard is not None:
        d = guard.to_dict()
        out.update(rollbacks=d["rollbacks"], lr_cuts=d["lr_cuts"], skipped=d["skipped"])
    return out


def overhead(task, repeats: int) -> tuple[float, float]:
    """Median step time with the guard / without it (clean runs, interleaved), and the
    difference in microseconds per step."""
    with_g, without = [], []
    train(task, 0, None, 0, True)  # warm-up
    for r in range(repeats):
        without.append(train(task, r, None, 0, False)["sec_per_step"])
        with_g.append(train(task, r, None, 0, True)["sec_per_step"])
    a, b = statistics.median(with_g), statistics.median(without)
    return a / b, 1e6 * (a - b)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="digits-mlp only, 2 seeds")
    ap.add_argument("--seeds", type=int, default=None)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "guard_recovery.json"))
    args = ap.parse_args()
    torch.set_num_threads(1)  # tiny models: a thread pool only adds noise on a shared CPU
    tasks = ["digits-mlp"] if args.quick else list(RECIPES)
    seeds = range(args.seeds if args.seeds is not None else (2 if args.quick else 5))
    rows, summary = [], []
    skipped: dict[tuple[int, int], dict] = {}
    for name in tasks:
        task = get_task(name)
        ratio, extra_us = overhead(task, 3 if args.quick else 7)
        clean = {s: train(task, s, None, 0, False)["acc"] for s in seeds}
        for fault in ("nan", "lr"):
            for k in RECIPES[name][3]:
                for s in seeds:
                    bad = train(task, s, fault, k, False)
                    good = train(task, s, fault, k, True)
                    skip1 = (
                        skipped[(k, s)] if (k, s) in skipped else train(task, s, "skip", k, False)
                    )
                    skipped[(k, s)] = skip1
                    rows.append(
                        {
                            "task": name,
                            "fault": fault,
                            "fault_at": k,
                            "seed": s,
                            "clean": clean[s],
                            "unguarded": bad["acc"],
                            "guarded": good["acc"],
                            "one_batch_skipped": skip1["acc"],
                            "rollbacks": good["rollbacks"],
                            "lr_cuts": good["lr_cuts"],
                            "skipped": good["skipped"],
                            "updates_lost": bad["updates"] - good["updates"],
                            "gave_up": good["gave_up"],
                        }
                    )
            sel = [r for r in rows if r["task"] == name and r["fault"] == fault]
            gaps = [abs(r["guarded"] - r["clean"]) for r in sel]
            summary.append(
                {
                    "task": name,
                    "fault": fault,
                    "runs": len(sel),
                    "clean": statistics.mean(r["clean"] for r in sel),
                    "unguarded": statistics.mean(r["unguarded"] for r in sel),
                    "guarded": statistics.mean(r["guarded"] for r in sel),
                    "max_gap_points": 100 * max(gaps),
                    "mean_gap_points": 100
                    * statistics.mean(r["guarded"] - r["clean"] for r in sel),
                    "noise_max_gap_points": 100
                    * max(abs(r["one_batch_skipped"] - r["clean"]) for r in sel),
                    "noise_within_1_point": sum(
                        abs(r["one_batch_skipped"] - r["clean"]) <= 0.01 for r in sel
                    ),
                    "within_1_point": sum(g <= 0.01 for g in gaps),
                    "rollbacks": statistics.mean(r["rollbacks"] for r in sel),
                    "lr_cuts": statistics.mean(r["lr_cuts"] for r in sel),
                    "overhead_ratio": ratio,
                    "overhead_us_per_step": extra_us,
                }
            )
    print(
        f"{'task':<12} {'fault':<5} {'runs':>4} {'clean':>7} {'unguard':>8} {'guarded':>8} "
        f"{'mean gap':>8} {'max gap':>8} {'<=1pt':>6} {'noise max':>9} {'<=1pt':>6} "
        f"{'rollb':>6} {'cuts':>5} {'overhead':>9} {'us/step':>8}"
    )
    for r in summary:
        print(
            f"{r['task']:<12} {r['fault']:<5} {r['runs']:>4} {100 * r['clean']:>6.2f}% "
            f"{100 * r['unguarded']:>7.2f}% {100 * r['guarded']:>7.2f}% "
            f"{r['mean_gap_points']:>+7.2f}p {r['max_gap_points']:>7.2f}p "
            f"{r['within_1_point']:>3}/{r['runs']:<2} {r['noise_max_gap_points']:>8.2f}p "
            f"{r['noise_within_1_point']:>3}/{r['runs']:<2} "
            f"{r['rollbacks']:>6.2f} {r['lr_cuts']:>5.2f} {r['overhead_ratio']:>8.3f}x "
            f"{r['overhead_us_per_step']:>8.1f}"
        )
    result = {
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "torch": torch.__version__,
        "threads": 1,
        "snapshot_every": SNAPSHOT_EVERY,
        "recipes": {k: [*v[:3], list(v[3])] for k, v in RECIPES.items() if k in tasks},
        "quick": args.quick,
        "summary": summary,
        "runs": rows,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(f"saved {out}")


if __name__ == "__main__":
    main()
