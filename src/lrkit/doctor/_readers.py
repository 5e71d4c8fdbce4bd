"""Readers for the logs people really have: CSV, Lightning ``metrics.csv``, JSON Lines, Keras
history JSON and CSVLogger files, Hugging Face ``trainer_state.json``, Ultralytics YOLO
``results.csv``, MLflow run folders, Weights & Biases history exports, TensorBoard event files,
pandas DataFrames, dicts of lists, Keras ``History``.

Every reader keeps every row: nothing is sampled or thinned. Text files are parsed from their
raw text, so an empty cell (not logged at this row, as in Lightning's sparse rows) and a logged
``nan`` (the loss really was NaN) stay different things.

This module finds the reader (:func:`read_log`: by type, folder content, file name and text);
the readers live beside it: ``_csv`` (CSV, Lightning, W&B), ``_json`` (JSON Lines, JSON,
Keras, Hugging Face), ``_yolo``, ``_mlflow``, ``_tensorboard``, ``_table`` (the shared
row-aligned ``_Table``, dicts of lists, DataFrames), ``_runs`` (restarts and resumes) and
``_assemble`` (columns to a :class:`Log`).
"""

from __future__ import annotations

import codecs
import dataclasses
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypedDict

from lrkit.doctor._assemble import _from_series, _from_table
from lrkit.doctor._columns import pick_accuracy, pick_losses, pick_lrs, pick_val_loss
from lrkit.doctor._csv import (
    _looks_like_lightning,
    _looks_like_wandb,
    _numeric,
    _numeric_cell,
    _parse_csv,
    _wandb_chart_export,
)
from lrkit.doctor._json import _looks_like_keras, _parse_json_document, _parse_jsonl
from lrkit.doctor._log import Log
from lrkit.doctor._mlflow import has_runs, read_mlflow
from lrkit.doctor._table import _is_dataframe, _table_from_dataframe, _table_from_mapping
from lrkit.doctor._text import looks_like_text_log, parse_text
from lrkit.doctor._yolo import _looks_like_yolo
from lrkit.errors import ConfigError, LogFormatError

__all__ = ["FORMATS", "ReadOptions", "read_log"]

FORMATS = (
    "csv", "lightning", "jsonl", "json", "huggingface", "yolo", "mlflow", "wandb",
    "tensorboard", "keras", "dataframe", "dict", "text",
)  # fmt: skip


class ReadOptions(TypedDict, total=False):
    """The keyword options of :func:`read_log`, which :func:`~lrkit.doctor.diagnose` passes on."""

    format: str | None
    loss: str | None
    val_loss: str | None
    lr: str | None
    step: str | None


def read_log(
    log: Any,
    *,
    format: str | None = None,
    loss: str | None = None,
    val_loss: str | None = None,
    lr: str | None = None,
    step: str | None = None,
) -> Log:
    """Parse ``log`` into a :class:`Log`.

    Args:
        log: a path (CSV, ``metrics.csv``, JSON Lines, JSON, a TensorBoard event file or run
            directory), a dict of lists, a pandas DataFrame, or a Keras ``History``.
        format: force a reader (one of ``FORMATS``); detected from the content when ``None``.
        loss, val_loss, lr, step: column (or TensorBoard tag) names, when the detection of
            aliases such as ``train_loss``/``loss``/``Loss/train`` is not enough.

    Raises:
        LogFormatError: the log is empty, truncated, binary, or has no loss column.
        ConfigError: ``format`` or a column name is not valid.

    >>> log = read_log({"step": [0, 1, 2, 3], "train_loss": [2.3, 1.9, 1.7, 1.6]})
    >>> log.loss.name, log.loss.values.tolist()
    ('train_loss', [2.3, 1.9, 1.7, 1.6])
    """
    if format is not None and format not in FORMATS:
        raise ConfigError(f"format={format!r} is not one of {', '.join(FORMATS)}")
    names = {"loss": loss, "val_loss": val_loss, "lr": lr, "step": step}
    if isinstance(log, (str, os.PathLike)):
        return _read_path(Path(log), format, names)
    if hasattr(log, "history") and isinstance(log.history, Mapping):  # keras.callbacks.History
        return _from_table(
            _table_from_mapping(log.history, "<History>"), "<History>", "keras", names
        )
    if _is_dataframe(log):
        return _from_table(_table_from_dataframe(log), "<DataFrame>", "dataframe", names)
    if isinstance(log, Mapping):
        fmt = format or ("keras" if _looks_like_keras(log) else "dict")
        return _from_table(_table_from_mapping(log, "<dict>"), "<dict>", fmt, names)
    raise ConfigError(
        f"log={type(log).__name__} is not a path, dict of lists, DataFrame or Keras History"
    )


