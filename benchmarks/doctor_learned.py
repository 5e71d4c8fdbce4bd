"""The doctor's learned second opinion: train, report held out, ship (issue #17).

A random forest (scikit-learn) re-weighs the rules' verdict with scale-free features of the
curve (``lrkit.doctor._learned.features``). It is trained on the eye-labelled real logs of
``benchmarks/doctor_corpus/real*/`` (target: each log's eye label) and on the synthetic runs of
``benchmarks/doctor_families.py`` (target: the grid's label; the eye-check's acceptable verdicts
score them). Reported only on data the scoring model never saw:

* real logs, **leave-one-set-out**: each set (a fresh collection from other repositories) is
  scored by a forest trained on every other set plus all synthetic runs;
* synthetic runs, **leave-one-family-out**: each family is scored by a forest trained on every
  other family plus all real logs;
* ``--fresh-real`` / ``--fresh-synth``: sets and draws kept out of every fold's training: their
  figures are a first look by the forest trained on everything else;
* ``--hold-out``: real sets this script neither trains on nor scores (nor ships): collected for
  the first look of the doctor as shipped (``doctor_real.py``).

The forest that ships (``--write``) is then trained on everything and saved as NumPy-readable
arrays in ``src/lrkit/doctor/verdict_model.json.gz``; the script checks that lrkit's own
inference reproduces scikit-learn's probabilities.

    python benchmarks/doctor_learned.py --synthetic /tmp/dfam2,/tmp/dfam_held,... \
        --fresh-real real24,real25 --fresh-synth /tmp/dfam_held11 --out results.json [--write]
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from lrkit.doctor import Thresholds, read_log
from lrkit.doctor._diagnose import _ranked, diagnose_parsed, rule_verdict
from lrkit.doctor._learned import MISSING, MODEL_FILE, Forest, features, forest_dict
from lrkit.errors import LRKitError

CORPUS = Path(__file__).parent / "doctor_corpus"
MODEL_PATH = Path(__file__).parent.parent / "src" / "lrkit" / "doctor" / MODEL_FILE
#: the forest's settings (chosen leave-one-set-out / leave-one-family-out, see docs/benchmarks.md)
FOREST = {"n_estimators": 100, "min_samples_leaf": 5, "random_state": 0}
SYNTH_WEIGHT = 0.5  # a synthetic run counts half a real log in training
MARGINS = (0.0, 0.15, 0.3)


def _real_rows(sets: list[str]) -> list[dict[str, Any]]:
    rows = []
    for s in sets:
        lab = json.loads((CORPUS / s / "labels.json").read_text())["logs"]
        for key, v in lab.items():
            rows.append({"group": s, "id": key, "label": v["label"], "acc": v["acceptable"],
                         "path": CORPUS / s / v["file"]})  # fmt: skip
    return rows


def _synth_rows(dirs: list[str]) -> list[dict[str, Any]]:
    from doctor_families import relabel

    eye = json.loads((CORPUS / "synthetic_eye.json").read_text())
    checked: dict[str, Any] = {}
    for k, val in eye.items():
        if k == "runs" or k.endswith("_runs"):
            checked.update(val)
    rows = []
    for folder in dirs:
        index = relabel(json.loads((Path(folder) / "index.json").read_text()))
        for r in index["runs"]:
            acc = checked.get(r["log"].split("/")[0], {}).get("acceptable", [r["label"]])
            rows.append({**r, "group": r["family"], "id": r["log"], "acc": acc,
                         "path": Path(folder) / r["log"]})  # fmt: skip
    return rows


def _featurise(rows: list[dict[str, Any]], t: Thresholds) -> None:
    """Parse each log once; its rules' verdict and feature dict (``None``: unreadable)."""
    for r in rows:
        try:
            r["log"] = read_log(r["path"])
        except LRKitError:
            r["log"], r["f"], r["rules"] = None, None, "unreadable"
            continue
        verdict, findings, c = rule_verdict(r["log"], t)
        r["rules"] = verdict
        r["f"] = features(r["log"], c, verdict, _ranked(findings, verdict), t)


