"""Where apply's progress events go: rich bars on a terminal, plain lines, or JSON lines.

Three sinks with one interface (`__call__(event)`, `close()`); JSON pull progress is throttled
so a fast stream does not flood a log.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.text import Text

from reconciler.apply import ActionFinished, ActionProgress, ActionRetry, ActionStarted, Event
from reconciler.plan import ActionKind
from reconciler.report.apply_events import (
    describe,
    event_json,
    event_line,
    pull_line,
    result_line,
)


class Throttle:
    """Lets one progress event per action through every `interval` seconds."""

    def __init__(self, interval: float, clock: Callable[[], float], first: bool) -> None:
        self.interval = interval
        self.clock = clock
        self.first = first  # whether an action's first event passes
        self._last: dict[str, float] = {}

    def passes(self, event: ActionProgress) -> bool:
        """Whether to show this event (and, if so, restart the action's interval)."""
        now = self.clock()
        last = self._last.get(event.action.id)
        if last is None and not self.first:
            self._last[event.action.id] = now
            return False
        if last is not None and now - last < self.interval:
            return False
        self._last[event.action.id] = now
        return True


class JsonSink:
    """One JSON object per line; pull progress at most every `interval` seconds per action."""

    def __init__(
        self,
        stream: TextIO | None = None,
        interval: float = 0.5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream or sys.stdout
        self.throttle = Throttle(interval, clock, first=True)

    def __call__(self, event: Event) -> None:
        if isinstance(event, ActionProgress) and not self.throttle.passes(event):
            return
        self.emit(event_json(event))

    def emit(self, data: dict[str, Any]) -> None:
        """Write one event object as a line."""
        self.stream.write(json.dumps(data, sort_keys=True) + "\n")
        self.stream.flush()

    def close(self) -> None:
        """Nothing to release."""


class LineSink:
    """Plain lines for logs and CI: start, retries, end, and pull progress every few seconds."""

    def __init__(
        self,
        stream: TextIO | None = None,
        interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream or sys.stdout
        self.throttle = Throttle(interval, clock, first=False)

    def __call__(self, event: Event) -> None:
        if isinstance(event, ActionProgress):
            if not self.throttle.passes(event):
                return
            line: str | None = pull_line(event)
        else:
            line = event_line(event)
        if line is not None:
            self.stream.write(line + "\n")
            self.stream.flush()

    def close(self) -> None:
        """Nothing to release."""


class BarSink:
    """Rich progress bars per pull (bytes, speed, ETA) and a line per finished action."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console()
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=self.console,
            transient=True,
        )
        self._tasks: dict[str, TaskID] = {}
        self.progress.start()

    def __call__(self, event: Event) -> None:
        if isinstance(event, ActionStarted) and event.action.kind is ActionKind.PULL:
            self._tasks[event.action.id] = self.progress.add_task(
                describe(event.action), total=None
            )
        elif isinstance(event, ActionProgress):
            task = self._tasks.get(event.action.id)
            if task is not None and event.total:
                self.progress.update(task, completed=event.completed, total=event.total)
        elif isinstance(event, ActionRetry):
            self.console.print(event_line(event), markup=False, highlight=False)
        elif isinstance(event, ActionFinished):
            task = self._tasks.pop(event.result.action.id, None)
            if task is not None:
                self.progress.remove_task(task)
            self.console.print(Text.from_ansi(result_line(event.result, color=True)))

    def close(self) -> None:
        """Stop the live display."""
        self.progress.stop()
