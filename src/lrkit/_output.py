"""One way to write a command's results: a folder checked before the work, JSON, PNG, text.

Every command that saves results (``find``, ``sweep``, ``pbt``, ``tune``) prepares its output
first, so a folder that cannot be written or a missing matplotlib is a one-line error before
minutes of training, not a traceback after them; then it saves ``STEM.json`` (the result's
``to_dict()`` plus the command's context), ``STEM.png`` (``result.plot``) and any text files.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lrkit.errors import ConfigError

__all__ = ["Output", "prepare_file", "prepare_folder"]


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def prepare_folder(
    folder: str | os.PathLike[str], *, arg: str = "--out", create: bool = True
) -> Path:
    """Check that files can be written in ``folder``, creating it (and its parents) if missing.

    With ``create=False`` nothing is created: the check writes in the nearest existing parent,
    for callers that create the folder themselves once their other arguments are checked.
    Raises :class:`~lrkit.errors.ConfigError` naming ``arg`` and the folder otherwise.
    """
    path = Path(folder)
    probe_dir = path
    if not create:
        while not probe_dir.exists() and probe_dir != probe_dir.parent:
            probe_dir = probe_dir.parent
    if probe_dir.exists() and not probe_dir.is_dir():
        raise ConfigError(f"{arg} must be a folder, but {str(probe_dir)!r} is a file")
    try:
        if create:
            path.mkdir(parents=True, exist_ok=True)
        # A real write, not os.access: ACLs, read-only mounts and quotas only show up here.
        fd, probe = tempfile.mkstemp(prefix=".lrkit-write-test-", dir=probe_dir)
        os.close(fd)
        os.remove(probe)
    except OSError as exc:
        raise ConfigError(
            f"{arg}: cannot write to the folder {str(path)!r} ({_reason(exc)})"
        ) from None
    return path


def prepare_file(file: str | os.PathLike[str], *, arg: str = "--out") -> Path:
    """Create the folder of ``file`` and check it is writable (the file itself is untouched)."""
    path = Path(file)
    if path.is_dir():
        raise ConfigError(f"{arg} must be a file path, but {str(path)!r} is a folder")
    prepare_folder(path.parent if str(path.parent) else ".", arg=arg)
    return path


@dataclass(frozen=True)
class Output:
    """Where a command writes its results; build it with :meth:`prepare` before the work."""

    folder: Path
    plot: bool = True

    @classmethod
    def prepare(
        cls, folder: str | os.PathLike[str], *, plot: bool = True, arg: str = "--out"
    ) -> Output:
        """Check the folder (created if missing) and, when plotting, that matplotlib exists."""
        if plot:
            from lrkit.errors import require

            require("matplotlib", "plot")
        return cls(prepare_folder(folder, arg=arg), plot)

    def save(
        self,
        stem: str,
        result: Any,
        context: Mapping[str, Any] | None = None,
        *,
        texts: Mapping[str, str] | None = None,
    ) -> list[Path]:
        """Write ``STEM.json`` (``context`` then ``result.to_dict()``), ``STEM-NAME.txt`` for
        each text and ``STEM.png``; return the paths in that order."""
        paths = [self.folder / f"{stem}.json"]
        payload = {**(context or {}), **result.to_dict()}
        paths[0].write_text(json.dumps(payload, indent=1, allow_nan=False))
        for name, text in (texts or {}).items():
            paths.append(self.folder / f"{stem}-{name}.txt")
            paths[-1].write_text(text if text.endswith("\n") else text + "\n")
        if self.plot:
            import matplotlib.pyplot as plt

            paths.append(self.folder / f"{stem}.png")
            plt.close(result.plot(str(paths[-1])))
        return paths
