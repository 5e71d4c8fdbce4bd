"""From parsed columns to a :class:`Log`: pick the loss, validation loss, LR and step columns,
keep the last run, and place every value on the step axis."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable

import numpy as np

from lrkit.doctor._columns import (
    normalise,
    pick_accuracy,
    pick_epoch,
    pick_loss,
    pick_losses,
    pick_lrs,
    pick_perplexity,
    pick_psnr,
    pick_step,
    pick_val_loss,
)
from lrkit.doctor._csv import _numeric
from lrkit.doctor._log import Log, Series
from lrkit.doctor._runs import _split_runs
from lrkit.doctor._table import _Table
from lrkit.doctor._yolo import _looks_like_yolo, _yolo, _yolo_from_series, _yolo_names
from lrkit.errors import ConfigError, LogFormatError


def _resolve(name: str | None, available: list[str], role: str, source: str) -> str | None:
    if name is None:
        return None
    if name in available:
        return name
    by_norm = {normalise(a): a for a in available}
    if normalise(name) in by_norm:
        return by_norm[normalise(name)]
    raise ConfigError(
        f"{role}={name!r} is not a column of {source} (columns: {', '.join(available)})"
    )


def _side_by_side(columns: list[str]) -> str | None:
    """The swept setting where every column is one name followed by a different number
    (``learning_rate_0.005, learning_rate_0.01, ...``: a sweep's curves side by side), else
    ``None``."""
    split = [
        re.fullmatch(r"(.*?[A-Za-z][^0-9]*?)[_ =:-]?(-?\d+(?:\.\d*)?(?:[eE]-?\d+)?)", c)
        for c in columns
    ]
    if len(columns) < 2 or not all(split):
        return None
    stems = {m.group(1) for m in split if m is not None}
    values = {m.group(2) for m in split if m is not None}
    return stems.pop() if len(stems) == 1 and len(values) == len(columns) else None


def _densest(table: _Table, cols: list[str]) -> str | None:
    """The column with the most logged values; ties keep the alias order of ``cols``."""
    best, n_best = (cols[0] if cols else None), 0
    for c in cols:
        n = int(table.present[c].sum())
        if n > n_best:
            best, n_best = c, n
    return best


def _derived(
    table: _Table,
    col: str | None,
    make: Callable[[np.ndarray], tuple[str, Callable[[float], float]] | None],
) -> str | None:
    """``col`` turned into the loss it stands for and added to ``table``: ``make`` reads its
    finite values and returns the new column's name and the function of each value, or
    ``None`` where they are not what ``col`` should hold; ``None`` too without ``col`` or a
    curve (fewer than 3 values: a run summary's final value)."""
    if col is None:
        return None
    values, present = table.values[col], table.present[col]
    seen = values[present & np.isfinite(values)]
    made = make(seen) if seen.size >= 3 else None
    if made is None:
        return None
    name, f = made
    table.add(name, [float(f(v)) if p else None for v, p in zip(values, present)])
    return name


def _error_rate(table: _Table, col: str | None) -> str | None:
    """``col`` (an accuracy, as a fraction or in percent) turned into its error rate, under a
    name that says so (:func:`_derived`); ``None`` where it is no accuracy (outside 0-100)."""

    def make(seen: np.ndarray) -> tuple[str, Callable[[float], float]] | None:
        if seen.min() < 0 or seen.max() > 100:
            return None
        top = 100.0 if seen.max() > 1.0 else 1.0
        return f"{top:g} - {col}", lambda v: top - v

    return _derived(table, col, make)


def _error_rates(table: _Table, notes: list[str]) -> tuple[str | None, str | None, bool]:
    """``(loss, val_loss, loss_is_validation)`` for a log that keeps no loss at all but an
    accuracy: the training error rate (with the validation error rate beside it), or the
    validation error rate alone; ``(None, None, False)`` without one."""
    available = list(table.values)
    val = pick_accuracy(available, val=True)
    loss = _error_rate(table, pick_accuracy(available, val=False))
    if loss is not None:
        val_err = _error_rate(table, val)
        notes.append(
            f"no loss logged: diagnosing the training error rate {loss!r} instead"
            + (f", and {val_err!r} as the validation loss" if val_err else "")
            + " (no chance-level checks)"
        )
        return loss, val_err, False
    val_err = _error_rate(table, val)
    if val_err is not None:
        notes.append(
            f"no loss logged, and no training accuracy: diagnosing the validation error rate "
            f"{val_err!r} instead (no chance-level checks)"
        )
        return val_err, None, True
    return None, None, False


def _log_perplexity(table: _Table, col: str | None) -> str | None:
    """``col`` (a perplexity) turned into its cross-entropy in nats, ln(perplexity)
    (:func:`_derived`); ``None`` where it is no perplexity (a value below 1)."""
    return _derived(table, col, lambda seen: None if seen.min() < 1.0 else (f"ln({col})", np.log))


def _relative_mse(table: _Table, col: str | None) -> str | None:
    """``col`` (a PSNR in dB, 10·log10(MAX²/MSE)) turned into the mean squared error it stands
    for relative to the peak signal, 10^(−PSNR/10) (:func:`_derived`)."""
    return _derived(table, col, lambda _: (f"10^(-{col}/10)", lambda v: 10 ** (-v / 10)))


#: Metrics that stand for a loss, when a log keeps no loss at all: how to find one, how to
#: turn it into the loss it reports, and what that loss is (the note's words).
_AS_LOSS = (
    (pick_perplexity, _log_perplexity, "the cross-entropy in nats a perplexity is"),
    (pick_psnr, _relative_mse, "the mean squared error (relative to the peak signal) a PSNR is"),
)


def _metric_losses(table: _Table, notes: list[str]) -> tuple[str | None, str | None, bool]:
    """``(loss, val_loss, loss_is_validation)`` for a log that keeps no loss but a metric that
    reports one (:data:`_AS_LOSS`: a language model's ``Epoch,Perplexity``, an image
    restorer's ``Val_PSNR``): the training one (with the validation one beside it), or the
    validation one alone; ``(None, None, False)`` without one."""
    for pick, convert, what in _AS_LOSS:
        available = list(table.values)
        val = convert(table, pick(available, val=True))
        loss = convert(table, pick(available, val=False))
        if loss is None and val is None:
            continue
        shown = ", ".join(repr(c) for c in (loss, val) if c is not None)
        notes.append(f"no loss logged: diagnosing {shown}, {what}")
        return (loss, val, False) if loss is not None else (val, None, True)
    return None, None, False


def _from_table(
    table: _Table,
    source: str,
    fmt: str,
    names: dict[str, str | None],
    notes: list[str] | None = None,
) -> Log:
    notes = [*table.notes, *([] if notes is None else notes)]
    available = list(table.values)
    step_col = _resolve(names["step"], available, "step", source) or pick_step(available)
    epoch_col = pick_epoch(available)
    yolo = fmt == "yolo" and names["loss"] is None and _looks_like_yolo(table)
    loss_col: str | None
    yolo_val: str | None = None
    yolo_lr: str | None = None
    if yolo:
        loss_col, yolo_val, yolo_lr = _yolo(table, notes)
        available = list(table.values)
    else:
        loss_col = _resolve(names["loss"], available, "loss", source) or _densest(
            table, pick_losses(available)
        )
    val_as_loss = False
    if loss_col is None and names["loss"] is None:
        only_val = pick_val_loss(available)
        if only_val is not None and table.present[only_val].any():
            # Some loggers keep only the validation curve: judge that curve, and say so.
            loss_col, val_as_loss = only_val, True
            notes.append(f"no training loss logged: diagnosing {only_val!r} instead")
    acc_val: str | None = None
    error_rate = False
    if loss_col is None and names["loss"] is None:
        loss_col, acc_val, val_as_loss = _error_rates(table, notes)
        available = list(table.values)
        error_rate = loss_col is not None
    if loss_col is None and names["loss"] is None:
        loss_col, acc_val, val_as_loss = _metric_losses(table, notes)
        available = list(table.values)
    if loss_col is None:
        text_loss = pick_loss(list(table.text))
        if text_loss is not None:
            line, cell = table.text[text_loss]
            raise LogFormatError(
                f"{source}: loss column {text_loss!r} is not numeric (row {line}: {cell!r})"
            )
        names_seen = [*available, *table.text]
        columns = ", ".join(names_seen)
        if names_seen and all(_numeric(w) for c in names_seen for w in c.split() or [c]):
            # A table written without a header row: its first line of numbers was read as one.
            raise LogFormatError(
                f"{source}: no header row (its first line is numbers: {columns}); add a first "
                "line that names the columns (e.g. 'epoch loss val_loss')"
            )
        runs = _side_by_side(names_seen)
        if runs is not None:
            raise LogFormatError(
                f"{source}: no loss column, but {len(names_seen)} columns that look like one "
                f"curve per run of a sweep over {runs!r} ({columns}); diagnose one with --loss "
                f"{names_seen[-1]} (diagnose(..., loss={names_seen[-1]!r}))"
            )
        raise LogFormatError(
            f"{source}: no loss column (columns: {columns}); name it with --loss COLUMN "
            "(diagnose(..., loss=COLUMN))"
        )
    val_col = _resolve(names["val_loss"], available, "val_loss", source) or (
        yolo_val if yolo else acc_val or pick_val_loss([a for a in available if a != loss_col])
    )
    lr_col = _resolve(names["lr"], available, "lr", source) or (
        yolo_lr if yolo else _densest(table, pick_lrs(available))
    )
    if val_as_loss:
        val_col = None
    if _side_by_side(available) is not None:
        # One run's curve chosen among a sweep's (learning_rate_0.1 of learning_rate_0.005,
        # ...): the other columns are other runs, not its validation loss or LR.
        val_col = val_col if names["val_loss"] else None
        lr_col = lr_col if names["lr"] else None

    loss_rows = table.present[loss_col]
    x_col, x_name = None, "index"
    for cand, cand_name in ((step_col, "step"), (epoch_col, "epoch")):
        if cand is None or cand == loss_col:
            continue
        xs = table.values[cand][loss_rows]
        if not (table.present[cand][loss_rows].all() and np.isfinite(xs).all()):
            continue
        if cand_name == "step" and epoch_col is not None:
            table = _steps_across_epochs(table, cand, epoch_col, loss_rows, notes)
        keep = _split_runs(table, cand, loss_rows, notes, cand_name, table.values[loss_col])
        kept = table.values[cand][loss_rows & keep]
        if cand_name == "epoch" and len(np.unique(kept)) < len(kept):
            # Several rows per epoch (batch lines, or each rank of a distributed run writing
            # its own line): an epoch is not a position, but its counter's restarts still
            # split appended runs (real40 v13: ~50 sessions, two ranks' lines each epoch).
            if not keep.all():
                table = _subset(table, keep)
            continue
        x_col, x_name = cand, cand_name
        if not keep.all():
            table = _subset(table, keep)
        break

    if x_col is None and fmt == "keras":
        x_name = "epoch"  # History rows are epochs, counted from 0

    def series(col: str) -> Series:
        rows = table.present[col]
        if x_col is None:
            xs = np.flatnonzero(rows).astype(float)
        else:
            ok = table.present[x_col] & np.isfinite(table.values[x_col])
            xs_all = table.values[x_col].copy()
            if not ok[rows].all():
                # Rows logged without a step (an epoch summary among step records) sit at the
                # step logged just before them.
                idx = np.flatnonzero(ok)
                for r in np.flatnonzero(rows & ~ok):
                    before = idx[idx < r]
                    if before.size == 0:
                        if col in (loss_col, val_col):
                            raise LogFormatError(
                                f"{source}: column {col!r} has a value at row {r + 1} where "
                                f"{x_col!r} is empty"
                            )
                        # A header record (the run's config, logged before its first step)
                        # has no position on the curve: its numbers are not a metric's points.
                        rows = rows.copy()
                        rows[r] = False
                        continue
                    xs_all[r] = xs_all[before[-1]]
                if col in (loss_col, val_col):
                    notes.append(
                        f"{int((rows & ~ok).sum())} {col!r} value(s) without a {x_name} placed "
                        f"at the {x_name} logged before them"
                    )
            xs = xs_all[rows]
        return Series(col, xs, table.values[col][rows])

    taken = {loss_col, val_col, lr_col, step_col, epoch_col}
    metrics = {c: series(c) for c in available if c not in taken and table.present[c].any()}
    lr_series = series(lr_col) if lr_col and table.present[lr_col].any() else None
    return _finish(
        series(loss_col),
        series(val_col) if val_col and table.present[val_col].any() else None,
        lr_series if lr_series is not None and len(lr_series) else None,
        {c: m for c, m in metrics.items() if len(m)},
        x_name,
        source,
        fmt,
        notes,
        loss_is_validation=val_as_loss,
        loss_is_error_rate=error_rate,
    )


def _steps_across_epochs(
    table: _Table, step_col: str, epoch_col: str, rows: np.ndarray, notes: list[str]
) -> _Table:
    """A step counter that restarts every epoch (``Epoch 3, Step 25``: the batch within the
    epoch) made global: each epoch's steps follow the previous epoch's last. Only where, on the
    loss's ``rows``, every restart of the step comes with a higher epoch or a lower one (an
    appended run, which starts the count again: :func:`_split_runs` then splits the runs)."""
    has = table.present[step_col] & table.present[epoch_col] & rows
    order = np.flatnonzero(has)
    if order.size < 3 or (table.present[step_col] & rows).sum() != order.size:
        return table
    step, epoch = table.values[step_col][order], table.values[epoch_col][order]
    if not (np.isfinite(step).all() and np.isfinite(epoch).all()):
        return table
    back = np.flatnonzero(np.diff(step) < 0)
    if back.size == 0 or np.any(epoch[back + 1] == epoch[back]):
        return table  # no restart, or one within an epoch: the step is no batch index
    if np.all(epoch[back + 1] < epoch[back]):
        return table  # only appended runs
    offset = np.zeros(order.size)
    for i in back:  # the next epoch starts after this one's last step; a new run from 0
        offset[i + 1 :] = offset[i] + step[i] if epoch[i + 1] > epoch[i] else 0.0
    steps = table.values[step_col].copy()
    steps[order] = step + offset
    out = copy.copy(table)  # the caller's table stays as read
    out.values = {**table.values, step_col: steps}
    notes.append(
        f"the {step_col!r} counter restarts every {epoch_col!r}: steps counted across epochs"
    )
    return out


def _subset(table: _Table, keep: np.ndarray) -> _Table:
    out = _Table(int(keep.sum()))
    for k in table.values:
        out.values[k], out.present[k] = table.values[k][keep], table.present[k][keep]
    out.text = table.text
    return out


def _from_series(
    found: dict[str, Series],
    source: str,
    fmt: str,
    names: dict[str, str | None],
    notes: list[str] | None = None,
) -> Log:
    notes = [] if notes is None else notes
    found = dict(found)
    available = list(found)
    yolo_val: str | None = None
    yolo_lr: str | None = None
    loss_col: str | None
    yolo = names["loss"] is None and _yolo_names(available)
    if yolo:
        loss_s, val_s, yolo_lr = _yolo_from_series(found, notes)
        loss_col, found[loss_s.name] = loss_s.name, loss_s
        if val_s is not None:
            yolo_val, found[val_s.name] = val_s.name, val_s
    else:
        loss_col = _resolve(names["loss"], available, "loss", source) or max(
            pick_losses(available), key=lambda k: len(found[k]), default=None
        )
    if loss_col is None:
        raise LogFormatError(f"{source}: no loss tag (tags: {', '.join(available) or 'none'})")
    val_col = _resolve(names["val_loss"], available, "val_loss", source) or (
        yolo_val if yolo else pick_val_loss([a for a in available if a != loss_col])
    )
    lr_col = _resolve(names["lr"], available, "lr", source) or (
        yolo_lr if yolo else max(pick_lrs(available), key=lambda k: len(found[k]), default=None)
    )
    taken = {loss_col, val_col, lr_col}
    metrics = {k: v for k, v in found.items() if k not in taken}
    return _finish(
        found[loss_col],
        found[val_col] if val_col else None,
        found[lr_col] if lr_col else None,
        metrics,
        "step",
        source,
        fmt,
        notes or [],
    )


def _finish(
    loss: Series,
    val: Series | None,
    lr: Series | None,
    metrics: dict[str, Series],
    x_name: str,
    source: str,
    fmt: str,
    notes: list[str],
    loss_is_validation: bool = False,
    loss_is_error_rate: bool = False,
) -> Log:
    if len(loss) == 0:
        raise LogFormatError(f"{source}: loss column {loss.name!r} has no values")
    if len(loss) >= 3 and np.ptp(loss.steps) == 0:
        # Every value at one step (a logger that never advanced its step counter): the step
        # says nothing, the order they were written in is the only time axis.
        notes.append(
            f"every {loss.name!r} value was logged at {x_name} {loss.steps[0]:g}: read in the "
            "order written"
        )
        loss = Series(loss.name, np.arange(len(loss), dtype=float), loss.values)
        x_name = "index"
        if val is not None and len(val) and np.ptp(val.steps) == 0:
            val = Series(val.name, np.arange(len(val), dtype=float), val.values)
    # NaN from the first evaluation to the last while training is finite: the validation
    # loss was never computed (YOLO logs this under some AMP setups), not a divergence.
    never = val is not None and len(val) > 0 and not np.isfinite(val.values).any()
    if val is not None and never and np.isfinite(loss.values).any():
        notes.append(f"{val.name} is NaN at every evaluation (never computed): ignored")
        val = None
    return Log(
        loss=loss,
        val_loss=val,
        lr=lr,
        metrics=metrics,
        x_name=x_name,
        source=source,
        format=fmt,
        notes=tuple(dict.fromkeys(notes)),
        loss_is_validation=loss_is_validation,
        loss_is_error_rate=loss_is_error_rate,
    )