def _matrix(rows: list[dict[str, Any]], names: list[str]) -> np.ndarray:
    return np.array([[r["f"].get(k, MISSING) for k in names] for r in rows], dtype=np.float32)


def _fit(rows: list[dict[str, Any]], names: list[str]) -> Any:
    from sklearn.ensemble import RandomForestClassifier

    rows = [r for r in rows if r["f"] is not None]
    w = np.array([SYNTH_WEIGHT if "family" in r else 1.0 for r in rows])
    m = RandomForestClassifier(n_jobs=2, **FOREST)
    return m.fit(_matrix(rows, names), [r["label"] for r in rows], sample_weight=w)


def _diagnose(rows: list[dict[str, Any]], model: Forest | None, margin: float) -> list[Any]:
    t = Thresholds(learned_margin=margin)
    return [diagnose_parsed(r["log"], t, model) if r["log"] is not None else None for r in rows]


def _verdicts(ds: list[Any]) -> list[str]:
    return [d.verdict if d is not None else "unreadable" for d in ds]


def _synth_scores(rows: list[dict[str, Any]], ds: list[Any]) -> dict[str, Any]:
    import doctor_accuracy as da

    v = _verdicts(ds)
    sc = da._score(rows, v)
    lr_cases = [i for i, r in enumerate(rows) if r["label"] in da.LR_LABELS]
    toward = sum(ds[i] is not None and da._toward(rows[i], ds[i]) for i in lr_cases)
    eye = sum(x in r["acc"] for x, r in zip(v, rows))
    return {"n": len(rows), "macro_f1": round(sc["macro_f1"], 3), "toward": toward,
            "lr_cases": len(lr_cases), "eye": eye}  # fmt: skip


