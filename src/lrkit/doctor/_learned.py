"""A learned second opinion on the rules' verdict: a random forest over scale-free features.

The rules decide what each finding says; this module only re-weighs which verdict the
findings, taken together with the curve's shape, support best. It was trained (scikit-learn,
``benchmarks/doctor_learned.py``) on the labelled real logs of ``benchmarks/doctor_corpus``
and the synthetic task families of ``benchmarks/doctor_families.py``, and is reported there
leave-one-set-out (real logs) and leave-one-family-out (synthetic runs). Inference needs only
NumPy: the forest ships as arrays in ``verdict_model.json.gz``.

The features are those of the rules (the verdict, which kinds were found, progress, slope
ratios) plus the curve's shape relative to its own start, noise and validation loss: nothing
depends on the loss's scale, the task or the log's format.
"""

from __future__ import annotations

import gzip
import json
import math
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

import numpy as np

from lrkit.doctor._check_too_low import _fast_start, _val_improving
from lrkit.doctor._curve import Curve, _tail_noise
from lrkit.doctor._diagnosis import VERDICTS, Finding
from lrkit.doctor._log import Log
from lrkit.doctor._stats import trend
from lrkit.doctor._thresholds import Thresholds

__all__ = ["Forest", "features", "forest", "forest_dict"]

#: the value of a feature the log cannot give (no validation loss, fewer than 10 values)
MISSING = -9.0
_KINDS = [v for v in VERDICTS if v != "healthy"]


def _finite(x: Any, default: float = 0.0) -> float:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return default
    return v if math.isfinite(v) else default