# ----------------------------------------------------------------------------- paths


def _read_path(path: Path, format: str | None, names: dict[str, str | None]) -> Log:
    if not path.exists():
        raise LogFormatError(f"{path}: no such file or directory")
    if format == "mlflow" or (format is None and path.is_dir() and has_runs(path)):
        series, source, ml_notes = read_mlflow(path)
        return _from_series(series, source, "mlflow", names, ml_notes)
    if path.is_dir() and format != "tensorboard":
        inner = _log_in_dir(path)
        if inner is None:
            raise LogFormatError(
                f"{path}: the folder holds no log lrkit can read (looked for TensorBoard event "
                "files, metrics.csv, trainer_state.json, results.csv, *.csv, *.jsonl, *.json, "
                "MLflow metrics/)"
            )
        if inner != path:
            return _read_path(inner, format, names)
    if path.is_dir() or format == "tensorboard" or "tfevents" in path.name:
        from lrkit.doctor._tensorboard import read_tensorboard

        series = read_tensorboard(path)
        return _from_series(series, str(path), "tensorboard", names)
    raw = path.read_bytes()
    if not raw.strip():
        raise LogFormatError(f"{path}: file is empty")
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        # UTF-16 with its byte-order mark: what Windows PowerShell's ``>`` writes
        # (``python train.py > train.log``); every other character a NUL byte.
        try:
            text = raw.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise LogFormatError(
                f"{path}: not UTF-16 text after its byte-order mark ({exc.reason})"
            ) from None
        return _read_decoded(path, text, format, names)
    holes = _nul_holes(raw)
    if holes:
        # Runs of NUL bytes inside a text log: the holes a log file gets when it is truncated
        # (``> train.log``) while the training process keeps writing at its old offset, or
        # when a crash leaves preallocated blocks unwritten. The text around them is the log.
        raw = raw.replace(b"\x00", b"")
        log = _read_text(path, raw, format, names)
        note = f"removed {holes} NUL bytes (holes in a log truncated or cut off while written)"
        return dataclasses.replace(log, notes=(*log.notes, note))
    if b"\x00" in raw[:65536]:
        raise LogFormatError(f"{path}: binary content, not a text log (CSV, JSON Lines or JSON)")
    return _read_text(path, raw, format, names)


#: Control bytes a text log does not hold (tab, line ends and the escape of colour codes aside).
_CONTROL = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1a\x1c-\x1f]")


def _nul_holes(raw: bytes) -> int:
    """How many NUL bytes a text log holds in runs (0 where it has none or is binary): the
    rest must be UTF-8 text with line breaks and no other control bytes, and the NULs at most
    half the file."""
    n = raw.count(b"\x00")
    if n == 0 or n > len(raw) // 2:
        return 0
    rest = raw.replace(b"\x00", b"")
    if _CONTROL.search(rest) or b"\n" not in rest:
        return 0
    try:
        rest.decode("utf-8-sig")
    except UnicodeDecodeError:
        return 0
    return n


