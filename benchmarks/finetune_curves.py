"""Learning curves of whole constant-LR fine-tunings, to design the fine-tuning finder's trials.

For each seen task of ``benchmarks/finetune_tasks.py``, each seed and each LR of a half-decade
grid, trains the task's whole fine-tuning (its epochs, AdamW, constant LR) from the pretrained
weights and records, at checkpoints (10, 20, 30, 40, 60, 80, 120, 160, 200, 240, ... updates and
the end), the validation loss on the seeded 512-sample subset the finder's trials score on and
the accuracy on the whole validation split. A trial of ``n`` updates at an LR is the first ``n``
updates of such a run (same weights, optimizer, batches), so any trial length and candidate set
can be replayed against the run's own final accuracy; ``--analyse`` scores rules that way.

    python benchmarks/finetune_curves.py --collect lm_licence cnn_newhead ... --out F.json
    python benchmarks/finetune_curves.py --analyse F.json

Only ever run on tasks already seen (the rule is chosen on them).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

LRS = tuple(float(10.0**e) for e in np.arange(-5.5, -1.4, 0.5))
SEEDS = (0, 1, 2)
CHECKPOINTS = (10, 20, 30, 40, 60, 80, 120, 160, 200, 240, 280, 320, 400)
VAL_CAP = 512


def _evaluate(task: Any, model: Any, sub: Any) -> tuple[float, float]:
    import torch

    model.eval()
    with torch.no_grad():
        xs, ys = sub
        losses = [
            float(task.loss_fn(model(xs[i : i + 256]), ys[i : i + 256])) * len(xs[i : i + 256])
            for i in range(0, len(xs), 256)
        ]
        x, y = task.val
        logits = torch.cat([model(x[i : i + 512]) for i in range(0, len(x), 512)])
        acc = task.metric(logits, y)
    model.train()
    return sum(losses) / len(xs), float(acc)


def run(task: Any, lr: float, seed: int) -> dict[str, Any]:
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    from lrkit.tasks import make_optimizer

    x, y = task.val
    if len(x) > VAL_CAP:
        idx = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed))[:VAL_CAP]
        sub = (x[idx], y[idx])
    else:
        sub = (x, y)
    torch.manual_seed(seed)
    model = task.make_model()
    opt = make_optimizer("adamw", model.parameters(), lr)
    gen = torch.Generator().manual_seed(seed)
    loader = DataLoader(
        TensorDataset(*task.train), batch_size=task.batch_size, shuffle=True, generator=gen
    )
    total = task.epochs * len(loader)
    marks = sorted({c for c in CHECKPOINTS if c < total} | {total})
    rec: dict[str, Any] = {"steps": [], "val": [], "acc": [], "train": []}
    v0, a0 = _evaluate(task, model, sub)
    rec["start_val"], rec["start_acc"] = v0, a0
    step, window = 0, []
    model.train()
    for _ in range(task.epochs):
        for xb, yb in loader:
            opt.zero_grad(set_to_none=True)
            loss = task.loss_fn(model(xb), yb)
            lv = float(loss.detach())
            if not np.isfinite(lv):
                rec["diverged_at"] = step + 1
                return rec
            loss.backward()
            opt.step()
            step += 1
            window.append(lv)
            if step in marks:
                v, a = _evaluate(task, model, sub)
                rec["steps"].append(step)
                rec["val"].append(v)
                rec["acc"].append(a)
                rec["train"].append(float(np.mean(window)))
                window = []
    return rec


def collect(tasks: list[str], out: Path) -> None:
    import finetune_tasks
    import torch

    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    data = json.loads(out.read_text()) if out.exists() else {}
    for name in tasks:
        task = getattr(finetune_tasks, name)()
        for seed in SEEDS:
            for lr in LRS:
                key = f"{name}|{seed}|{lr:.4g}"
                if key in data:
                    continue
                t0 = time.perf_counter()
                data[key] = run(task, lr, seed)
                data[key]["wall"] = time.perf_counter() - t0
                out.write_text(json.dumps(data))
            print(name, seed, f"{time.perf_counter() - t0:.1f}s/run", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--collect", nargs="+")
    ap.add_argument("--out", type=Path, default=HERE / "results" / "finetune_curves.json")
    args = ap.parse_args()
    if args.collect:
        collect(args.collect, args.out)


if __name__ == "__main__":
    main()
