"""The doctor on real training logs from public repositories (``benchmarks/doctor_corpus/real``).

Every log was copied with its repository, path and commit, and labelled by eye from plots of
its raw columns *before* the doctor was run on it (``labels.json``: a label, every verdict an
experienced engineer could defend, and the reason). Reported: how many logs are readable, and
how many verdicts are acceptable.

    python benchmarks/doctor_real.py [--corpus real2|real3|real4] [--rules-only] [OUT.json]

By default the doctor as shipped (rules + the learned second opinion, whose forest was trained
on every set that existed when it was written — in-sample for those; ``--rules-only``: the
rules alone; ``benchmarks/doctor_learned.py`` reports the forest leave-one-set-out).
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parent / "doctor_corpus" / "real"


def evaluate(root: Path = ROOT, verbose: bool = True, rules_only: bool = False) -> dict[str, Any]:
    from lrkit.doctor import Thresholds, diagnose
    from lrkit.errors import LRKitError

    labels = json.loads((root / "labels.json").read_text())["logs"]
    rows = []
    for key, lab in sorted(labels.items()):
        path = root / lab["file"]
        row: dict[str, Any] = {"log": key, "repo": lab["repo"], "path": lab["path"],
                               "commit": lab["commit"], "label": lab["label"]}  # fmt: skip
        try:
            d = diagnose(path, thresholds=Thresholds(learned_margin=0.0) if rules_only else None)
        except LRKitError as exc:
            row.update(readable=False, verdict=None, acceptable=False, error=str(exc))
        else:
            row.update(readable=True, verdict=d.verdict,
                       acceptable=d.verdict in lab["acceptable"], format=d.log.format,
                       n_loss=len(d.log.loss), prescription=d.prescription.text)  # fmt: skip
        rows.append(row)
        if verbose:
            mark = "ok " if row["acceptable"] else "BAD"
            print(f"{mark} {key:34s} label={lab['label']:12s} verdict={row['verdict']}"
                  f"  {row.get('error', row.get('prescription', ''))[:90]}")  # fmt: skip
    readable = [r for r in rows if r["readable"]]
    out = {
        "n": len(rows),
        "readable": len(readable),
        "acceptable": sum(r["acceptable"] for r in rows),
        "acceptable_of_readable": sum(r["acceptable"] for r in readable),
        "confusion": {
            lab: dict(Counter(str(r["verdict"]) for r in rows if r["label"] == lab))
            for lab in sorted({r["label"] for r in rows})
        },
        "rows": rows,
    }
    if verbose:
        print(f"readable {out['readable']}/{out['n']}, acceptable {out['acceptable']}/{out['n']}")
    return out


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", nargs="?", help="write the result as JSON here")
    ap.add_argument("--corpus", default="real",
                    help="folder under doctor_corpus/: real (the logs the rules were developed "
                         "with), real2, real3, real4, real5, real6, real7, real8, real9, real10, "
                         "real11, real12, real13, real14, real15, real16, real17, real18, real19, real20, "
                         "real21, real22, real23, real24 or real25 "
                         "(fresh sets, each labelled before the doctor ever ran on it)")  # fmt: skip
    ap.add_argument("--rules-only", action="store_true", help="the rules alone (no forest)")
    args = ap.parse_args()
    res = evaluate(ROOT.parent / args.corpus, rules_only=args.rules_only)
    if args.out:
        Path(args.out).write_text(json.dumps(res, indent=2))