def _read_text(path: Path, raw: bytes, format: str | None, names: dict[str, str | None]) -> Log:
    note = None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if _CONTROL.search(raw) or b"\n" not in raw:
            raise LogFormatError(
                f"{path}: not UTF-8 text (byte {exc.start}); expected CSV, JSON Lines or JSON"
            ) from None
        # Text in a legacy encoding: Chinese in GBK (GB18030) where it decodes as such and
        # every non-ASCII character is a CJK one (its loss named 损失); else the numbers and
        # the names lrkit reads are ASCII, the same bytes in every such encoding (cp1252, ...),
        # and Latin-1 maps every byte to one character, so only the non-ASCII words come out
        # wrong.
        chinese = _chinese(raw)
        text = chinese if chinese is not None else raw.decode("latin-1")
        how = (
            "GB18030 (Chinese)" if chinese is not None else "Latin-1; non-ASCII words show garbled"
        )
        note = f"not UTF-8 (byte {exc.start}): read as {how}"
    log = _read_decoded(path, text, format, names)
    return log if note is None else dataclasses.replace(log, notes=(*log.notes, note))


def _chinese(raw: bytes) -> str | None:
    """``raw`` decoded as GB18030 where it decodes strictly, every non-ASCII character is a
    CJK ideograph or CJK / full-width punctuation, and most of them stand beside another (words
    of two or more characters); ``None`` otherwise. An accented Latin letter and the ASCII
    letter after it also form a valid GBK pair (cp1252's ``Début``), but one alone inside a
    Latin word."""
    try:
        text = raw.decode("gb18030")
    except UnicodeDecodeError:
        return None
    at = [i for i, ch in enumerate(text) if ord(ch) > 127]
    cjk = all(
        "\u4e00" <= text[i] <= "\u9fff"
        or "\u3000" <= text[i] <= "\u303f"
        or "\uff00" <= text[i] <= "\uffef"
        for i in at
    )
    wide = set(at)
    paired = sum(1 for i in at if i - 1 in wide or i + 1 in wide)
    return text if at and cjk and paired >= 0.6 * len(at) else None


def _read_decoded(path: Path, text: str, format: str | None, names: dict[str, str | None]) -> Log:
    conflict = _CONFLICT.search(text)
    if conflict is not None:
        line = text.count("\n", 0, conflict.start()) + 1
        raise LogFormatError(
            f"{path}: unresolved git merge-conflict markers (line {line}: "
            f"{conflict.group().strip()[:20]!r}): keep one side of the conflict, then run again"
        )
    named = _named_lists(text) if format is None else None
    if named is not None:
        # ``loss:[0.67, 0.09, ...]`` a line: a Keras history dict printed one key a line.
        text = json.dumps(named)
    fmt = format or ("json" if named is not None else _sniff(path, text))
    listed = _number_list(text) if format is None and fmt == "json" else None
    if listed is not None and _bare_name(path) is not None:
        # [0.55, 0.51, ...]: a Python list or JSON array of one value per step, dumped with
        # print(losses) or json.dump(losses) — the same one-number-a-line log, on one line.
        text, fmt = "\n".join(listed) + "\n", "csv"
    if fmt == "text" or (format is None and fmt == "csv" and looks_like_text_log(text)):
        return _from_table(parse_text(text), str(path), "text", names)
    if fmt in ("csv", "lightning", "yolo", "wandb"):
        notes: list[str] = []
        text = _name_headerless(path, text, notes) if fmt == "csv" else text
        table = _parse_csv(text, str(path))
        table = _wandb_chart_export(table, notes)
        if format is None:
            if _looks_like_yolo(table):
                fmt = "yolo"
            elif _looks_like_wandb(table):
                fmt = "wandb"
            elif _looks_like_lightning(table):
                fmt = "lightning"
        return _from_table(table, str(path), fmt, names, notes)
    if fmt == "jsonl" and (format == "jsonl" or len(text.strip().splitlines()) > 1):
        return _from_table(_parse_jsonl(text, str(path)), str(path), "jsonl", names)
    # json / keras / huggingface: one document — or a printed log that starts with a bracket
    # (``[INFO|trainer.py:2048] ...``, ``[2025-10-20 21:19] ...``).
    try:
        table, kind = _parse_json_document(text, str(path))
    except LogFormatError:
        # Only where the text never was JSON: a truncated or broken document keeps its error.
        if format is None and not _JSON_START.match(text):
            if looks_like_text_log(text):
                return _from_table(parse_text(text), str(path), "text", names)
            raise LogFormatError(
                f"{path}: a printed log in which no two lines hold a value named as a loss "
                "(such as 'loss: 0.52' or 'train_loss=0.52'): nothing to diagnose"
            ) from None
        raise
    return _from_table(table, str(path), format or kind, names)


