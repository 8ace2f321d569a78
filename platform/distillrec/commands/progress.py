"""Progress over a known number of items for long CLI commands: done/total, rate and ETA.

On a terminal it is a rich progress bar; elsewhere (a log file, ``ray job logs``, CI) one plain
line per update, so the same command stays readable in both places.
"""

from __future__ import annotations

import sys
import time
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class CountProgress:
    """``update(done, total)`` as work finishes; a context manager that closes the display."""

    def __init__(
        self, what: str, unit: str, console: Console | None = None, workers: int = 1
    ) -> None:
        """``workers``: how many workers finish updates in parallel (e.g. engine replicas)."""
        self.what, self.unit = what, unit
        self.console = console or Console(file=sys.stdout)
        self.progress: Progress | None = None
        self.task = None
        self.workers = max(1, workers)
        self.first: tuple[float, int] | None = None  # (time, done) at the first update
        self.finished_updates = 0  # updates that added items
        # (time, done) once every worker has finished its first piece: the rate counts from here,
        # so neither the start-up (engines loading) nor the pieces the workers had already half
        # done at the first finish distort it
        self.warm: tuple[float, int] | None = None
        self.last_done: int | None = None

    def __enter__(self) -> CountProgress:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self.progress is not None:
            self.progress.stop()

    def update(self, done: int, total: int) -> None:
        now = time.perf_counter()
        if self.first is None:
            self.first = (now, done)
        elif self.last_done is not None and done > self.last_done:
            self.finished_updates += 1
            if self.finished_updates == self.workers:
                self.warm = (now, done)
        self.last_done = done
        if self.console.is_terminal:
            self._update_bar(done, total)
        else:
            self.console.print(self.line(done, total, now), highlight=False, soft_wrap=True)

    def rate(self, done: int, now: float) -> float | None:
        """Items per second since every worker finished once (since the start until then)."""
        assert self.first is not None
        since, before = self.warm if self.warm and done > self.warm[1] else self.first
        new, seconds = done - before, now - since
        return new / seconds if new > 0 and seconds > 0 else None

    def line(self, done: int, total: int, now: float) -> str:
        """``"teacher: 24/100 examples (24%), 2.70 examples/s, ETA 0:00:28"``."""
        percent = 100 * done / total if total else 100.0
        text = f"{self.what}: {done}/{total} {self.unit} ({percent:.0f}%)"
        rate = self.rate(done, now)
        if rate is not None:
            eta = (total - done) / rate
            text += f", {rate:.2f} {self.unit}/s, ETA {format_seconds(eta)}"
        return text

    def _update_bar(self, done: int, total: int) -> None:
        if self.progress is None:
            self.progress = Progress(
                TextColumn(f"{self.what}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn(self.unit),
                TaskProgressColumn(),
                TextColumn("{task.fields[rate]}"),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                TextColumn("elapsed"),
                TimeElapsedColumn(),
                console=self.console,
            )
            self.progress.start()
            self.task = self.progress.add_task(self.what, total=total, completed=done, rate="")
        rate = self.rate(done, time.perf_counter())
        shown = f"{rate:.2f} {self.unit}/s" if rate is not None else ""
        self.progress.update(self.task, completed=done, total=total, rate=shown)


class StagedProgress:
    """One :class:`CountProgress` per stage of a longer command (``update(stage, done, total)``):
    a new stage closes the previous display and starts its own rate and ETA."""

    def __init__(
        self, what: str, unit: str, workers: int = 1, console: Console | None = None
    ) -> None:
        self.what, self.unit, self.workers, self.console = what, unit, workers, console
        self.stage: str | None = None
        self.current: CountProgress | None = None

    def __enter__(self) -> StagedProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.current is not None:
            self.current.__exit__(None, None, None)

    def update(self, stage: str, done: int, total: int) -> None:
        if stage != self.stage:
            self.__exit__()
            self.stage = stage
            self.current = CountProgress(
                f"{self.what} {stage}", self.unit, self.console, workers=self.workers
            )
        assert self.current is not None
        self.current.update(done, total)


def format_seconds(seconds: float) -> str:
    """``83.2`` -> ``"0:01:23"``."""
    whole = int(round(seconds))
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
