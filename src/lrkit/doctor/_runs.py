"""Several runs in one log: counter restarts (appended files) and resumes from a checkpoint."""

from __future__ import annotations

import numpy as np

from lrkit.doctor._diagnosis import _plural
from lrkit.doctor._table import _Table

#: A step back of the counter whose first loss is more than this many times every loss it
#: replays is a new run, not a resume: a run resumed from a checkpoint goes on near the loss it
#: had there (a reset optimizer or a warm-up bumps it a few times at most); one ten times above
#: all of them has other weights — a fresh start numbering its epochs from a checkpoint's
#: counter (real66: 0.44 after 0.0012-0.0049).
RESTART_JUMP = 10.0


def _split_runs(
    table: _Table,
    x_col: str,
    rows: np.ndarray,
    notes: list[str],
    x_name: str,
    loss: np.ndarray | None = None,
) -> np.ndarray:
    """Rows to keep when ``x_col`` goes backwards on the loss's ``rows``: a restart at (or
    before) the run's first position starts a new run (appended CSVLogger files): only the last
    run is kept; a step back to a later position is a resume from a checkpoint: the rows it
    replays are dropped — unless its first ``loss`` lies :data:`RESTART_JUMP` times above
    every loss it replays (a new run). Rows without the loss (validation rows whose counter is
    the batch index, as some Lightning loggers write) neither start nor resume a run."""
    has_x = table.present[x_col] & np.isfinite(table.values[x_col]) & rows
    order = np.flatnonzero(has_x)
    keep = np.ones(table.n_rows, dtype=bool)
    if order.size < 2:
        return keep
    xs = table.values[x_col]
    run_start_row, run_first_x = 0, float(xs[order[0]])
    n_runs, n_resumes, prev = 1, 0, float(xs[order[0]])
    for r in order[1:]:
        x = float(xs[r])
        if x < prev:
            replayed = np.arange(run_start_row, r)
            replayed = replayed[has_x[replayed] & (xs[replayed] >= x)]
            if x <= run_first_x or _jumps(loss, int(r), replayed):
                n_runs += 1
                keep[run_start_row:r] = False
                run_start_row, run_first_x = int(r), x
            else:
                n_resumes += 1
                keep[replayed] = False
        prev = x
    if n_runs > 1:
        kept = np.flatnonzero(keep & rows)
        span = f" ({_plural(x_name)} {xs[kept[0]]:g}–{xs[kept[-1]]:g})" if kept.size else ""
        notes.append(
            f"{n_runs} runs in this log ({x_name} counter restarts); diagnosing the last{span}"
        )
    if n_resumes:
        notes.append(
            f"{n_resumes} resume(s) from a checkpoint: replayed {_plural(x_name)} keep their newest values"
        )
    return keep


def _jumps(loss: np.ndarray | None, row: int, replayed: np.ndarray) -> bool:
    """Whether ``loss[row]`` lies :data:`RESTART_JUMP` times above every finite loss of the
    ``replayed`` rows (none: no evidence either way)."""
    if loss is None or not np.isfinite(loss[row]):
        return False
    before = loss[replayed]
    before = before[np.isfinite(before)]
    return bool(before.size) and float(loss[row]) > RESTART_JUMP * float(np.max(before))