def _name_headerless(path: Path, text: str, notes: list[str]) -> str:
    """``text`` with a header row where it has none and its file is named after a loss
    (``loss.txt``, ``loss_log.txt``, ``val_loss.csv``): one number a line is that loss, two
    are a counter and that loss (a hand-written loop writing ``epoch,loss`` a line).
    Anything else without a header keeps its error (the columns cannot be told apart)."""
    stem = path.stem
    bare = _bare_numbers(text)
    name = _bare_name(path) if bare is not None else None
    if bare is not None and name is not None:
        skipped = sum(1 for ln in text.splitlines() if ln.strip()) - len(bare)
        how = "the file is named after its loss" if name == stem else "nothing else is logged"
        notes.append(
            f"no header row: {len(bare)} bare numbers, read as {name} ({how}"
            + (f"; {skipped} section line(s) such as 'Epoch 1' skipped" if skipped else "")
            + ")"
        )
        return name + "\n" + "\n".join(bare) + "\n"
    if _bare_name(path) != stem:
        return text  # the name says no loss: the columns cannot be told apart
    lines = text.splitlines()
    at = next((i for i, ln in enumerate(lines) if ln.strip()), 0)
    first = lines[at] if lines else ""
    sep = next((c for c in ",\t" if c in first), " ")
    fields = [f.strip() for f in first.strip().split(None if sep == " " else sep)]
    unnamed = sep != " " and len(fields) == 2 and not fields[0] and fields[1].isdigit()
    if unnamed:
        # pandas' Series.to_csv(): an empty index name and the series' default name, 0 —
        # a header that names nothing (read as a first row of numbers, it was a loss of 0).
        text = "\n".join(lines[at + 1 :]) + "\n"
    elif not 1 <= len(fields) <= 2 or not all(f and _numeric(f) for f in fields):
        return text
    header = [stem] if len(fields) == 1 else ["step", stem]
    notes.append(
        f"no header row{' naming its columns' if unnamed else ''}: read as {', '.join(header)} "
        "(the file is named after its loss)"
    )
    return sep.join(header) + "\n" + text


def _bare_numbers(text: str) -> list[str] | None:
    """The values of a log that holds one number a line and nothing else but a few section
    lines (``Epoch 1``, ``Done!``: at most one in twenty lines; a first line without a digit
    is a header that names the column, read as a table), at least ``_BARE_MIN`` of them;
    ``None`` for anything else."""
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if lines and not _numeric_cell(lines[0]) and not any(ch.isdigit() for ch in lines[0]):
        return None  # a header that names the column ('% mean class accuracy'), no section
    values = [ln for ln in lines if _numeric_cell(ln)]
    if len(values) < _BARE_MIN or len(lines) - len(values) > len(lines) // 20:
        return None
    return values


def _number_list(text: str) -> list[str] | None:
    """The values of a document that is one list of numbers (``[0.55, 0.51, nan, ...]``,
    as ``print(losses)`` or ``json.dump(losses)`` write it), at least ``_BARE_MIN``."""
    body = text.strip()
    if not (body.startswith("[") and body.endswith("]")):
        return None
    values = _listed(body[1:-1])
    return values if values is not None and len(values) >= _BARE_MIN else None


