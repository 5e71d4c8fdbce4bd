"""CSV readers: plain CSV/TSV, Lightning ``metrics.csv`` and Keras CSVLogger files, and
Weights & Biases history and chart exports."""

from __future__ import annotations

import csv
import io
import re

from lrkit.doctor._columns import SPLIT_NAMES, normalise, pick_epoch, pick_step
from lrkit.doctor._table import _Table, _table_from_records
from lrkit.errors import LogFormatError

#: Terminal colour codes (``\x1b[32m``) that coloured loggers, and printed tables marking each
#: column's best value (skorch's epoch table), write into saved output.
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def _number(cell: str) -> float | None:
    """Float value of a raw cell; ``None`` for an empty cell. Raises ValueError otherwise."""
    s = cell.strip()
    if not s:
        return None
    return float(s)  # accepts nan, NaN, inf, -inf, Infinity


def _numeric_row(row: list[str], width: int) -> bool:
    """A space-separated table's row: ``width`` cells that :func:`_number` reads."""
    try:
        return len(row) == width and all(_number(f) is not None for f in row)
    except ValueError:
        return False


def _numeric_cell(cell: str) -> bool:
    """A raw cell that :func:`_number` reads."""
    try:
        _number(cell)
    except ValueError:
        return False
    return True


def _numeric(field: str) -> bool:
    """A CSV cell that :func:`_number` reads (a number, or empty), quotes aside."""
    return _numeric_cell(field.strip().strip('"'))


#: A CSV whose malformed lines (a field count other than the header's) are at least
#: 1 / _MALFORMED_SHARE of its rows is not the table its header describes: an error. Fewer are
#: dropped with a note.
_MALFORMED_SHARE = 4


def _preamble(rows: list[list[str]]) -> int:
    """How many rows come before the table's header where a printed preamble (``==>Arguments:``,
    ``lr:0.1``, ...; pytorch-classification's ``log.txt``) precedes it: the first row whose
    cells are all names, followed only by rows of as many fields that are all numbers (empty
    cells aside). 0 where the first row already is that header, or no such row exists."""
    if len(rows) < 3:
        return 0

    def numbers(r: list[str]) -> bool:
        return all(_numeric_cell(c) for c in r) and any(c.strip() for c in r)

    width = len(rows[-1])
    if width < 2 or len(rows[0]) == width or not numbers(rows[-1]):
        return 0
    for i, row in enumerate(rows[:-1]):
        names = [c for c in row if c.strip()]
        if len(row) == width and names and not any(_numeric_cell(c) for c in names):
            rest = rows[i + 1 :]
            if all(len(r) == width and numbers(r) for r in rest):
                return i
    return 0


