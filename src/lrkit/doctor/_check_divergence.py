"""Rules for a run that broke: ``diverged`` (non-finite or exploding loss) and ``unstable``
(isolated non-finite values, early spikes before it trains, spike events, oscillation)."""

from __future__ import annotations

import numpy as np

from lrkit.doctor._curve import (
    Curve,
    _blowup,
    _early_rise,
    _span,
    _spikes,
)
from lrkit.doctor._diagnosis import Finding
from lrkit.doctor._log import Log, Series
from lrkit.doctor._thresholds import Thresholds


def grad_norm(log: Log) -> Series | None:
    """The logged gradient norm (``grad_norm``, ``train/grad_norm``, Lightning's
    ``grad_2.0_norm_total``, ...), if any."""
    names = [k for k in log.metrics if "grad" in k.lower() and "norm" in k.lower()]
    if not names:
        return None
    total = [k for k in names if "total" in k.lower()]  # per-layer norms: take the total
    return log.metrics[min(total or names, key=len)]


def _nonfinite(log: Log, s: Series, statistic: str, persist: bool) -> Finding | None:
    """``diverged`` when ``s`` turns non-finite and stays so (``persist``: also at the end and
    for most values after the first); isolated non-finite values are ``unstable`` for a loss
    and nothing for a gradient norm (mixed precision's loss scaler skipping a step)."""
    bad = ~np.isfinite(s.values)
    if not bad.any():
        return None
    first = int(np.flatnonzero(bad)[0])
    stays = bad[first:].mean() >= 0.5
    if (bad[-1] and stays) if persist else (bad[-1] or stays):
        what = "NaN" if np.isnan(s.values[first]) else "infinite"
        return Finding(
            "diverged",
            "error",
            _span(s.steps, first, len(s) - 1),
            statistic,
            float(bad.sum()),
            f"{s.name} is {what} from {log.x_name} {s.steps[first]:g} on "
            f"({int(bad.sum())} of {len(s)} values non-finite)"
            + (": the updates are NaN" if statistic == "nonfinite_grad_norm" else ""),
        )
    if statistic == "nonfinite_grad_norm":
        return None
    return Finding(
        "unstable",
        "error",
        _span(s.steps, first, int(np.flatnonzero(bad)[-1])),
        "isolated_nonfinite",
        float(bad.sum()),
        f"{s.name} has {int(bad.sum())} isolated non-finite values, then recovers",
    )


def check_diverged(log: Log, c: Curve, t: Thresholds) -> list[Finding]:
    out: list[Finding] = []
    gn = grad_norm(log)
    # A gradient norm that turns non-finite and stays so: the update is NaN even where the
    # logged loss still looks finite (Hugging Face fp16 runs then log a loss of 0.0).
    found = [_nonfinite(log, gn, "nonfinite_grad_norm", True)] if gn is not None else []
    for s in (log.loss, log.val_loss):
        if s is not None and len(s):
            found.append(_nonfinite(log, s, "nonfinite_values", False))
    out += [f for f in found if f is not None]
    if len(c.y) >= 4 and c.l0 > 0 and c.tail > t.explode * c.l0:
        k = max(1, len(c.y) // 10)
        out.append(
            Finding(
                "diverged",
                "error",
                _span(c.x, len(c.y) - k, len(c.y) - 1),
                "tail_over_initial",
                c.tail / c.l0,
                f"the loss ends at {c.tail:.4g}, {c.tail / c.l0:.1f}× its initial {c.l0:.4g}: "
                "it is exploding",
            )
        )
    return out


def check_unstable(log: Log, c: Curve, t: Thresholds) -> list[Finding]:
    """Spikes or oscillation in a run that still trains well (otherwise: lr_too_high)."""
    out: list[Finding] = []
    n = len(c.y)
    if n < 10 or c.range <= 0 or c.progress < t.blowup_progress:
        return out
    blow = _blowup(c, t)
    if blow is not None:
        peak = blow[2]
        out.append(
            _early_rise(
                c,
                "unstable",
                blow,
                f"the loss spikes to {peak:.1f}× its initial value early on before it trains "
                "(a warmup would avoid it)",
            )
        )
    sp = _spikes(c, t)
    if sp is not None and sp.count < t.spike_events_high:
        out.append(
            Finding(
                "unstable",
                "error",
                _span(c.x, sp.first, sp.last),
                "spike_events",
                float(sp.count),
                f"{sp.count} loss spike(s) above the running median (largest "
                f"+{sp.biggest:.3g}, {sp.biggest / c.range:.0%} of the loss range)",
            )
        )
    if n < 200 and log.x_name == "epoch":
        h = n // 2
        d = np.diff(c.y[h:])
        if len(d) >= 4:
            changes = float(np.mean(np.sign(d[1:]) != np.sign(d[:-1])))
            size = float(np.median(np.abs(d))) / c.range
            if changes >= t.osc_changes and size >= t.osc_size:
                out.append(
                    Finding(
                        "unstable",
                        "error",
                        _span(c.x, h, n - 1),
                        "oscillation_size",
                        size,
                        f"the loss oscillates: {changes:.0%} of moves change direction, typical "
                        f"move {size:.0%} of the loss range",
                    )
                )
    return out