def _real_scores(rows: list[dict[str, Any]], ds: list[Any]) -> dict[str, Any]:
    v = _verdicts(ds)
    return {"n": len(rows), "readable": sum(d is not None for d in ds),
            "acceptable": sum(x in r["acc"] for x, r in zip(v, rows))}  # fmt: skip


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--synthetic", required=True, help="comma-separated synthetic corpus folders")
    ap.add_argument("--fresh-real", default="", help="real sets kept out of all training")
    ap.add_argument("--fresh-synth", default="", help="synthetic folders kept out of training")
    ap.add_argument("--hold-out", default="", help="real sets neither trained on nor scored "
                    "(kept for the shipped doctor's first look)")  # fmt: skip
    ap.add_argument("--out", required=True)
    ap.add_argument("--write", action="store_true", help="train on everything and ship it")
    a = ap.parse_args(argv)
    t0 = time.time()
    fresh_real = [s for s in a.fresh_real.split(",") if s]
    all_sets = sorted(p.parent.name for p in CORPUS.glob("real*/labels.json"))
    held = set(a.hold_out.split(",")) - {""}
    all_sets = [s for s in all_sets if s not in held]
    seen_sets = [s for s in all_sets if s not in fresh_real]
    rules_t = Thresholds(learned_margin=0.0)
    real = _real_rows(seen_sets)
    synth = _synth_rows([d for d in a.synthetic.split(",") if d])
    fr = _real_rows(fresh_real)
    fs = _synth_rows([d for d in a.fresh_synth.split(",") if d])
    for rows in (real, synth, fr, fs):
        _featurise(rows, rules_t)
    names = sorted({k for r in real + synth if r["f"] for k in r["f"]})
    print(f"{len(real)} real logs in {len(seen_sets)} sets, {len(synth)} synthetic runs; "
          f"{len(names)} features ({time.time() - t0:.0f} s)", flush=True)  # fmt: skip

    def forest_of(train: list[dict[str, Any]]) -> Forest:
        return Forest.from_dict(forest_dict(_fit(train, names), names, {}))

    out: dict[str, Any] = {"forest": FOREST, "synth_weight": SYNTH_WEIGHT, "features": names}
    # Real logs, leave one set out.
    by_set: dict[float, dict[str, Any]] = {m: {} for m in MARGINS}
    rules_by_set = {}
    for s in seen_sets:
        test = [r for r in real if r["group"] == s]
        model = forest_of([r for r in real if r["group"] != s] + synth)
        rules_by_set[s] = _real_scores(test, _diagnose(test, None, 0.0))
        for m in MARGINS:
            by_set[m][s] = _real_scores(test, _diagnose(test, model, m))
    out["real_loso"] = {"rules": rules_by_set, **{f"margin_{m}": by_set[m] for m in MARGINS}}
    # Synthetic runs, leave one family out.
    fams = sorted({r["group"] for r in synth})
    pooled: dict[float, list[Any]] = {m: [None] * len(synth) for m in MARGINS}
    for fam in fams:
        idx = [i for i, r in enumerate(synth) if r["group"] == fam]
        model = forest_of(real + [r for r in synth if r["group"] != fam])
        for m in MARGINS:
            ds = _diagnose([synth[i] for i in idx], model, m)
            for i, d in zip(idx, ds):
                pooled[m][i] = d
    out["synth_lofo"] = {"rules": _synth_scores(synth, _diagnose(synth, None, 0.0)),
                         **{f"margin_{m}": _synth_scores(synth, pooled[m]) for m in MARGINS}}  # fmt: skip
    # Fresh: the forest trained on everything seen.
    model = forest_of(real + synth)
    out["fresh"] = {}
    if fr:
        out["fresh"]["real"] = {"rules": _real_scores(fr, _diagnose(fr, None, 0.0)), **{
            f"margin_{m}": _real_scores(fr, _diagnose(fr, model, m)) for m in MARGINS}}  # fmt: skip
    if fs:
        out["fresh"]["synth"] = {"rules": _synth_scores(fs, _diagnose(fs, None, 0.0)), **{
            f"margin_{m}": _synth_scores(fs, _diagnose(fs, model, m)) for m in MARGINS}}  # fmt: skip
    print(f"real, leave one set out ({len(real)} logs): rules "
          f"{sum(v['acceptable'] for v in rules_by_set.values())}", end="")  # fmt: skip
    for m in MARGINS:
        print(f" | margin {m}: {sum(v['acceptable'] for v in by_set[m].values())}", end="")
    print(f"\nsynthetic, leave one family out: {out['synth_lofo']}")
    print(f"fresh (first look of the forest trained on the rest): {out['fresh']}")
    if a.write:
        everything = [*real, *synth, *fr, *fs]
        fitted = _fit(everything, names)
        used = [r for r in everything if r["f"] is not None]
        meta = {"n_train": len(used), "real_sets": all_sets, "forest": FOREST,
                "synth_weight": SYNTH_WEIGHT, "sklearn": __import__("sklearn").__version__}  # fmt: skip
        d = forest_dict(fitted, names, meta)
        forest = Forest.from_dict(d)
        x = _matrix(used, names)
        want = fitted.predict_proba(x)
        got = np.array([[forest.proba(r["f"])[c] for c in d["classes"]] for r in used])
        err = float(np.abs(want - got).max())
        assert err < 1e-3, f"lrkit's inference differs from scikit-learn's by {err}"
        MODEL_PATH.write_bytes(gzip.compress(json.dumps(d, separators=(",", ":")).encode(), 9))
        imp = sorted(zip(names, fitted.feature_importances_), key=lambda kv: -kv[1])
        out["shipped"] = {**meta, "max_abs_proba_diff": err, "bytes": MODEL_PATH.stat().st_size,
                          "importances": {k: round(float(v), 4) for k, v in imp}}  # fmt: skip
        print("most used features:", ", ".join(f"{k} {v:.3f}" for k, v in imp[:12]))
        print(
            f"wrote {MODEL_PATH} ({MODEL_PATH.stat().st_size} bytes; max |p - sklearn| {err:.1e})"
        )
    out["seconds"] = round(time.time() - t0, 1)
    Path(a.out).write_text(json.dumps(out, indent=1))
    return out


if __name__ == "__main__":
    main()