def features(
    log: Log, c: Curve, verdict: str, findings: tuple[Finding, ...], t: Thresholds
) -> dict[str, float]:
    """The feature vector of one diagnosed log (names as in the shipped model)."""
    f: dict[str, float] = {}
    for v in VERDICTS:
        f["v_" + v] = float(verdict == v)
    for k in _KINDS:
        f["e_" + k] = float(any(x.kind == k and x.severity == "error" for x in findings))
        f["w_" + k] = float(any(x.kind == k for x in findings))
    for k in ("progress", "slope_ratio", "still_falling"):
        f[k] = _finite(c.features.get(k))
    n = len(c.y)
    f["logn"] = math.log10(max(n, 1))
    f["epoch"] = float(log.x_name == "epoch")
    f["hasval"] = float(log.val_loss is not None)
    f["haslr"] = float(c.lr is not None)
    f["ann"] = float(c.lr is not None and c.lr.end < 0.7 * c.lr.peak)
    f["warm"] = float(c.lr is not None and c.lr.warmup)
    f["cuts"] = float(c.lr.cuts if c.lr is not None else 0)
    if n >= 10:
        noise, level = _tail_noise(c, int(0.6 * n))
        f["noise"] = _finite(noise / level if level > 0 else 0.0)
        f["early"] = float(_fast_start(c, t, noise) is not None)
        whole = trend(c.xb, c.yb)
        h = len(c.xb) // 2
        second = trend(c.xb[h:], c.yb[h:])
        # signed strength of the trend: -log10 p, positive for a fall
        f["wp"] = -math.log10(max(whole.p_value, 1e-30)) * float(np.sign(-whole.slope))
        f["sp"] = -math.log10(max(second.p_value, 1e-30)) * float(np.sign(-second.slope))
        span = c.l0 - c.ymin
        f["rebound"] = _finite((c.tail - c.ymin) / span if span > 0 else 0.0)
        f["argmin"] = float(np.argmin(c.smooth)) / (n - 1)
        f["vi"] = float(_val_improving(log, float(c.x[n // 2]), t))
        f["maxrel"] = _finite(float(c.smooth.max()) / c.l0 if c.l0 > 0 else 1.0)
    if log.val_loss is not None:
        vals = np.asarray(log.val_loss.finite().values, dtype=float)
        nv = len(vals)
        f["lognv"] = math.log10(max(nv, 1))
        if nv >= 3 and vals[0] != 0:
            m = int(np.argmin(vals))
            f["vargmin"] = m / (nv - 1)
            f["vrise"] = _finite((vals[-1] - vals[m]) / abs(vals[m]) if vals[m] else 0.0)
            f["vprog"] = _finite((vals[0] - vals[-1]) / abs(vals[0]))
            q = round(0.75 * (nv - 1))
            total = vals[0] - vals[-1]
            f["vtail"] = _finite((vals[q] - vals[-1]) / total if total > 0 else 0.0)
            f["gap"] = _finite((vals[-1] - c.tail) / abs(c.tail) if c.tail else 0.0)
    return f


@dataclass(frozen=True)
class Forest:
    """A random forest as flat arrays (scikit-learn's ``tree_`` layout, every tree's nodes
    concatenated): ``feature < 0`` marks a leaf, whose row of ``value`` holds the class
    frequencies."""

    names: tuple[str, ...]
    classes: tuple[str, ...]
    roots: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray
    meta: dict[str, Any]

    def proba(self, f: dict[str, float]) -> dict[str, float]:
        """Class probabilities for one feature dict (the mean of the trees' leaf frequencies)."""
        # float32, as scikit-learn compares them when it grows and applies the trees
        x = np.array([f.get(k, MISSING) for k in self.names], dtype=np.float32).astype(float)
        total = np.zeros(len(self.classes))
        for node in self.roots:
            while self.feature[node] >= 0:
                go_left = x[self.feature[node]] <= self.threshold[node]
                node = self.left[node] if go_left else self.right[node]
            total += self.value[node]
        total /= len(self.roots)
        return dict(zip(self.classes, (float(p) for p in total)))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Forest:
        return cls(
            names=tuple(d["names"]),
            classes=tuple(d["classes"]),
            roots=np.asarray(d["roots"], dtype=np.int64),
            feature=np.asarray(d["feature"], dtype=np.int64),
            threshold=np.asarray(d["threshold"], dtype=float),
            left=np.asarray(d["left"], dtype=np.int64),
            right=np.asarray(d["right"], dtype=np.int64),
            value=np.asarray(d["value"], dtype=float),
            meta=dict(d.get("meta", {})),
        )


def forest_dict(m: Any, names: list[str], meta: dict[str, Any]) -> dict[str, Any]:
    """A fitted scikit-learn ``RandomForestClassifier`` (features in ``names`` order) as the
    arrays of :class:`Forest` (JSON-ready; read back with :meth:`Forest.from_dict`)."""
    roots: list[int] = []
    feat: list[int] = []
    thr: list[float] = []
    left: list[int] = []
    right: list[int] = []
    value: list[list[float]] = []
    width = len(m.classes_)
    for est in m.estimators_:
        tr = est.tree_
        off = len(feat)
        roots.append(off)
        for j in range(tr.node_count):
            leaf = int(tr.children_left[j]) < 0
            feat.append(-1 if leaf else int(tr.feature[j]))
            thr.append(0.0 if leaf else float(tr.threshold[j]))
            left.append(-1 if leaf else int(tr.children_left[j]) + off)
            right.append(-1 if leaf else int(tr.children_right[j]) + off)
            row = np.asarray(tr.value[j, 0, :], dtype=float)
            row = row / row.sum() if leaf and row.sum() > 0 else np.zeros(width)
            value.append([round(float(p), 5) for p in row])
    return {
        "names": list(names),
        "classes": [str(c) for c in m.classes_],
        "roots": roots,
        "feature": feat,
        "threshold": thr,
        "left": left,
        "right": right,
        "value": value,
        "meta": meta,
    }


MODEL_FILE = "verdict_model.json.gz"


@lru_cache(maxsize=1)
def forest() -> Forest | None:
    """The shipped forest, or ``None`` where the file is missing (a source tree without it):
    the rules' verdict then stands alone."""
    try:
        raw = resources.files("lrkit.doctor").joinpath(MODEL_FILE).read_bytes()
    except (FileNotFoundError, OSError):
        return None
    return Forest.from_dict(json.loads(gzip.decompress(raw)))
