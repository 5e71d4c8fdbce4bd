"""TensorBoard event files, read with tensorboard's own reader and no sampling.

``EventAccumulator`` keeps only a reservoir sample (10,000 scalars) by default; passing
``size_guidance`` 0 keeps everything. PyTorch's ``SummaryWriter.add_scalar`` writes plain
scalar summaries; TF2 (and ``add_scalar(new_style=True)``) write rank-0 tensors: both are read.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from lrkit.doctor._log import Series
from lrkit.errors import LogFormatError, require

__all__ = ["read_tensorboard"]


def _run_dirs(path: Path) -> list[Path]:
    if path.is_file():
        return [path]
    dirs = sorted({p.parent for p in path.rglob("*tfevents*") if p.is_file()})
    if not dirs:
        raise LogFormatError(f"{path}: no TensorBoard event files (events.out.tfevents.*) found")
    return dirs


def read_tensorboard(path: Path) -> dict[str, Series]:
    """Every scalar tag under ``path`` (an event file or a run directory, searched recursively).

    Tags from a sub-directory are prefixed with its relative path, as TensorBoard shows them
    (``add_scalars("loss", {"train": ...})`` writes ``loss_train/loss``).
    """
    require("tensorboard", "tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.util import tensor_util

    found: dict[str, Series] = {}
    root = path if path.is_dir() else path.parent
    for run in _run_dirs(path):
        acc = EventAccumulator(str(run), size_guidance={"scalars": 0, "tensors": 0})
        try:
            acc.Reload()
        except Exception as exc:  # the reader raises assorted errors on corrupt files
            raise LogFormatError(f"{run}: unreadable event file ({exc})") from None
        prefix = "" if run == root or run.is_file() else f"{run.relative_to(root).as_posix()}/"
        tags = acc.Tags()
        for tag in tags.get("scalars", []):
            events = acc.Scalars(tag)
            steps = np.array([e.step for e in events], dtype=float)
            values = np.array([e.value for e in events], dtype=float)
            found[prefix + tag] = Series(prefix + tag, steps, values)
        for tag in tags.get("tensors", []):
            events = acc.Tensors(tag)
            vals: list[float] = []
            for e in events:
                arr = tensor_util.make_ndarray(e.tensor_proto)
                if arr.size != 1 or not np.issubdtype(arr.dtype, np.number):
                    break
                vals.append(float(arr.reshape(())))
            else:
                steps = np.array([e.step for e in events], dtype=float)
                found[prefix + tag] = Series(prefix + tag, steps, np.array(vals, dtype=float))
    if not found:
        raise LogFormatError(f"{path}: the event files hold no scalar summaries")
    return found