def _parse_csv(text: str, source: str) -> _Table:
    sample = text[:4096]
    delimiter = "\t" if sample.count("\t") > sample.count(",") else ","
    spaced = _space_separated(sample)
    if spaced:
        # Columns separated by runs of spaces (numpy.savetxt, a hand-written f"{epoch} {loss}"
        # loop): one row a line, a "# " before the header dropped.
        lines = _table_lines(io.StringIO(text, newline=None).read())
        rows = [ln.lstrip("#").split() if i == 0 else ln.split() for i, ln in enumerate(lines)]
        # A line of text printed after the table ("Stopping since valid_loss has not improved
        # in the last 300 epochs.", skorch's early stopping) ends it.
        while len(rows) > 2 and not _numeric_row(rows[-1], len(rows[0])):
            rows.pop()
    else:
        # Universal newlines: a file written with bare carriage returns (old Mac line ends, or
        # a progress line rewritten in place) is read line by line instead of failing in csv;
        # the blank lines that "\r\r\n" line ends (Keras's CSVLogger on Windows) then leave are
        # no rows.
        try:
            rows = [
                r for r in csv.reader(io.StringIO(text, newline=None), delimiter=delimiter) if r
            ]
        except csv.Error as exc:
            raise LogFormatError(f"{source}: not a readable CSV file ({exc})") from None
    while rows and not any(c.strip() for c in rows[-1]):
        rows.pop()
    preamble = _preamble(rows)
    rows = rows[preamble:]
    header = [h.strip() for h in rows[0]]
    # A header written with a trailing separator ("epoch,loss,top1,") names an empty last
    # column that the rows, written without one, do not have: drop it.
    while header and not header[-1] and all(len(r) < len(header) for r in rows[1:]):
        header.pop()
    if not rows[1:]:
        raise LogFormatError(f"{source}: header only, no data rows (columns: {', '.join(header)})")
    if len(set(header)) != len(header):
        dup = sorted({h for h in header if header.count(h) > 1})
        raise LogFormatError(f"{source}: duplicate column names {', '.join(dup)}")
    data = rows[1:]
    notes = [f"skipped {preamble} lines of a printed preamble before the table's header"]
    notes = notes if preamble else []
    long = _long_format(header, data)
    if long is not None:
        long.notes.extend(notes)
        return long
    width = len(header)
    last = len(data) - 1
    bad = {i for i, row in enumerate(data) if len(row) != width}
    uneven = min(bad, default=None)
    if bad == {last} and len(data[last]) < width:
        raise LogFormatError(
            f"{source}: truncated: last row (line {last + 2}) has {len(data[last])} of "
            f"{width} fields"
        )
    text_cols: dict[int, int] = {}
    for j in range(width):
        fails = [i for i, row in enumerate(data) if i not in bad and not _numeric_cell(row[j])]
        if not fails:
            continue
        if bad and len(fails) * _MALFORMED_SHARE < len(data) - len(bad):
            # Where lines were garbled, a cell that is no number in a column whose other
            # cells are is one more garbled line (not a text column).
            bad.update(fails)
        elif fails == [last] and any(_number(row[j]) is not None for row in data[:last]):
            raise LogFormatError(
                f"{source}: truncated: last row (line {last + 2}) has {data[last][j]!r} in "
                f"column {header[j]!r}"
            )
        else:
            text_cols[j] = fails[0]  # a text column (timestamps, run names): not a curve
    if uneven is not None and len(bad) * _MALFORMED_SHARE >= len(data):
        raise LogFormatError(
            f"{source}: line {uneven + 2} has {len(data[uneven])} fields, the header has {width}"
        )
    table = _Table(len(data) - len(bad))
    table.notes.extend(notes)
    if bad:
        # A few garbled lines among many good ones: writes cut off or interleaved (two
        # processes appending to one file, a run killed mid-line). The header still describes
        # the rest; those lines are dropped, and said so.
        first = min(bad)
        table.notes.append(
            f"skipped {len(bad)} of {len(data)} rows that do not fit the header (first: line "
            f"{first + 2}): lines cut off or written over each other"
        )
    kept = [row for i, row in enumerate(data) if i not in bad]
    split = _split_column(header, kept, text_cols)
    if split is not None:
        wide = _split_rows(header, kept, split, text_cols)
        wide.notes.extend(table.notes)
        return wide
    for j, name in enumerate(header):
        if j in text_cols:
            table.text[name] = (text_cols[j] + 2, data[text_cols[j]][j])
            continue
        table.add(name, [_number(row[j]) for row in kept])
    return table


#: The prefix each split gives its row's metrics (:data:`SPLIT_NAMES`): a training row's names
#: stay as they are.
_SPLIT_PREFIX = {
    name: "" if split == "train" else f"{split}_" for name, split in SPLIT_NAMES.items()
}


def _split_column(
    header: list[str], rows: list[list[str]], text_cols: dict[int, int]
) -> int | None:
    """The text column that says which split each row belongs to (``epoch,split,loss,...``
    with ``train`` and ``val`` rows), or ``None``: named like one, every value a split's name,
    training rows and others among them."""
    for j in text_cols:
        if normalise(header[j]) not in _SPLIT_COLUMNS:
            continue
        values = {normalise(r[j]) for r in rows}
        if values <= _SPLIT_PREFIX.keys() and len({bool(_SPLIT_PREFIX[v]) for v in values}) == 2:
            return j  # training rows and others
    return None


def _split_rows(
    header: list[str], rows: list[list[str]], split: int, text_cols: dict[int, int]
) -> _Table:
    """Rows of several splits under one header, each read under its split's names: a
    training row's ``loss`` stays ``loss``, a validation row's becomes ``val_loss`` (the step
    and epoch columns keep their names) — one row per split and epoch, as Lightning's
    ``metrics.csv`` writes its validation rows."""
    axes = {pick_step(header), pick_epoch(header)}
    records: list[dict[str, float | None]] = []
    for row in rows:
        prefix = _SPLIT_PREFIX[normalise(row[split])]
        records.append(
            {
                (name if name in axes else prefix + name): _number(row[j])
                for j, name in enumerate(header)
                if j not in text_cols
            }
        )
    return _table_from_records(records)


