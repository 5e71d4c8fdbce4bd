"""PBT variants vs the best constant LR and the best cosine of an equal-cost sweep, on 5 tasks.

For each task and seed, K = ``--population`` copies train the task's recipe from the same
initial weights on the same batches, with LRs in the task's range (Adam 1e-4…1e-1, SGD with
momentum 1e-3…1):

* PBT variants (``lrkit.pbt``, ``compare=False``; interval = a tenth of the run, quantile 0.25,
  perturb 0.8/1.25): ``classic`` (truncation, as in Jaderberg et al. 2017), ``consistent``
  (a member is replaced only when the source is better on both halves of the selection set),
  ``anneal`` (classic, then the last quarter of the run decays every LR linearly to 0, no more
  exploits), ``consistent+anneal``;
* ``constant``: ``lrkit.sweep`` over the K log-spaced LRs (the same K x steps cost);
* ``cosine``: the same sweep with a cosine decay to 0; ``wsd``: the same sweep constant for
  three quarters and then the same linear decay as ``anneal`` (is PBT's gain only the decay?);
* ``replay V``: one ordinary training with variant V's ``result.schedule`` from a *different*
  seed (new initial weights and batch order): does the schedule transfer?

The task's validation set is split in two halves: PBT's selection and the sweeps' choice of the
best LR use the first half; every reported score is on the second half, which no method saw.
Tasks: ``digits-mlp`` and ``mnist1d-mlp`` (built in) chose the variant; ``friedman-mlp``
(regression, MSE, the shape of the case in issue #21), ``digits-cnn`` (2-D CNN, AdamW) and
``blobs-sgdm`` (tanh MLP, SGD with momentum) were never used to choose.

    python benchmarks/pbt.py            # writes benchmarks/results/pbt.json
    python benchmarks/pbt.py --quick    # fewer epochs, for a smoke run
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from lrkit.pbt import pbt
from lrkit.schedules import cosine, wsd
from lrkit.sweep import sweep
from lrkit.tasks import Task, accuracy, cross_entropy, get_task

CHOOSE = ("digits-mlp", "mnist1d-mlp")
HELD_OUT = ("friedman-mlp", "digits-cnn", "blobs-sgdm")
VARIANTS = {
    "classic": {"select": "truncation", "anneal": 0.0},
    "consistent": {"select": "consistent", "anneal": 0.0},
    "anneal": {"select": "truncation", "anneal": 0.25},
    "consistent+anneal": {"select": "consistent", "anneal": 0.25},
}
DEFAULT = "anneal"  # what lrkit.pbt uses by default; chosen on CHOOSE (see docs/benchmarks.md)


def _split(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    return np.random.default_rng(seed).permutation(n)[: n // 2 * 2].reshape(2, -1)


def _mse(out: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return ((out - y) ** 2).mean()


def _friedman() -> Task:
    from sklearn.datasets import make_friedman1

    x, y = make_friedman1(n_samples=2000, n_features=10, noise=1.0, random_state=0)
    y = (y - y.mean()) / y.std()
    xt, yt = torch.tensor(x, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)[:, None]
    return Task(name="friedman-mlp", make_model=lambda: nn.Sequential(
                    nn.Linear(10, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 1)),
                train=(xt[:1200], yt[:1200]), val=(xt[1200:], yt[1200:]), loss_fn=_mse,
                metric=lambda o, t: float(_mse(o, t)), metric_name="MSE", higher_is_better=False,
                optimizer="adam", batch_size=64, epochs=25)  # fmt: skip


def _digits_cnn() -> Task:
    base = get_task("digits-mlp")

    def model() -> nn.Module:
        return nn.Sequential(nn.Unflatten(1, (1, 8, 8)), nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(),
                             nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8 * 16, 10))  # fmt: skip

    return Task(name="digits-cnn", make_model=model, train=base.train, val=base.val,
                loss_fn=cross_entropy, metric=accuracy, optimizer="adamw", batch_size=64,
                epochs=10)  # fmt: skip


def _blobs_sgdm() -> Task:
    from sklearn.datasets import make_classification

    x, y = make_classification(n_samples=3000, n_features=20, n_informative=10, n_classes=4,
                               class_sep=0.8, flip_y=0.05, random_state=1)  # fmt: skip
    xt, yt = torch.tensor(x, dtype=torch.float32), torch.tensor(y)
    return Task(name="blobs-sgdm", make_model=lambda: nn.Sequential(
                    nn.Linear(20, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 4)),
                train=(xt[:2000], yt[:2000]), val=(xt[2000:], yt[2000:]), loss_fn=cross_entropy,
                metric=accuracy, optimizer="sgd_momentum", batch_size=64, epochs=15)  # fmt: skip


TASKS = {"friedman-mlp": _friedman, "digits-cnn": _digits_cnn, "blobs-sgdm": _blobs_sgdm}


def _task(name: str) -> Task:
    return TASKS[name]() if name in TASKS else get_task(name)


def _model(task: Task, seed: int) -> nn.Module:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return task.make_model()


def _score(model: nn.Module, task: Task, data: tuple[torch.Tensor, torch.Tensor]) -> float:
    model.eval()
    with torch.no_grad():
        return float(task.metric(model(data[0]), data[1]))


def _sweep_best(task: Task, seed: int, lrs: np.ndarray, epochs: int, sel: Any, rep: Any,
                schedule: Any = None) -> float:  # fmt: skip
    """The report-half score of the LR that is best on the selection half."""
    kw = dict(loss_fn=task.loss_fn, optimizer=task.optimizer, epochs=epochs, schedule=schedule,
              metric=task.metric, seed=seed, batch_size=task.batch_size,
              maximize=task.higher_is_better)  # fmt: skip
    r = sweep(_model(task, seed), task.train, lrs=lrs, val_data=sel, **kw)
    assert r.val_metric is not None
    sign = 1.0 if task.higher_is_better else -1.0
    best = float(lrs[int(np.nanargmax(sign * r.val_metric[:, -1]))])
    # the same deterministic training of the chosen LR alone, scored on the report half
    again = sweep(_model(task, seed), task.train, lrs=[best], val_data=rep, **kw)
    assert again.val_metric is not None
    return float(again.val_metric[0, -1])


def run_task(name: str, args: argparse.Namespace) -> dict[str, Any]:
    task = _task(name)
    epochs = args.epochs or (max(2, task.epochs // 4) if args.quick else task.epochs)
    low, high = (1e-3, 1.0) if task.optimizer.startswith("sgd") else (1e-4, 1e-1)
    k = args.population
    lrs = np.geomspace(low, high, k)
    steps = epochs * -(-len(task.train[0]) // task.batch_size)
    variants = (args.variants or ",".join(VARIANTS)).split(",")
    names = [*variants, "constant", "cosine", "wsd", *(f"replay {v}" for v in variants)]
    per_seed: dict[str, list[float]] = {m: [] for m in names}
    schedules, wall = [], []
    anneal_from = steps * 3 // 4
    for seed in range(args.seeds):
        i_sel, i_rep = _split(len(task.val[0]), seed)
        sel = (task.val[0][i_sel], task.val[1][i_sel])
        rep = (task.val[0][i_rep], task.val[1][i_rep])
        for v in variants:
            t0 = time.perf_counter()
            r = pbt(_model(task, seed), task.train, loss_fn=task.loss_fn, population=k, low=low,
                    high=high, optimizer=task.optimizer, epochs=epochs, val_data=sel,
                    metric=task.metric, maximize=task.higher_is_better, seed=seed,
                    batch_size=task.batch_size, compare=False, **VARIANTS[v])  # fmt: skip
            winner = _model(task, seed)
            winner.load_state_dict(r.best_weights, strict=False)
            per_seed[v].append(_score(winner, task, rep))
            if v == DEFAULT:
                wall.append(time.perf_counter() - t0)
                schedules.append(r.schedule_text)
                anneal_from = r.anneal_from or anneal_from
            # replay: the discovered schedule from new initial weights and batch order
            rp = sweep(_model(task, seed + 100), task.train, loss_fn=task.loss_fn,
                       lrs=[float(r.schedule(0))], optimizer=task.optimizer, epochs=epochs,
                       schedule=r.schedule, val_data=rep, metric=task.metric, seed=seed + 100,
                       batch_size=task.batch_size)  # fmt: skip
            assert rp.val_metric is not None
            per_seed[f"replay {v}"].append(float(rp.val_metric[0, -1]))
        per_seed["constant"].append(_sweep_best(task, seed, lrs, epochs, sel, rep))
        per_seed["cosine"].append(_sweep_best(task, seed, lrs, epochs, sel, rep,
                                              cosine(lr=1.0, steps=steps)))  # fmt: skip
        tail = steps - anneal_from  # the same decay as the anneal variant's
        shape = wsd(lr=1.0, steps=steps, decay_steps=tail, decay_shape="linear")
        per_seed["wsd"].append(_sweep_best(task, seed, lrs, epochs, sel, rep, shape))
    row: dict[str, Any] = {"task": name, "chose_variant": name in CHOOSE, "epochs": epochs,
                           "steps": steps, "optimizer": task.optimizer, "lr_range": [low, high],
                           "population": k, "seeds": args.seeds,
                           "higher_is_better": task.higher_is_better,
                           "metric": task.metric_name}  # fmt: skip
    for m, v in per_seed.items():
        if v:
            row[m] = {"mean": float(np.mean(v)), "std": float(np.std(v, ddof=1)), "values": v}
    row["schedules"] = schedules
    row["wall_default_s"] = float(np.median(wall)) if wall else None
    print(f"{name} ({task.optimizer}, {epochs} epochs, K={k}, {args.seeds} seeds), report-half "
          f"{task.metric_name} ({'higher' if task.higher_is_better else 'lower'} is better):",
          flush=True)  # fmt: skip
    for m in per_seed:
        if per_seed[m]:
            print(f"  {m:18s} {row[m]['mean']:.4f} ± {row[m]['std']:.4f}", flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--tasks", default=",".join(CHOOSE + HELD_OUT))
    ap.add_argument("--variants", default=None, help="comma-separated; default: all")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--population", type=int, default=8)
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "pbt.json"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    t0 = time.perf_counter()
    rows = [run_task(name, args) for name in args.tasks.split(",")]
    payload = {
        "command": "python benchmarks/pbt.py" + (" --quick" if args.quick else ""),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip()
        + f", torch {torch.__version__}, 1 thread; 2-core CPU, shared",
        "default_variant": DEFAULT,
        "choose_tasks": list(CHOOSE),
        "wall_s": time.perf_counter() - t0,
        "rows": rows,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(payload, indent=1))
    print(f"saved {args.out} ({payload['wall_s']:.0f} s)")


if __name__ == "__main__":
    main()
