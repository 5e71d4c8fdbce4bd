"""One progress bar for every long piece of work lrkit does (rich, on stderr).

Every command and long-running function shows progress the same way: a description, a bar,
``done/total`` or a percentage, live fields (the current LR, the best value so far), the time
elapsed and the time left. ``enabled=False`` (``--no-progress``, library calls) makes every
method a no-op, so callers never branch on it.

>>> with ProgressBar("demo", total=3, enabled=False) as bar:
...     bar.advance()
...     bar.update(completed=3, info="done")
"""

from __future__ import annotations

from types import TracebackType
from typing import Any

__all__ = ["ProgressBar"]


class ProgressBar:
    """A single rich progress bar on stderr, or nothing when ``enabled`` is False.

    ``transient=True`` removes the bar when it closes (results are printed after it);
    ``show_count`` shows ``done/total`` (integers) instead of a percentage.
    """

    def __init__(
        self,
        description: str,
        total: float,
        *,
        enabled: bool = True,
        transient: bool = True,
        show_count: bool = True,
        eta: bool = True,
    ) -> None:
        self._bar: Any = None
        self._task: Any = None
        self.description = description
        if not enabled:
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        columns: list[Any] = [TextColumn("[bold]{task.description}"), BarColumn(bar_width=24)]
        columns.append(
            MofNCompleteColumn() if show_count else TextColumn("{task.percentage:>3.0f}%")
        )
        columns += [TextColumn("{task.fields[info]}"), TimeElapsedColumn()]
        if eta:
            columns += [TextColumn("ETA"), TimeRemainingColumn()]
        self._bar = Progress(*columns, console=Console(stderr=True), transient=transient)
        self._bar.start()
        self._task = self._bar.add_task(description, total=max(total, 1), info="")

    @property
    def enabled(self) -> bool:
        return self._bar is not None

    def advance(self, n: float = 1, *, info: str | None = None) -> None:
        """Count ``n`` more units of work done (and optionally replace the live text)."""
        if self._bar is not None:
            fields = {} if info is None else {"info": info}
            self._bar.update(self._task, advance=n, **fields)

    def update(
        self,
        *,
        completed: float | None = None,
        total: float | None = None,
        info: str | None = None,
        description: str | None = None,
    ) -> None:
        """Set the absolute amount done, the total, the live text or the description."""
        if self._bar is None:
            return
        kw: dict[str, Any] = {}
        if completed is not None:
            kw["completed"] = completed
        if total is not None:
            kw["total"] = max(total, 1)
        if info is not None:
            kw["info"] = info
        if description is not None:
            kw["description"] = description
        self._bar.update(self._task, **kw)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
