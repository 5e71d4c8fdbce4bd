"""A reader for training logs printed to a console and saved as text: one line per logged
point, its values as ``name: value`` or ``name=value`` pairs (``Epoch 3/200 | Loss: 0.5895``,
``[epoch 2] step 400 train_loss=0.41 val_loss=0.52``, ``Epoch [1/10], Step [100/600], Loss:
0.2345``, Keras's ``loss: 0.5 - accuracy: 0.8 - val_loss: 0.6`` under an ``Epoch 1/10`` line,
Darknet's ``1: 1957.6, 1957.6 avg loss, 0.001 rate, ...``) — or, where no line names a value,
a table whose header row is printed again every epoch with the epoch's values below it
(Ultralytics' console output), or one ``step name value`` a line (build-nanogpt's ``log.txt``).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from lrkit.doctor._columns import (
    _LOSS_WORDS,
    _OBJECTIVE_WORDS,
    PSNR,
    SPLIT_NAMES,
    normalise,
    pick_lrs,
)
from lrkit.doctor._csv import _ANSI, _numeric
from lrkit.doctor._table import _Table, _table_from_records

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|[-+]?(?:nan|inf)"
# ``name: value`` / ``name=value``: a name of word characters (and ``/`` or ``.`` inside),
# then a number that is not the start of a longer token (a time ``12:30`` stays out).
# A quoted name is a printed Python dict (``{'loss': 0.69, 'grad_norm': 14.4}``, as the
# Hugging Face Trainer prints its logs to the console); a quoted number is a JSON record
# printed in a log line (fairseq's ``| train_inner | {"epoch": 2, "loss": "2.474", ...}``).
_PAIR = re.compile(
    rf"(?<![\w/.])['\"]?(?P<name>[^\W\d][\w/.]*(?: [A-Za-z_]\w*)?)['\"]?\s*[:=：]\s*"
    rf"(?P<q>['\"]?)(?P<value>{_NUMBER})(?P=q)(?![\w:/])",
    re.IGNORECASE,
)
# ``epoch 3``, ``ep=20`` (a PINN's printout), ``Epoch 3/200``, ``Epoch [1/10]``, ``step 400``,
# ``Iter [100/600]``.
_COUNTER = re.compile(
    r"\b(?P<name>epoch|ep|step|iter|iteration|batch)\s*[:=]?\s*\[?\s*(?P<value>\d+)\s*(?:/\s*\d+)?\s*\]?",
    re.IGNORECASE,
)
_LOSS_KEY = re.compile(r"loss", re.IGNORECASE)
# An average meter's ``name value (average)`` (PyTorch's ImageNet example: ``Loss 6.9e+00
# (6.9e+00)``; Swin-style loggers: ``loss 2.3114 (2.4464)``): the value, not the running mean.
_METER = re.compile(
    rf"(?<![\w/.])(?P<name>[A-Za-z_][\w/.@]*)\s+(?P<value>{_NUMBER})\s+\((?:{_NUMBER})\)",
    re.IGNORECASE,
)
# The LR or a loss printed without a separator (``lr 0.003000``, ``test_loss 3.000258``,
# ``Val Loss 2.305``: a split's name before it is part of the name).
_BARE = re.compile(
    r"\b(?P<name>lr|learning_rate|(?:(?:train|training|val|valid|validation|test|eval)[ _])?"
    rf"\w*loss(?:_\w+)?)\s+(?P<value>{_NUMBER})(?![\w:/])(?!\s*\()",
    re.IGNORECASE,
)
# A word that makes the name after it a summary of the run (``- Best Validation Loss: 0.31
# (Epoch 15)`` in a Markdown log's header), not a logged point: the pattern above would read
# its last two words as the name.
_SUMMARY = re.compile(r"\b(?:best|lowest|minimum|min)\s+$", re.IGNORECASE)
# The banner pytorch-CycleGAN-and-pix2pix's Visualizer writes atop each run of its
# ``loss_log.txt`` (``================ Training Loss (Tue Nov 17 03:34:35 2020) ======``); the
# lines below it (``(epoch: 1, iters: 100, time: 0.340, data: 0.139) D_A: 0.446 G_A: 0.423
# cycle_A: 2.365 ...``) name each loss term without the word, and no total.
_LOSS_BANNER = re.compile(r"^\s*=+\s*Training Loss\s*\(.*\)\s*=+\s*$", re.IGNORECASE)
# ... the names on those lines that are no loss term: the counters and the timings.
_NOT_TERMS = frozenset({"epoch", "iters", "iter", "step", "time", "data", "lr"})
# A line that reports an evaluation (``Validate: Time ... Loss ...``, ``Test: [ 0/196] ...``,
# and with one word between: PyTorch's MNIST example ``Test set: Average loss: ...``, the
# CS230 template's ``Eval metrics: accuracy: 0.22 ; loss: 2.69``), the tag before its first
# loss: its unqualified names are the validation split's.
_EVAL_LINE = re.compile(
    r"\b(?:val|valid|validate|validation|eval|evaluate|evaluation|test)(?:\s+[a-z]+)?\s*[:\[]",
    re.I,
)
# A value printed in a sentence: ``val loss is 0.0297``, ``avg loss so far is 0.1098``,
# ``current lr is 0.001`` (PaddlePaddle's and many hand-written loops' prints): a name of one
# to four words, then ``is``, then a number that ends the token.
_IS = re.compile(
    rf"(?<![\w/.])(?P<name>[A-Za-z_]\w*(?: [A-Za-z_]\w*){{0,3}})\s+is\s+(?P<value>{_NUMBER})"
    rf"(?![\w:/])",
    re.IGNORECASE,
)
# A loss printed after its value, where no line names one before it (``Epoch 3 @ 10:27 PM :
# 0.9816 C.E. Loss, 94.28% Accuracy``): a number, then up to two words and ``loss``.
_SUFFIX = re.compile(
    rf"(?<![\w.:])(?P<value>{_NUMBER})\s+(?P<name>(?:[A-Za-z][\w.]*\s+){{0,2}}loss)\b",
    re.IGNORECASE,
)
_SPLITS = ("train", "val", "valid", "eval", "test", "dev")
# A split's name alone before a number (``epoch 201 | train 1.1132 (seg 0.08, thick 1.04) |
# val 1.3223 | lr 3.9e-06``): where no line names a loss at all, that split's loss.
_SPLIT_VALUE = re.compile(
    rf"(?<![\w/.])(?P<name>train|training|val|valid|validation|eval|test|dev)\s*[:=]?\s+"
    rf"(?P<value>{_NUMBER})(?![\w:/])",
    re.IGNORECASE,
)
# Darknet's (YOLOv3/v4) training printout: ``1: 1957.6, 1957.6 avg loss, 0.000000 rate, 22.3
# seconds, 64 images``: the iteration, the batch's loss, its running mean, the LR.
_DARKNET = re.compile(
    rf"^\s*(?P<step>\d+)\s*:\s*(?P<loss>{_NUMBER}),\s*(?:{_NUMBER})\s+avg(?: loss)?,"
    rf"\s*(?P<lr>{_NUMBER})\s+rate\b",
    re.IGNORECASE,
)


# A table printed with its header every epoch (Ultralytics YOLOv5/v8/11 on the console):
#       Epoch    GPU_mem   box_loss   cls_loss   dfl_loss  Instances       Size
#       1/100      2.13G      1.234      4.830      1.533         73        640: 100%|███| 50/50
# the row redrawn by its progress bar (carriage returns) as the epoch goes on; or one such
# table per experiment in a written report. Header cells are names, apart by two spaces or
# more (``Epoch    Loss      Validation Accuracy``: one name may hold single spaces); a value
# cell is a number, a counter ``1/100`` (its count) or a size with its unit (``2.13G``, not a
# curve), and the last one may end in a colon.
_HEAD_CELL = re.compile(r"^[A-Za-z_][\w()/.-]*(?: [A-Za-z_][\w()/.-]*)*$")
_HEAD_GAP = re.compile(r"\s{2,}")
_VALUE_CELL = re.compile(
    rf"^(?:(?P<count>\d+)/\d+|(?P<number>{_NUMBER})(?P<unit>[KMGT]i?B?)?):?$", re.IGNORECASE
)


def _column_records(lines: list[str]) -> list[dict[str, float]]:
    """The rows of a table whose header row (names only, one of them a loss) is printed at
    least twice, each row read under the header above it; a row redrawn in place (the same
    first cell again under one header: a progress bar's updates) keeps its last drawing — the
    mean over the whole epoch. Empty where no header repeats (a table printed once is a
    whitespace-separated file, the CSV reader's)."""

    def header(line: str) -> tuple[str, ...] | None:
        cells = _HEAD_GAP.split(line.strip())
        ok = len(cells) >= 3 and all(map(_HEAD_CELL.match, cells)) and any(map(_says_loss, cells))
        return tuple(cells) if ok else None

    heads = Counter(h for h in map(header, lines) if h is not None)
    if not heads or max(heads.values()) < 2:
        return []
    records: list[dict[str, float]] = []
    head: tuple[str, ...] | None = None
    first: float | None = None  # the first cell of the last row read under ``head``
    for line in lines:
        h = header(line)
        if h is not None and h in heads:
            head, first = h, None
            continue
        cells = line.split()
        if head is None or len(cells) < len(head):
            continue
        matches = [_VALUE_CELL.match(c) for c in cells[: len(head)]]
        if not all(matches):
            continue
        row = {
            name: float(m["count"] if m["count"] is not None else m["number"])
            for name, m in zip(head, matches)
            if m is not None and m["unit"] is None
        }
        if not any(map(_says_loss, row)):
            continue
        key = row.get(head[0])
        if first is not None and key == first:
            records[-1] = row
        else:
            records.append(row)
        first = key
    return records


# A sideways table printed each epoch: one row per metric, one column per split, cells apart
# by a bar (a hand-written or ``tabulate``/``prettytable`` report, often behind a logging
# prefix):
#   2026-01-18 20:37:25,858 - METRIC     | TRAIN      | VALIDATION
#   2026-01-18 20:37:25,859 - Loss       | 0.4471     | 0.7802
_BAR = re.compile(r"\s*[|│┃]\s*")


def _metric_split_records(lines: list[str]) -> list[dict[str, float]]:
    """One record per printing of a sideways table: its header row names the splits after a
    first cell (``METRIC | TRAIN | VALIDATION``), each row below it a metric's value per split
    (``Loss | 0.45 | 0.78`` → ``train_loss``, ``val_loss``). A row's name is read from where
    the header's first cell begins, so a logging prefix before both is no part of it. Empty
    unless at least two printings hold a loss."""
    records: list[dict[str, float]] = []
    splits: list[str] = []
    at = 0  # where the header's first cell begins: the rows' names begin there too
    for line in lines:
        cells = _BAR.split(line.rstrip().strip("|│┃ "))
        words = [normalise(c) for c in cells[1:]]
        if len(cells) >= 2 and all(w in SPLIT_NAMES for w in words):
            head = cells[0].split()
            bar = _BAR.search(line)
            at = line.rfind(head[-1], 0, bar.start() if bar else len(line)) if head else 0
            splits = [SPLIT_NAMES[w] for w in words]
            records.append({})
            continue
        if not splits or len(cells) != len(splits) + 1:
            continue
        name = normalise(_BAR.split(line[at:].strip("|│┃ "))[0])
        try:
            values = [float(c) for c in cells[1:]]
        except ValueError:
            continue
        if name:
            records[-1].update({f"{sp}_{name}": v for sp, v in zip(splits, values)})
    records = [r for r in records if any(map(_says_loss, r))]
    return records if len(records) >= 2 else []


# One value a line, after its step and its name (Karpathy's build-nanogpt ``log.txt``:
# ``250 val 4.1023``, ``251 train 4.0876``, ``250 hella 0.2612``).
_STEP_NAME_VALUE = re.compile(
    rf"^\s*(?P<step>\d+)\s+(?P<name>[A-Za-z_][\w/.-]*)\s+(?P<value>{_NUMBER})\s*$", re.IGNORECASE
)


def _step_name_value_records(lines: list[str]) -> list[dict[str, float]]:
    """The records of a log written ``step name value`` a line, where a split's name alone
    (``train``, ``val``) names that split's loss — the one number the log gives for it. Empty
    unless at least two lines say ``train``."""
    records: list[dict[str, float]] = []
    for line in lines:
        m = _STEP_NAME_VALUE.match(line)
        if m is not None:
            name = m["name"]
            if normalise(name) in _SPLITS:
                name = f"{name}_loss"
            records.append({"step": float(m["step"]), name: float(m["value"])})
    trains = sum("train_loss" in map(normalise, r) for r in records)
    return records if trains >= 2 else []


def _summed_losses(records: list[dict[str, float]]) -> str | None:
    """Loss components printed side by side (``box_loss cls_loss dfl_loss``), no total and no
    split named: the training loss is their sum (as Ultralytics' trainer adds them up), added
    to each row as ``loss``; the note that says so, or ``None`` where nothing was added."""
    names = [k for k in records[0] if _says_loss(k)]
    if len(names) < 2 or any(normalise(k) == "loss" for k in names):
        return None
    if any(set(normalise(k).split("_")) & set(_SPLITS) for k in names):
        return None
    for r in records:
        if all(k in r for k in names):
            r["loss"] = sum(r[k] for k in names)
    return f"the training loss is the sum of the {len(names)} printed components"


def _pairs(line: str, suffix: bool = False, split: bool = False) -> dict[str, float]:
    """``line``'s ``name: value`` pairs; with ``suffix`` also losses printed after their value
    (:data:`_SUFFIX`: only where no line of the log names a loss before its value); with
    ``split`` a split's name alone before a number as that split's loss (:data:`_SPLIT_VALUE`:
    only where no line names a loss either way)."""
    dark = _DARKNET.match(line)
    if dark is not None:
        return {"step": float(dark["step"]), "loss": float(dark["loss"]), "lr": float(dark["lr"])}
    out: dict[str, float] = {}
    if split:
        for m in _SPLIT_VALUE.finditer(line):
            out.setdefault(f"{normalise(m['name'])}_loss", float(m["value"]))
    for m in _COUNTER.finditer(line):
        out.setdefault(normalise(m["name"]), float(m["value"]))
    found: dict[str, float] = {}
    for pattern in (_METER, _PAIR, _BARE, _IS, *((_SUFFIX,) if suffix else ())):
        for m in pattern.finditer(line):
            if _SUMMARY.search(line, 0, m.start()):
                continue  # ``Best Train Loss: 0.1175``: the run's summary, not a point of it
            name = m["name"].strip()
            if normalise(name) not in out and name not in found:
                found[name] = float(m["value"])
    tag, loss = _EVAL_LINE.search(line), _LOSS_KEY.search(line)
    evaluation = tag is not None and (loss is None or tag.start() < loss.start())
    for name, value in found.items():
        if evaluation and not normalise(name).startswith(_SPLITS):
            name = f"val_{name}"
        out[name] = value
    return out


def _banner_terms(per_line: list[dict[str, float]]) -> tuple[list[dict[str, float]], str | None]:
    """Under a ``Training Loss`` banner (:data:`_LOSS_BANNER`), every name but the counters
    and timings is a loss term: each renamed ``<name>_loss``, and the training loss their sum
    (:func:`_summed_losses`, which returns the note that says so)."""
    terms = [
        {k if normalise(k) in _NOT_TERMS else f"{k}_loss": v for k, v in p.items()}
        for p in per_line
    ]
    full = [p for p in terms if any(k.endswith("_loss") for k in p)]
    return terms, (_summed_losses(full) if full else None)


def _csv_header(lines: list[str]) -> bool:
    """Whether ``lines[0]`` heads a CSV table: it splits on commas into fields and most of
    the lines below are rows of as many fields, mostly numbers (a logger's timestamp
    ``21:16:20,207`` or a prose line with a comma heads no such rows)."""
    width = lines[0].count(",")
    below = lines[1:21]
    if width == 0 or not below:
        return width > 0
    rows = [ln.split(",") for ln in below if ln.count(",") == width]
    # Mostly numbers, and at least one that is not empty (a config dump's '"lr": 0.1,' splits
    # into a name and an empty cell).
    numeric = [
        r
        for r in rows
        if sum(map(_numeric, r)) >= 0.5 * len(r) and any(f.strip() and _numeric(f) for f in r)
    ]
    return len(numeric) >= 0.5 * len(below)


def _says_loss(name: str) -> bool:
    """``loss`` in the name, or the word in another language (``当前损失值``, ``Verlust``)."""
    return _LOSS_KEY.search(name) is not None or _LOSS_WORDS.search(normalise(name)) is not None


def _names_objective(name: str) -> bool:
    return _OBJECTIVE_WORDS.search(normalise(name)) is not None


def _names_psnr(name: str) -> bool:
    return PSNR.search(normalise(name)) is not None


def _loss_test(records: Iterable[Mapping[str, float]]) -> Callable[[str], bool] | None:
    """How this log names its loss, from its lines' name/value pairs: ``loss`` where at least
    two lines hold such a value, else the objective named by what it computes where two lines
    do (OpenNMT's ``xent: 3.29``, as the column reader tries ``mse``/``nll``/``xent`` when no
    column says loss), else a PSNR (an image restorer's ``Val_PSNR: 28.86``, which stands for
    a squared error); ``None`` when none. One pass, which stops at the second ``loss``."""
    hits = {_says_loss: 0, _names_objective: 0, _names_psnr: 0}
    for pairs in records:
        for test in hits:
            hits[test] += any(test(k) for k in pairs)
        if hits[_says_loss] >= 2:
            return _says_loss
    return next((test for test in (_names_objective, _names_psnr) if hits[test] >= 2), None)


def looks_like_text_log(text: str) -> bool:
    """Whether ``text`` is a printed log: its first line is no CSV header (unless it already
    holds a loss value) and at least two lines hold a loss value (anywhere in the file: a
    long preamble of warnings may come first)."""
    lines = [ln for ln in _ANSI.sub("", text).splitlines() if ln.strip()]
    if not lines:
        return False
    if _LOSS_BANNER.match(lines[0]):
        return True
    first = _pairs(lines[0])
    if not any(_says_loss(k) for k in first) and _csv_header(lines):
        return False
    if _loss_test(_records(lines)) is not None:
        return True
    return (
        len(_column_records(lines)) >= 2
        or bool(_step_name_value_records(lines))
        or bool(_metric_split_records(lines))
        or bool(_split_records(lines))
    )


def _records(lines: list[str]) -> list[dict[str, float]]:
    """Each line's pairs: read with :data:`_SUFFIX` too where no two lines name a loss before
    its value."""
    per_line = [_pairs(line) for line in lines]
    if _loss_test(per_line) is None:
        per_line = [_pairs(line, suffix=True) for line in lines]
    return per_line


def _split_records(lines: list[str]) -> list[dict[str, float]]:
    """Each line's pairs read with :data:`_SPLIT_VALUE` too, where two lines or more print a
    training split's value; else empty. The last resort: no line names a loss either way."""
    split = [_pairs(line, split=True) for line in lines]
    trains = sum(("train_loss" in p or "training_loss" in p) for p in split)
    return split if trains >= 2 else []


def parse_text(text: str) -> _Table:
    """One record per line that holds a loss value; an ``Epoch N`` line without one sets the
    epoch (Keras's progress output) and, where it prints one, the LR (``Starting epoch 3
    current lr is 0.001``) of the lines below it."""
    records: list[Mapping[str, Any]] = []
    carried: dict[str, float] = {}
    lines = _ANSI.sub("", text).splitlines()
    per_line = _records(lines)
    if _loss_test(per_line) is None and any(_LOSS_BANNER.match(ln) for ln in lines):
        per_line, note = _banner_terms(per_line)
        if note:
            table = _table_from_records([p for p in per_line if "loss" in p])
            table.notes.append(note)
            return table
    if _loss_test(per_line) is None:
        rows = _column_records(lines)
        if len(rows) >= 2:
            note = _summed_losses(rows)
            table = _table_from_records(rows)
            table.notes.extend([note] if note else [])
            return table
        rows = _step_name_value_records(lines) or _metric_split_records(lines)
        if rows:
            return _table_from_records(rows)
        per_line = _split_records(lines) or per_line
    is_loss = _loss_test(per_line) or _says_loss
    for pairs in per_line:
        if not any(is_loss(k) for k in pairs):
            if "epoch" in pairs:  # an epoch's header line (a config dump's lr stays out)
                lrs = pick_lrs(pairs)
                carried = {"epoch": pairs["epoch"], **({lrs[0]: pairs[lrs[0]]} if lrs else {})}
            continue
        if carried:
            pairs = {**{k: v for k, v in carried.items() if k not in pairs}, **pairs}
        records.append(pairs)
    # A name seen on one line only, among many, is a setting printed once (a config dump's
    # ``transfer_loss_weight=1.0``), not a logged series.
    if len(records) >= 3:
        counts = Counter(k for r in records for k in r)
        records = [{k: v for k, v in r.items() if counts[k] > 1} for r in records]
    return _table_from_records(records)
