"""Scale-free features of a training log, for the learned-classifier experiment
(``benchmarks/doctor_classifier.py``; issue #17). Not part of the library: the classifier did not
earn its place in the doctor (see docs/benchmarks.md).

Every feature is relative to the run itself — its first loss, its own minibatch noise, its
own LR peak — so that a regression MSE of 300 and a cross-entropy of 2.3 read alike. A
feature the log cannot give (no LR column, no validation loss) is NaN.
"""

from __future__ import annotations

import math

import numpy as np

from lrkit.doctor._log import Log, Series
from lrkit.doctor._stats import rolling_median

__all__ = ["FEATURES", "features"]

FEATURES = (
    "log_points",
    "nonfinite",
    "log_drop",
    "log_drop_min",
    "early_share",
    "late_share",
    "late_vs_mid",
    "noise",
    "noise_vs_drop",
    "excursion",
    "rebound",
    "spikes",
    "lr_logged",
    "lr_end_vs_peak",
    "lr_warmup",
    "lr_decay_gain",
    "val_logged",
    "val_drop",
    "val_rebound",
    "val_argmin",
    "val_vs_train",
)


def _safe_log_ratio(a: float, b: float) -> float:
    if a > 0 and b > 0:
        return math.log(a / b)
    return float("nan")


def _at(smooth: np.ndarray, frac: float) -> float:
    return float(smooth[min(len(smooth) - 1, max(0, round(frac * (len(smooth) - 1))))])


def _loss_features(s: Series) -> dict[str, float]:
    y_all = s.values.astype(float)
    ok = np.isfinite(y_all)
    y = y_all[ok]
    n = len(y)
    out = {"log_points": math.log10(max(n, 1)), "nonfinite": float(np.mean(~ok)) if n else 1.0}
    if n < 5:
        return out
    l0 = float(y[0]) if n < 100 else min(float(y[0]), float(np.median(y[:3])))
    smooth = rolling_median(y, max(3, (n // 25) | 1))
    tail = float(np.median(y[-max(1, n // 10) :]))
    low = float(smooth.min())
    out["log_drop"] = _safe_log_ratio(l0, tail)
    out["log_drop_min"] = _safe_log_ratio(l0, low)
    drop = l0 - tail
    if drop > 0:
        out["early_share"] = (l0 - _at(smooth, 0.1)) / drop
        out["late_share"] = (_at(smooth, 2 / 3) - tail) / drop
        mid = _at(smooth, 1 / 3) - _at(smooth, 2 / 3)
        late = _at(smooth, 2 / 3) - tail
        out["late_vs_mid"] = late / mid if abs(mid) > 1e-12 else float("nan")
    # Minibatch noise: the median absolute deviation of the last 40% around its running median,
    # relative to the level it sits on.
    k = max(3, int(0.4 * n))
    resid = y[-k:] - smooth[-k:]
    mad = float(np.median(np.abs(resid - np.median(resid)))) * 1.4826
    level = abs(float(np.median(y[-k:]))) or 1.0
    out["noise"] = mad / level
    out["noise_vs_drop"] = mad / drop if drop > 0 else float("nan")
    out["excursion"] = _safe_log_ratio(float(smooth.max()), l0)
    span = l0 - low
    out["rebound"] = (tail - low) / span if span > 0 else float("nan")
    if mad > 0:
        half = y[n // 2 :]
        out["spikes"] = float(np.mean(half > np.median(half) + 6 * mad))
    return out


def _lr_features(lr: Series | None, loss: Series) -> dict[str, float]:
    if lr is None:
        return {"lr_logged": 0.0}
    f = lr.finite()
    v = f.values
    if len(v) < 2 or not (v > 0).any():
        return {"lr_logged": 0.0}
    i = int(np.argmax(v))
    peak = float(v[i])
    out = {
        "lr_logged": 1.0,
        "lr_end_vs_peak": float(v[-1]) / peak,
        "lr_warmup": float(v[0] <= 0.5 * peak),
    }
    # How much of the run's drop came while the LR was below half its peak (after the peak):
    # a noise floor set by too large an LR falls when the LR is cut.
    after = np.flatnonzero((f.steps > f.steps[i]) & (v < 0.5 * peak))
    lf = loss.finite()
    if after.size and len(lf) >= 10:
        cut_at = float(f.steps[after[0]])
        before = lf.values[lf.steps < cut_at]
        later = lf.values[lf.steps >= cut_at]
        if len(before) >= 3 and len(later) >= 3:
            b = float(np.median(before[-max(3, len(before) // 5) :]))
            e = float(np.median(later[-max(3, len(later) // 5) :]))
            out["lr_decay_gain"] = _safe_log_ratio(b, e)
    return out


def _val_features(val: Series | None, loss: Series) -> dict[str, float]:
    if val is None:
        return {"val_logged": 0.0}
    v = val.finite().values.astype(float)
    if len(v) < 3:
        return {"val_logged": 0.0}
    out = {"val_logged": 1.0}
    v0 = float(v[0])
    lo = float(v.min())
    end = float(np.median(v[-min(3, len(v)) :]))
    out["val_drop"] = _safe_log_ratio(v0, end)
    out["val_rebound"] = (end - lo) / (v0 - lo) if v0 > lo else 0.0
    out["val_argmin"] = float(np.argmin(v)) / (len(v) - 1)
    lf = loss.finite().values
    if len(lf) >= 5:
        out["val_vs_train"] = _safe_log_ratio(end, float(np.median(lf[-max(1, len(lf) // 10) :])))
    return out


def features(log: Log) -> dict[str, float]:
    """The features of ``log`` by name (NaN where the log cannot give one)."""
    out = dict.fromkeys(FEATURES, float("nan"))
    out.update(_loss_features(log.loss))
    out.update(_lr_features(log.lr, log.loss))
    out.update(_val_features(log.val_loss, log.loss))
    return out