def _listed(body: str) -> list[str] | None:
    """The numbers of a printed list's inside (``0.55, 0.51, nan``); ``None`` where a cell is
    no number or the list is empty."""
    values = [v.strip() for v in body.split(",")]
    return values if values and all(v and _numeric_cell(v) for v in values) else None


#: ``name: [v, v, ...]`` on one line (``name=``, quoted names, a trailing comma too).
_NAMED_LIST = re.compile(
    r"""^\s*['"]?(?P<name>[A-Za-z_][\w/. -]*?)['"]?\s*[:=]\s*\[(?P<body>[^\[\]]*)\]\s*,?\s*$"""
)


def _named_lists(text: str) -> dict[str, list[float]] | None:
    """The series of a document whose every line is ``name: [v, v, ...]`` — a training
    history printed one key a line (``for k, v in history.history.items(): print(f"{k}:{v}")``)
    — where a name says loss; ``None`` for anything else."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    out: dict[str, list[float]] = {}
    for line in lines:
        m = _NAMED_LIST.match(line)
        if m is None:
            return None
        cells = _listed(m["body"].strip().rstrip(","))
        if cells is None:
            return None
        out[m["name"].strip()] = [float(v) for v in cells]
    return out if out and pick_losses(out) else None


def _bare_name(path: Path) -> str | None:
    """What a column of bare numbers is: the loss its file is named after (``loss.txt``,
    ``val_loss.txt``); the training loss where the name says nothing else (``train_log.txt``,
    ``output.txt``: a training log that logs one number logs its loss) — but not where it names
    an LR or an accuracy (``None``: the numbers are not a loss)."""
    stem = path.stem
    if pick_losses([stem]) or pick_val_loss([stem]):
        return stem
    if pick_lrs([stem]) or any(pick_accuracy([stem], val=v) for v in (False, True)):
        return None
    return "loss"


#: Fewest bare numbers read as a loss curve.
_BARE_MIN = 10

#: Git's conflict markers, left in a committed log by a merge (two runs' versions of one file).
_CONFLICT = re.compile(r"^(?:<{7}|>{7})(?: .*)?$", re.MULTILINE)

#: How a JSON document starts: an object, or an array of values (a logger's ``[INFO|...]``
#: or ``[2025-10-20 21:19:13 ...]`` prefix is none: a number in an array ends at a comma or
#: the bracket, a date goes on with "-").
_JSON_START = re.compile(
    r"\s*(?:\{|\[\s*(?:[\[{\"\]]|-?\d+(?:\.\d*)?(?:[eE][+-]?\d+)?\s*[,\]]|true|false|null))"
)

#: Files a training tool writes, in the order they are looked for inside a folder.
_KNOWN_FILES = ("metrics.csv", "trainer_state.json", "results.csv", "training.log", "history.csv")


def _log_in_dir(path: Path) -> Path | None:
    """The log inside a folder: the folder itself (TensorBoard), a known file, or the only
    text log. ``None`` when there is nothing readable."""
    if any(p.is_file() for p in path.rglob("*tfevents*")):
        return path
    for name in _KNOWN_FILES:
        hits = sorted(path.rglob(name), key=lambda p: (p.stat().st_mtime, str(p)))
        if hits:
            return hits[-1]  # the newest run (checkpoint-N/trainer_state.json: the latest)
    texts = [
        p
        for p in sorted(path.iterdir())
        if p.is_file() and p.suffix.lower() in (".csv", ".jsonl", ".ndjson", ".json", ".tsv")
    ]
    return texts[0] if len(texts) == 1 else None


def _sniff(path: Path, text: str) -> str:
    head = text.lstrip()
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        return "jsonl"
    if head.startswith("["):
        return "json"
    if head.startswith("{"):
        # One JSON document spread over lines (Keras history) or one object per line?
        first = head.splitlines()[0].strip()
        try:
            json.loads(first)
        except json.JSONDecodeError:
            return "json"
        return "jsonl"
    return "csv"
