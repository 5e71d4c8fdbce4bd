"""Would a learned classifier beat the doctor's rules? (issue #17)

A scikit-learn random forest on the scale-free features of ``doctor_features.py``, trained on
the synthetic family corpus (``doctor_families.py``) and scored two ways:

- leave-one-family-out on the synthetic corpus (fit on 7 families, predict the 8th), against
  the doctor's default rules on the same runs;
- transfer to the real logs (``doctor_corpus/real`` and, when present, the fresh
  ``doctor_corpus/real2``): fit on the whole synthetic corpus, predict every real log, count
  the verdicts the eye labels accept.

Variants: the forest alone; a hybrid that keeps the rules' ``diverged`` / ``overfitting`` /
``unstable`` / ``inconclusive`` verdicts and lets the forest choose among healthy, too high,
too low and plateau; and that hybrid gated on the forest's confidence (it overrides the rules
only when its top class has probability >= the gate).

    python benchmarks/doctor_classifier.py --families DIR

prints the figures and writes ``benchmarks/results/doctor_classifier.json``. Needs
scikit-learn (``pip install scikit-learn``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))

KEEP = ("diverged", "overfitting", "unstable", "inconclusive")  # the rules' verdicts a hybrid keeps
CURVE = ("healthy", "lr_too_high", "lr_too_low", "plateau")  # what the forest chooses among
GATES = (0.0, 0.5, 0.6, 0.65, 0.7, 0.8)


def _forest() -> Any:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import make_pipeline

    return make_pipeline(
        SimpleImputer(strategy="constant", fill_value=-9.0),
        RandomForestClassifier(
            300, class_weight="balanced", min_samples_leaf=2, random_state=0, n_jobs=1
        ),
    )


def _matrix(feats: list[dict[str, float]]) -> np.ndarray:
    from doctor_features import FEATURES

    return np.array([[f[k] for k in FEATURES] for f in feats], dtype=float)


def _proba(model: Any, x: np.ndarray) -> np.ndarray:
    """Probabilities over CURVE whatever classes the fold happened to see."""
    out = np.zeros((len(x), len(CURVE)))
    p = model.predict_proba(x)
    for j, c in enumerate(model.classes_):
        out[:, CURVE.index(c)] = p[:, j]
    return out


def _hybrid(rules: list[str], proba: np.ndarray, gate: float) -> list[str]:
    return [
        r if r in KEEP or p.max() < gate else CURVE[int(np.argmax(p))] for r, p in zip(rules, proba)
    ]


def _macro_f1(truth: list[str], pred: list[str]) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(truth, pred, labels=sorted(set(truth)), average="macro"))


def synthetic(root: Path) -> tuple[dict[str, Any], Any]:
    from doctor_families import relabel
    from doctor_features import features

    from lrkit.doctor import diagnose, read_log

    index = relabel(json.loads((root / "index.json").read_text()))
    runs = index["runs"]
    logs = [read_log(root / r["log"]) for r in runs]
    rules = [diagnose(log).verdict for log in logs]
    x = _matrix([features(log) for log in logs])
    y = np.array([r["label"] for r in runs])
    fam = np.array([r["family"] for r in runs])
    curve = np.isin(y, CURVE)

    forest = np.empty(len(y), dtype=object)
    proba = np.zeros((len(y), len(CURVE)))
    for f in sorted(set(fam)):
        test = fam == f
        forest[test] = _forest().fit(x[~test], y[~test]).predict(x[test])
        proba[test] = _proba(_forest().fit(x[~test & curve], y[~test & curve]), x[test])
    truth = list(y)
    res: dict[str, Any] = {
        "n": len(y),
        "families": sorted(set(fam)),
        "rules": _macro_f1(truth, rules),
        "forest_lofo": _macro_f1(truth, list(forest)),
        "hybrid_lofo": {str(g): _macro_f1(truth, _hybrid(rules, proba, g)) for g in GATES},
    }
    full = _forest().fit(x[curve], y[curve])
    return res, full


def real(model: Any, folder: Path) -> dict[str, Any] | None:
    from doctor_features import features

    from lrkit.doctor import diagnose

    labels_file = folder / "labels.json"
    if not labels_file.exists():
        return None
    labels = json.loads(labels_file.read_text())["logs"]
    rules, feats, ok_sets = [], [], []
    for lab in labels.values():
        try:
            d = diagnose(folder / lab["file"])
        except Exception:  # unreadable: counts as a miss for every variant
            rules.append("unreadable")
            feats.append(None)
        else:
            rules.append(d.verdict)
            feats.append(features(d.log))
        ok_sets.append(set(lab["acceptable"]))
    read = [i for i, f in enumerate(feats) if f is not None]
    proba = np.zeros((len(rules), len(CURVE)))
    if read:
        proba[read] = _proba(model, _matrix([feats[i] for i in read]))
    out = {"n": len(rules), "rules": sum(r in ok for r, ok in zip(rules, ok_sets))}
    for g in GATES:
        hyb = _hybrid(rules, proba, g)
        out[f"hybrid@{g}"] = sum(h in ok for h, ok, f in zip(hyb, ok_sets, feats) if f is not None)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--families", required=True, metavar="DIR", help="doctor_families.py output")
    ap.add_argument("--out", default=str(HERE / "results" / "doctor_classifier.json"))
    args = ap.parse_args()
    warnings.filterwarnings("ignore")

    res, model = synthetic(Path(args.families))
    print(f"synthetic corpus, {res['n']} runs, leave-one-family-out macro-F1:")
    print(f"  rules (default)          {res['rules']:.3f}")
    print(f"  forest alone             {res['forest_lofo']:.3f}")
    for g, v in res["hybrid_lofo"].items():
        print(f"  hybrid, gate {g:>5}       {v:.3f}")
    for name in ("real", "real2"):
        r = real(model, HERE / "doctor_corpus" / name)
        if r is None:
            continue
        res[name] = r
        cells = ", ".join(f"{k} {v}" for k, v in r.items() if k != "n")
        print(f"real logs ({name}, {r['n']}): acceptable verdicts: {cells}")
    res["machine"] = f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}"
    Path(args.out).write_text(json.dumps(res, indent=2))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