#: Long ("tidy") tables: one row per (step, metric) with the metric's name in a key column
#: (``epoch,split,metric,value``; MLflow's ``key,value,step,timestamp`` metric history).
_KEY_COLUMNS = ("metric", "key", "metric_name", "name", "tag")
_SPLIT_COLUMNS = ("split", "phase", "mode", "subset", "stage")


def _long_format(header: list[str], data: list[list[str]]) -> _Table | None:
    """A long table pivoted to one row per step (``None`` for any other table): a ``value``
    column, a key column naming the metric (one of :data:`_KEY_COLUMNS`) whose names include
    one that says "loss", optionally a split column (:data:`_SPLIT_COLUMNS`: ``train`` /
    ``val`` prefix the metric's name), and numeric step or epoch columns."""
    norm = [normalise(h) for h in header]
    if "value" not in norm or len(data) < 2:
        return None
    key = next((norm.index(k) for k in _KEY_COLUMNS if k in norm), None)
    if key is None:
        return None
    split = next((norm.index(k) for k in _SPLIT_COLUMNS if k in norm), None)
    value = norm.index("value")
    if any(len(r) != len(header) for r in data):
        return None
    if not any("loss" in normalise(r[key]) for r in data):
        return None
    axes = [j for j in range(len(header)) if j not in (key, split, value)]
    records: dict[tuple[str, ...], dict[str, float | None]] = {}
    try:
        for r in data:
            at = tuple(r[j].strip() for j in axes)
            rec = records.setdefault(at, {header[j]: _number(r[j]) for j in axes})
            name = r[key].strip()
            if split is not None and r[split].strip():
                name = f"{r[split].strip()}_{name}"
            rec[name] = _number(r[value])
    except ValueError:
        return None  # a text axis (a timestamp string): not this shape
    return _table_from_records(list(records.values()))


#: The rule under a printed table's header (skorch, tabulate's "simple" format): dashes
#: separated by spaces, one run per column.
_RULE = re.compile(r"^\s*-{2,}(?:\s+-{2,})*\s*$")


def _table_lines(text: str) -> list[str]:
    """The non-blank lines of a space-aligned table, colour codes and the rule under its
    header removed."""
    lines = [ln for ln in _ANSI.sub("", text).splitlines() if ln.strip()]
    return [ln for i, ln in enumerate(lines) if not (i == 1 and _RULE.match(ln))]


def _space_separated(sample: str) -> bool:
    """Whether ``sample`` (the file's start) is a table whose columns are separated by spaces:
    no comma or tab anywhere, and every one of its first lines (at least 3) splits into the same
    number (≥ 2) of fields, all but the header's numbers (colour codes and a rule of dashes
    under the header aside: a printed epoch table)."""
    if "," in sample or "\t" in sample:
        return False
    lines = _table_lines(sample)[:-1][:20]
    if len(lines) < 3:
        return False
    width = len(lines[0].lstrip("#").split())
    return width >= 2 and all(_numeric_row(ln.split(), width) for ln in lines[1:])


def _looks_like_lightning(table: _Table) -> bool:
    names = list(table.values)
    has_axes = pick_epoch(names) is not None and pick_step(names) is not None
    suffixed = any(normalise(n).endswith(("_step", "_epoch")) for n in names)
    sparse = any(not p.all() for p in table.present.values())
    return has_axes and (suffixed or sparse)


def _looks_like_wandb(table: _Table) -> bool:
    keys = set(table.values)
    return "_step" in keys and (any("/" in k for k in keys) or "_runtime" in keys)


_CHART = re.compile(r"^(?P<run>.+?) - (?P<key>.+?)(?P<agg>__MIN|__MAX)?$")


def _wandb_chart_export(table: _Table, notes: list[str]) -> _Table:
    """A W&B chart's "Export CSV": ``Step`` plus ``<run> - <key>`` (and ``__MIN``/``__MAX``
    band) columns, one group per run. Keep the last run's columns under their plain keys."""
    runs: dict[str, dict[str, str]] = {}
    for name in table.values:
        m = _CHART.match(name)
        if m and not m["agg"]:
            runs.setdefault(m["run"], {})[m["key"]] = name
    if not runs:
        return table
    run = list(runs)[-1]
    out = _Table(table.n_rows)
    for name in table.values:
        if not _CHART.match(name):
            out.values[name], out.present[name] = table.values[name], table.present[name]
    for key, name in runs[run].items():
        out.values[key], out.present[key] = table.values[name], table.present[name]
    out.text = table.text
    if len(runs) > 1:
        notes.append(f"{len(runs)} runs in this chart export; diagnosing the last, {run!r}")
    return out
