"""Results of the doctor: findings with evidence, a prescription, and a verdict."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lrkit.doctor._log import Log

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["VERDICTS", "Diagnosis", "Finding", "Prescription"]

#: Every verdict, from the most to the least severe (the first one found wins).
VERDICTS = (
    "diverged",
    "lr_too_high",
    "unstable",
    "overfitting",
    "lr_too_low",
    "plateau",
    "inconclusive",
    "healthy",
)

_PLAIN = {
    "diverged": "the run diverged",
    "lr_too_high": "the learning rate is too high",
    "unstable": "training is unstable (spikes or oscillation)",
    "overfitting": "the model overfits",
    "lr_too_low": "the learning rate is too low",
    "plateau": "the loss has plateaued",
    "inconclusive": "not enough evidence to judge the run",
    "healthy": "the run looks healthy",
}


def _num(v: float | None) -> float | str | None:
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else str(v)


@dataclass(frozen=True)
class Finding:
    """One observation with its evidence.

    Attributes:
        kind: the verdict this finding supports (one of :data:`VERDICTS` but ``healthy``).
        severity: ``"error"`` (decides the verdict) or ``"warning"`` (noted only).
        steps: the step range the evidence covers, in the log's step units.
        statistic: what was measured (``"first_nonfinite"``, ``"theil_sen_slope"``, ...).
        value: the measured value.
        message: one sentence in plain English.
        evidence: ``"strong"``, or ``"weak"`` when the curve fits the verdict but could also
            come from something else (the message says what): act on it with a short trial
            run, not a full retraining.
    """

    kind: str
    severity: str
    steps: tuple[float, float]
    statistic: str
    value: float
    message: str
    evidence: str = "strong"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "severity": self.severity,
            "steps": [_num(self.steps[0]), _num(self.steps[1])],
            "statistic": self.statistic,
            "value": _num(self.value),
            "message": self.message,
            "evidence": self.evidence,
        }


@dataclass(frozen=True)
class Prescription:
    """What to change. ``lr`` is a new learning rate when the LR is at fault (derived from the
    log's LR column; ``None`` when the log has none: then ``lr_factor`` says what to multiply
    your LR by), ``schedule_change`` a schedule edit, ``early_stop_step`` where to stop."""

    text: str
    lr: float | None = None
    lr_factor: float | None = None
    schedule_change: str | None = None
    early_stop_step: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "lr": _num(self.lr),
            "lr_factor": _num(self.lr_factor),
            "schedule_change": self.schedule_change,
            "early_stop_step": _num(self.early_stop_step),
        }


@dataclass(frozen=True)
class Diagnosis:
    """The doctor's answer for one log (see :func:`lrkit.doctor.diagnose`)."""

    verdict: str
    findings: tuple[Finding, ...]
    prescription: Prescription
    log: Log = field(repr=False, compare=False)
    features: dict[str, float] = field(default_factory=dict, repr=False, compare=False)

    @property
    def healthy(self) -> bool:
        return self.verdict == "healthy"

    @property
    def evidence(self) -> str:
        """``"weak"`` when every finding behind the verdict is weak evidence (see
        :class:`Finding`), else ``"strong"`` (also for ``healthy``: nothing was found)."""
        mine = [f for f in self.findings if f.kind == self.verdict and f.severity == "error"]
        return "weak" if mine and all(f.evidence == "weak" for f in mine) else "strong"

    def explain(self) -> str:
        """A plain-English account: verdict, evidence, what to do."""
        x = self.log.x_name
        grade = ", weak evidence" if self.evidence == "weak" else ""
        lines = [f"Verdict: {_PLAIN[self.verdict]} ({self.verdict}{grade})."]
        cols = ", ".join(f"{k}={v!r}" for k, v in self.log.columns.items() if v is not None)
        lines.append(f"Read {len(self.log.loss)} loss values from {self.log.source} ({cols}).")
        lines.extend(f"Note: {n}." for n in self.log.notes)
        for f in self.findings:
            a, b = f.steps
            where = f"{x} {a:g}" if a == b else f"{_plural(x)} {a:g}–{b:g}"
            tag = "" if f.severity == "error" else " (note)"
            lines.append(f"- {f.message}{tag} [{where}; {f.statistic} = {f.value:.4g}]")
        lines.append(f"Prescription: {self.prescription.text}")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "verdict": self.verdict,
            "evidence": self.evidence,
            "findings": [f.to_dict() for f in self.findings],
            "prescription": self.prescription.to_dict(),
            "log": {
                "source": self.log.source,
                "format": self.log.format,
                "x_name": self.log.x_name,
                "columns": self.log.columns,
                "n_loss": len(self.log.loss),
                "n_val_loss": len(self.log.val_loss) if self.log.val_loss is not None else 0,
                "notes": list(self.log.notes),
            },
            "features": {k: _num(v) for k, v in self.features.items()},
        }

    def plot(self, path: str | None = None) -> Figure:
        """Loss (and validation loss, LR) with the findings' step ranges shaded."""
        from lrkit._plotting import pyplot

        plt = pyplot(path)
        import numpy as np

        fig, ax = plt.subplots(figsize=(8, 4.5))
        log = self.log
        ax.plot(log.loss.steps, log.loss.values, lw=0.8, alpha=0.8, label=log.loss.name)
        if log.val_loss is not None:
            ax.plot(log.val_loss.steps, log.val_loss.values, "o-", ms=3, label=log.val_loss.name)
        bad = ~np.isfinite(log.loss.values)
        if bad.any():
            ax.plot(log.loss.steps[bad], np.zeros(int(bad.sum())), "rx", label="non-finite loss")
        colors = {
            "diverged": "red",
            "lr_too_high": "orange",
            "unstable": "gold",
            "overfitting": "purple",
            "lr_too_low": "blue",
            "plateau": "grey",
        }
        for f in self.findings:
            a, b = f.steps
            c = colors.get(f.kind, "grey")
            if a == b:
                ax.axvline(a, color=c, ls="--", lw=1, label=f.kind)
            else:
                ax.axvspan(a, b, color=c, alpha=0.12, label=f.kind)
        finite = log.loss.values[np.isfinite(log.loss.values)]
        if finite.size and finite.min() > 0 and finite.max() / finite.min() > 50:
            ax.set_yscale("log")
        if log.lr is not None and len(log.lr):
            ax2 = ax.twinx()
            ax2.plot(log.lr.steps, log.lr.values, color="green", lw=0.8, alpha=0.6)
            ax2.set_ylabel(f"{log.lr.name} (green)")
        ax.set_xlabel(log.x_name)
        ax.set_ylabel("loss")
        ax.set_title(f"lrkit doctor: {self.verdict}")
        handles, labels = ax.get_legend_handles_labels()
        uniq = dict(zip(labels, handles))
        ax.legend(uniq.values(), uniq.keys(), fontsize=8, loc="upper right")
        fig.tight_layout()
        if path is not None:
            fig.savefig(path, dpi=120)
        return fig


def _plural(x_name: str) -> str:
    """``steps``, ``epochs``, ``rows`` for the ``index`` axis (row numbers)."""
    return "rows" if x_name == "index" else f"{x_name}s"
