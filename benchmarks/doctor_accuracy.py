"""How often is ``lrkit doctor`` right? A labelled corpus from real training runs.

For each (task, optimizer) a constant-LR grid (2 seeds) finds the grid-best LR (lowest
best-epoch validation loss). Then runs are made *by recipe*, the label fixed by the recipe:

    healthy      best LR, cosine decay to 0
    lr_too_low   best / 100 and best / 1000, constant
    lr_too_high  best x 30 and best x 100, constant
    diverged     best x 1000 and x 10000, constant
    overfitting  best LR, constant, 10% of the training set, 5x the epochs
    plateau      best x 3 and best x 10, constant, half the epochs (stopped while at a floor)

and each label is then checked against the run by a criterion that does not use the doctor
(e.g. ``lr_too_high`` runs must stay finite yet end clearly worse than the best run; ``plateau``
runs must gain >= 10% training loss from a 10x LR decay applied to their final state, measured
on a copy: "decay would help"). Runs that fail their check are dropped and counted.

Each run is logged per step (minibatch loss, LR) plus per-epoch validation loss into a
Lightning-CSVLogger-shaped sparse ``metrics.csv`` and diagnosed from that file.

Thresholds were chosen by looking at the ``digits-mlp`` and ``mnist1d-mlp`` runs (tuning split,
seeds 100-102). The ``mnist1d-cnn`` runs are held out (seeds 200-202 by default). Caveat: an
earlier version of this corpus had mnist1d-cnn runs with seeds 100-102, whose misses were seen
before the "quiet minibatches" (lr_too_low) and noise-floor (plateau) conditions were added, and
the held-out runs with seeds 200-202 were looked at before the quiet-stall plateau condition was
added (session 2), so the reported held-out split uses fresh seeds (``--seeds 5 --heldout-seed
300``) never looked at before the numbers were taken. Reported: per-verdict precision/recall/F1, macro-F1 (over the verdicts in the
corpus), and for runs whose LR is at fault, how often the prescribed LR is closer (in log
space) to the grid-best LR than the logged LR.

    python benchmarks/doctor_accuracy.py            # ~5-10 min on 2 CPU cores
    python benchmarks/doctor_accuracy.py --quick    # 1 seed, smaller grid
    python benchmarks/doctor_accuracy.py --keep-logs DIR --rediagnose OLD.json  # doctor only
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import os
import platform
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np

TUNE_TASKS = ["digits-mlp", "mnist1d-mlp"]
HELDOUT_TASKS = ["mnist1d-cnn"]
OPTIMIZERS = ["adam", "sgd_momentum"]
GRID = [10.0**e for e in np.arange(-5.0, 0.51, 0.5)]
RECIPES: dict[str, list[tuple[float, str, float, float]]] = {
    # label: [(lr factor, schedule, epoch factor, train fraction)]
    "healthy": [(1.0, "cosine", 1.0, 1.0)],
    "lr_too_low": [(1e-2, "constant", 1.0, 1.0), (1e-3, "constant", 1.0, 1.0)],
    "lr_too_high": [(30.0, "constant", 1.0, 1.0), (100.0, "constant", 1.0, 1.0)],
    "diverged": [(1e3, "constant", 1.0, 1.0), (1e4, "constant", 1.0, 1.0)],
    "overfitting": [(1.0, "constant", 5.0, 0.1)],
    "plateau": [(3.0, "constant", 0.5, 1.0), (10.0, "constant", 0.5, 1.0)],
}
LR_LABELS = ("lr_too_low", "lr_too_high", "diverged")

_TASKS: dict[str, Any] = {}


def _task(name: str) -> Any:
    from lrkit.tasks import get_task

    if name not in _TASKS:
        _TASKS[name] = get_task(name)
    return _TASKS[name]


def train(
    task_name: str,
    opt_name: str,
    lr: float,
    seed: int,
    *,
    schedule: str = "constant",
    epoch_factor: float = 1.0,
    fraction: float = 1.0,
    decay_check: bool = False,
) -> dict[str, Any]:
    """Train with per-step logging; stop after the epoch in which the loss went non-finite."""
    import torch

    from lrkit.tasks import make_optimizer

    torch.set_num_threads(1)
    task = _task(task_name)
    torch.manual_seed(seed)
    model = task.make_model()
    opt = make_optimizer(opt_name, model.parameters(), lr)
    x, y = task.train
    if fraction < 1.0:
        keep = torch.randperm(len(x), generator=torch.Generator().manual_seed(1000 + seed))
        keep = keep[: int(len(x) * fraction)]
        x, y = x[keep], y[keep]
    xv, yv = task.val
    bs, n = task.batch_size, len(x)
    epochs = max(1, round(task.epochs * epoch_factor))
    total = epochs * math.ceil(n / bs)
    gen = torch.Generator().manual_seed(seed)
    steps: list[tuple[int, int, float, float]] = []
    vals: list[tuple[int, int, float]] = []
    k = 0
    for epoch in range(epochs):
        perm = torch.randperm(n, generator=gen)
        model.train()
        for i in range(0, n, bs):
            idx = perm[i : i + bs]
            lr_k = lr * 0.5 * (1 + math.cos(math.pi * k / total)) if schedule == "cosine" else lr
            for g in opt.param_groups:
                g["lr"] = lr_k
            loss = task.loss_fn(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            steps.append((k, epoch, float(loss.item()), float(lr_k)))
            k += 1
        model.eval()
        with torch.no_grad():
            vals.append((k - 1, epoch, float(task.loss_fn(model(xv), yv).item())))
        if not all(math.isfinite(s[2]) for s in steps[-(n // bs) :]):
            break
    out: dict[str, Any] = {"steps": steps, "vals": vals, "epochs": epochs}
    if decay_check and all(math.isfinite(s[2]) for s in steps):
        out["decay_gain"] = _decay_gain(task, model, opt, x, y, lr, seed)
    return out


def _decay_gain(task: Any, model: Any, opt: Any, x: Any, y: Any, lr: float, seed: int) -> float:
    """Relative drop of the full training loss after one more epoch at lr/10 vs at lr."""
    import torch

    result = []
    for factor in (1.0, 0.1):
        m, o = copy.deepcopy((model, opt))  # one deepcopy: o keeps pointing at m's params
        for g in o.param_groups:
            g["lr"] = lr * factor
        gen = torch.Generator().manual_seed(99 + seed)
        perm = torch.randperm(len(x), generator=gen)
        m.train()
        for i in range(0, len(x), task.batch_size):
            idx = perm[i : i + task.batch_size]
            loss = task.loss_fn(m(x[idx]), y[idx])
            o.zero_grad()
            loss.backward()
            o.step()
        m.eval()
        with torch.no_grad():
            result.append(float(task.loss_fn(m(x), y).item()))
    return 1.0 - result[1] / result[0]


def write_lightning_csv(path: Path, run: dict[str, Any]) -> None:
    """Lightning 2.6 CSVLogger shape: sorted header, sparse rows, empty cells, raw nan."""
    header = ["epoch", "lr-Adam", "step", "train_loss_step", "val_loss"]
    lines = [",".join(header)]
    vals = {s: (e, v) for s, e, v in run["vals"]}
    for step, epoch, loss, lr in run["steps"]:
        lines.append(f",{lr!r},{step},,")
        lines.append(f"{epoch},,{step},{loss!r},")
        if step in vals:
            e, v = vals[step]
            lines.append(f"{e},,{step},,{v!r}")
    path.write_text("\n".join(lines) + "\n")


def check_label(label: str, run: dict[str, Any], best_val: float) -> bool:
    """Is the recipe's label true of this run? (independent of the doctor's rules)"""
    train = np.array([s[2] for s in run["steps"]])
    val = np.array([v[2] for v in run["vals"]])
    finite = bool(np.isfinite(train).all() and np.isfinite(val).all())
    if label == "diverged":
        return not finite or float(np.median(train[-10:])) > 2 * float(np.median(train[:3]))
    if not finite:
        return False
    vmin, vend = float(val.min()), float(val[-1])
    t0, tend = float(np.median(train[:3])), float(np.median(train[-len(train) // 10 :]))
    if label == "healthy":
        return vend <= 1.1 * vmin and tend <= 0.5 * t0 and vmin <= 1.25 * best_val
    if label == "lr_too_low":
        return vmin >= 1.25 * best_val
    if label == "lr_too_high":  # clearly worse than the best, yet neither NaN nor exploding
        return vmin >= 1.25 * best_val and tend <= 2 * t0
    if label == "overfitting":
        k = int(np.argmin(val))
        return vend >= 1.25 * vmin and k <= 0.7 * len(val)
    if label == "plateau":  # decay helps, and validation does not (yet) overfit
        return run.get("decay_gain", 0.0) >= 0.1 and vend <= 1.1 * vmin
    raise AssertionError(label)


def _job(args: tuple[Any, ...]) -> tuple[tuple[Any, ...], dict[str, Any]]:
    task, opt, lr, seed, kw = args
    return args, train(task, opt, lr, seed, **kw)


def _best_lr(runs: list[tuple[tuple[Any, ...], dict[str, Any]]]) -> dict[tuple[str, str], Any]:
    scores: dict[tuple[str, str, float], list[float]] = {}
    for (task, opt, lr, _, _), r in runs:
        v = np.array([x[2] for x in r["vals"]])
        score = float(np.nanmin(v)) if np.isfinite(v).any() else math.inf
        scores.setdefault((task, opt, lr), []).append(score)
    best: dict[tuple[str, str], Any] = {}
    for (task, opt, lr), s in scores.items():
        m = float(np.mean(s))
        if (task, opt) not in best or m < best[(task, opt)][1]:
            best[(task, opt)] = (lr, m)
    return best


def prf(truth: list[str], pred: list[str], labels: list[str]) -> dict[str, Any]:
    per: dict[str, dict[str, float]] = {}
    for lab in labels:
        tp = sum(t == lab and p == lab for t, p in zip(truth, pred))
        fp = sum(t != lab and p == lab for t, p in zip(truth, pred))
        fn = sum(t == lab and p != lab for t, p in zip(truth, pred))
        prec = tp / (tp + fp) if tp + fp else 0.0
        rec = tp / (tp + fn) if tp + fn else 0.0
        f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
        per[lab] = {"precision": prec, "recall": rec, "f1": f1, "support": tp + fn}
    macro = float(np.mean([per[lab]["f1"] for lab in labels])) if labels else 0.0
    acc = float(np.mean([t == p for t, p in zip(truth, pred)])) if truth else 0.0
    return {"per_verdict": per, "macro_f1": macro, "accuracy": acc, "n": len(truth)}


def _diagnose_record(rec: dict[str, Any]) -> dict[str, Any]:
    from lrkit.doctor import diagnose

    d = diagnose(rec["log"])
    rec = {**rec, "verdict": d.verdict, "prescribed_lr": d.prescription.lr}
    rec.pop("moves_toward_best", None)
    if rec["label"] in LR_LABELS:
        p, b, lr = d.prescription.lr, rec["best_lr"], rec["lr"]
        rec["moves_toward_best"] = bool(
            p is not None and abs(math.log(p / b)) < abs(math.log(lr / b))
        )
    return rec


def summarise(records: list[dict[str, Any]], result: dict[str, Any]) -> dict[str, Any]:
    for split in ("tune", "heldout", "all"):
        rs = [r for r in records if split == "all" or r["split"] == split]
        truth, pred = [r["label"] for r in rs], [r["verdict"] for r in rs]
        present = sorted(set(truth))
        s = prf(truth, pred, present)
        # Stricter: verdicts the doctor gave that no run in this split has count with F1 = 0.
        s["macro_f1_all_verdicts"] = prf(truth, pred, sorted(set(truth) | set(pred)))["macro_f1"]
        lr_cases = [r for r in rs if "moves_toward_best" in r]
        s["lr_prescription_toward_best"] = (
            float(np.mean([r["moves_toward_best"] for r in lr_cases])) if lr_cases else None
        )
        s["n_lr_cases"] = len(lr_cases)
        s["confusion"] = {
            t: dict(Counter(p for tt, p in zip(truth, pred) if tt == t)) for t in present
        }
        result[split] = s
        print(f"[{split}] n={s['n']} macro-F1={s['macro_f1']:.3f} "
              f"(over all predicted verdicts {s['macro_f1_all_verdicts']:.3f}) "
              f"accuracy={s['accuracy']:.3f} LR toward best={s['lr_prescription_toward_best']}")  # fmt: skip
        for lab, m in s["per_verdict"].items():
            print(f"    {lab:12s} P={m['precision']:.2f} R={m['recall']:.2f} "
                  f"F1={m['f1']:.2f} n={m['support']}  -> {s['confusion'][lab]}")  # fmt: skip
    print("dropped by label check:", result["dropped_by_label_check"])
    result["runs"] = records
    return result


# ----------------------------------------------------------------------------- transfer (#17)

#: The thresholds leave-one-family-out may choose among (every other rule is fixed).
LOFO_GRID: dict[str, list[Any]] = {
    "quiet_progress": [0.0, 0.3],
    "plateau_drop_noise": [2.0, 4.0],
    # session 6: "ends above its start" (a rise of 20% or 5%) and the validation loss's
    # jitter against its gain (1e9 = off); session 6's rebound {0.3, 0.5} and weak_ratio
    # {0.5, 0.3, 0.2} were chosen at their defaults in every fold over 14 families and are
    # fixed now (the grid's size is the benchmark's run time)
    "worse_than_start": [0.2, 0.05],
    "val_jitter": [1e9, 0.3, 0.2],
    # session 7: the slow, significant fall with little progress (0 = off)
    "slow_progress": [0.0, 0.35],
}


#: Stands in for the diagnosis of a log the doctor cannot read (a miss, with no prescription).
_UNREADABLE = SimpleNamespace(verdict="unreadable",
                              prescription=SimpleNamespace(lr=None, lr_factor=None))  # fmt: skip


def _toward(rec: dict[str, Any], d: Any) -> bool:
    p = d.prescription
    new = p.lr if p.lr is not None else (rec["lr"] * p.lr_factor if p.lr_factor else None)
    b, lr = rec["best_lr"], rec["lr"]
    return bool(new is not None and abs(math.log(new / b)) < abs(math.log(lr / b)))


def _score(recs: list[dict[str, Any]], verdicts: list[str]) -> dict[str, Any]:
    truth = [r["label"] for r in recs]
    s = prf(truth, verdicts, sorted(set(truth)))
    s["confusion"] = {
        t: dict(Counter(p for tt, p in zip(truth, verdicts) if tt == t)) for t in sorted(set(truth))
    }
    return s


def transfer(families_dir: str, out: str) -> dict[str, Any]:
    """Default rules on every family, leave-one-family-out threshold choice, real logs."""
    import itertools

    from lrkit.doctor import Thresholds, diagnose, read_log

    sys.path.insert(0, str(Path(__file__).parent))
    from doctor_families import relabel

    # Several corpus folders (comma-separated) are pooled: their family names never clash.
    recs, best, dropped = [], {}, 0
    for folder in families_dir.split(","):
        root = Path(folder)
        index = relabel(json.loads((root / "index.json").read_text()))
        recs += [{**r, "root": str(root)} for r in index["runs"]]
        best.update(index["best"])
        dropped += index["dropped"]
    from lrkit.errors import LRKitError

    logs: list[Any] = []
    for r in recs:
        try:
            logs.append(read_log(Path(r["root"]) / r["log"]))
        except LRKitError as exc:  # scored as the verdict "unreadable" (a miss)
            print(f"unreadable: {r['log']}: {exc}")
            logs.append(None)
    families = sorted({r["family"] for r in recs}, key=[r["family"] for r in recs].index)

    def run(t: Any) -> list[Any]:
        return [_UNREADABLE if log is None else diagnose(log, thresholds=t) for log in logs]

    # The rules alone: the learned second opinion was trained on these families, so its figures
    # here would be in-sample; benchmarks/doctor_learned.py reports it leave-one-family-out.
    default = run(Thresholds(learned_margin=0.0))
    res: dict[str, Any] = {"families": families, "n": len(recs), "grid_best": best,
                           "dropped_by_labelling": dropped}  # fmt: skip
    verdicts = [d.verdict for d in default]
    res["default_rules"] = _score(recs, verdicts)
    lr_cases = [i for i, r in enumerate(recs) if r["label"] in LR_LABELS]
    res["default_rules"]["toward_best"] = [sum(_toward(recs[i], default[i]) for i in lr_cases),
                                           len(lr_cases)]  # fmt: skip
    res["default_rules"]["per_family"] = {
        f: _score([r for r in recs if r["family"] == f],
                  [v for v, r in zip(verdicts, recs) if r["family"] == f])["macro_f1"]
        for f in families
    }  # fmt: skip

    # Leave one family out: choose the thresholds on the other families, report on this one.
    keys = list(LOFO_GRID)
    combos = [dict(zip(keys, vals)) for vals in itertools.product(*LOFO_GRID.values())]
    per_combo = [run(Thresholds(**c, learned_margin=0.0)) for c in combos]
    pooled: list[Any] = [None] * len(recs)
    chosen = {}
    for f in families:
        train = [i for i, r in enumerate(recs) if r["family"] != f]
        test = [i for i, r in enumerate(recs) if r["family"] == f]
        scores = [_score([recs[i] for i in train], [ds[i].verdict for i in train])["macro_f1"]
                  for ds in per_combo]  # fmt: skip
        k = int(np.argmax(scores))
        chosen[f] = combos[k]
        for i in test:
            pooled[i] = per_combo[k][i]
    res["lofo"] = _score(recs, [d.verdict for d in pooled])
    res["lofo"]["toward_best"] = [sum(_toward(recs[i], pooled[i]) for i in lr_cases),
                                  len(lr_cases)]  # fmt: skip
    res["lofo"]["chosen_thresholds"] = chosen
    res["runs"] = [
        {k: r[k] for k in ("family", "label", "factor", "schedule", "format", "log")}
        | {"verdict": d.verdict, "lofo_verdict": p.verdict}
        for r, d, p in zip(recs, default, pooled)
    ]
    # The eye check (doctor_corpus/synthetic_eye.json): verdicts an engineer could defend from
    # the curve alone; a run it does not list accepts only the grid's label.
    eye = json.loads((Path(__file__).parent / "doctor_corpus" / "synthetic_eye.json").read_text())
    # run folders name their family, so the three lists never clash
    checked = {**eye["runs"], **eye.get("heldout_runs", {}), **eye.get("heldout2_runs", {}),
               **eye.get("heldout3_runs", {}), **eye.get("heldout4_runs", {}),
               **eye.get("heldout5_runs", {}), **eye.get("heldout6_runs", {}),
               **eye.get("heldout7_runs", {}), **eye.get("heldout8_runs", {}),
               **eye.get("heldout9_runs", {}), **eye.get("heldout10_runs", {}),
               **eye.get("heldout11_runs", {}), **eye.get("heldout12_runs", {}),
               **eye.get("heldout13_runs", {})}  # fmt: skip
    for row in res["runs"]:
        row["eye_acceptable"] = checked.get(row["log"].split("/")[0], {}).get(
            "acceptable", [row["label"]]
        )
    for name, key in (("default_rules", "verdict"), ("lofo", "lofo_verdict")):
        res[name]["eye_acceptable"] = [
            sum(row[key] in row["eye_acceptable"] for row in res["runs"]),
            len(res["runs"]),
        ]

    from doctor_real import evaluate

    real = evaluate(verbose=False, rules_only=True)
    res["real_logs"] = {k: real[k] for k in ("n", "readable", "acceptable", "confusion")}
    res["real_logs"]["rows"] = [
        {k: row.get(k) for k in ("log", "repo", "path", "commit", "label", "verdict", "acceptable")}
        for row in real["rows"]
    ]
    real2 = evaluate(
        Path(__file__).parent / "doctor_corpus" / "real2", verbose=False, rules_only=True
    )
    res["real2_logs"] = {k: real2[k] for k in ("n", "readable", "acceptable", "confusion")}
    real3 = evaluate(
        Path(__file__).parent / "doctor_corpus" / "real3", verbose=False, rules_only=True
    )
    res["real3_logs"] = {k: real3[k] for k in ("n", "readable", "acceptable", "confusion")}
    real4 = evaluate(
        Path(__file__).parent / "doctor_corpus" / "real4", verbose=False, rules_only=True
    )
    res["real4_logs"] = {k: real4[k] for k in ("n", "readable", "acceptable", "confusion")}
    for name in ("default_rules", "lofo"):
        s = res[name]
        print(f"[{name}] n={s['n']} macro-F1={s['macro_f1']:.3f} accuracy={s['accuracy']:.3f} "
              f"toward best={s['toward_best'][0]}/{s['toward_best'][1]} "
              f"eye-acceptable={s['eye_acceptable'][0]}/{s['eye_acceptable'][1]}")  # fmt: skip
        for lab, m in s["per_verdict"].items():
            print(f"    {lab:12s} P={m['precision']:.2f} R={m['recall']:.2f} n={m['support']}"
                  f"  -> {s['confusion'][lab]}")  # fmt: skip
    print("per family (default rules):", {f: round(v, 2) for f, v in
                                          res["default_rules"]["per_family"].items()})  # fmt: skip
    for name, r in (("real", real), ("real2", real2), ("real3", real3), ("real4", real4)):
        print(f"{name} logs: readable {r['readable']}/{r['n']}, acceptable "
              f"{r['acceptable']}/{r['n']}")  # fmt: skip
    res["machine"] = (
        f"{platform.machine()}, {os.cpu_count()} cores (shared), {platform.python_version()}"
    )
    Path(out).write_text(json.dumps(res, indent=2))
    print(f"wrote {out}")
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1 seed and a coarser grid")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--out", default="benchmarks/results/doctor_accuracy.json")
    ap.add_argument("--heldout-seed", type=int, default=200, help="first seed of held-out runs")
    ap.add_argument("--keep-logs", default=None, help="directory to keep the corpus logs in")
    ap.add_argument("--families", default=None, metavar="DIR",
                    help="evaluate the doctor on a corpus from doctor_families.py (issue #17; "
                         "several folders, comma-separated, are pooled): default rules, "
                         "leave-one-family-out, and the real logs")  # fmt: skip
    ap.add_argument("--rediagnose", default=None, metavar="JSON",
                    help="re-run only the doctor on the kept logs of an earlier result")  # fmt: skip
    args = ap.parse_args()

    if args.families:
        out = args.out
        if out == ap.get_default("out"):
            out = "benchmarks/results/doctor_transfer.json"
        transfer(args.families, out)
        return

    if args.rediagnose:
        result = json.loads(Path(args.rediagnose).read_text())
        records = [_diagnose_record(r) for r in result.pop("runs")]
        result["command"] += f" (re-diagnosed with --rediagnose {args.rediagnose})"
        out = summarise(records, result)
        Path(args.out).write_text(json.dumps(out, indent=2))
        print(f"wrote {args.out}")
        return

    seeds = list(range(1 if args.quick else args.seeds))
    grid = GRID[::2] if args.quick else GRID
    tasks = TUNE_TASKS + HELDOUT_TASKS
    t_start = time.time()
    with ProcessPoolExecutor(args.workers) as pool:
        grid_jobs = [(t, o, lr, s, {}) for t in tasks for o in OPTIMIZERS for lr in grid
                     for s in seeds[:2]]  # fmt: skip
        best = _best_lr(list(pool.map(_job, grid_jobs)))
        print("grid-best LR:", {f"{k[0]}/{k[1]}": f"{v[0]:.3g}" for k, v in best.items()})
        corpus_jobs, labels = [], []
        for t in tasks:
            for o in OPTIMIZERS:
                b = best[(t, o)][0]
                for label, recipes in RECIPES.items():
                    for factor, sched, ef, frac in recipes:
                        for s in seeds:
                            kw = {"schedule": sched, "epoch_factor": ef, "fraction": frac,
                                  "decay_check": label == "plateau"}  # fmt: skip
                            base = 100 if t in TUNE_TASKS else args.heldout_seed
                            corpus_jobs.append((t, o, b * factor, base + s, kw))
                            labels.append((label, factor))
        corpus = list(pool.map(_job, corpus_jobs))
    t_train = time.time() - t_start

    logdir = Path(args.keep_logs or tempfile.mkdtemp(prefix="lrkit-doctor-"))
    logdir.mkdir(parents=True, exist_ok=True)
    records, dropped = [], Counter()
    for i, ((job, run), (label, factor)) in enumerate(zip(corpus, labels)):
        task, opt, lr, seed, _ = job
        b, best_val = best[(task, opt)]
        if not check_label(label, run, best_val):
            dropped[label] += 1
            continue
        path = logdir / f"{i:03d}_{task}_{opt}_{label}_x{factor:g}_s{seed}" / "metrics.csv"
        path.parent.mkdir(exist_ok=True)
        write_lightning_csv(path, run)
        rec = {
            "task": task, "optimizer": opt, "label": label, "lr_factor": factor, "lr": lr,
            "best_lr": b, "seed": seed, "split": "tune" if task in TUNE_TASKS else "heldout",
            "log": str(path),
        }  # fmt: skip
        records.append(_diagnose_record(rec))

    result: dict[str, Any] = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "command": "python " + " ".join(sys.argv),
        "train_seconds": round(t_train, 1),
        "grid_best_lr": {f"{k[0]}/{k[1]}": v[0] for k, v in best.items()},
        "grid_best_val_loss": {f"{k[0]}/{k[1]}": v[1] for k, v in best.items()},
        "dropped_by_label_check": dict(dropped),
    }
    out = summarise(records, result)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2))
    print(f"wrote {args.out}; logs in {logdir}")


if __name__ == "__main__":
    main()
