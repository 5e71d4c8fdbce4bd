"""One overall progress bar with an estimate of the time left (rich, on stderr)."""

from __future__ import annotations

from typing import Any

__all__ = ["StudyProgress"]


class StudyProgress:
    """Counts work in optimizer updates; ``enabled=False`` makes every call a no-op."""

    def __init__(self, enabled: bool, total: int) -> None:
        self._bar: Any = None
        self._task: Any = None
        if enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(
                TextColumn("[bold]{task.description:<30}"),
                BarColumn(bar_width=24),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=False,
            )
            self._bar.start()
            self._task = self._bar.add_task("study", total=max(1, total))

    def phase(self, text: str) -> None:
        if self._bar is not None:
            self._bar.update(self._task, description=text[:30])

    def advance(self, n: int = 1) -> None:
        if self._bar is not None and n > 0:
            self._bar.update(self._task, advance=n)

    def add_total(self, n: int) -> None:
        """Grow the total (work that was not foreseen, e.g. a fallback)."""
        if self._bar is not None and n != 0:
            t = self._bar.tasks[0]
            self._bar.update(self._task, total=(t.total or 0) + n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
