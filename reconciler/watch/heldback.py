"""What the Fleet's sync windows hold back in `orc watch`: for the status, the logs, the metrics
and the schedule (a reconcile runs when the next window opens).

The pipeline decides what is held (reconcile.py, plan/windows.py); this keeps the last
reconcile's answer in the shape the status document and the log lines show.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from reconciler.plan import Plan, next_release
from reconciler.watch.logs import EventLog


@dataclass(frozen=True, slots=True)
class HeldAction:
    """One action a sync window holds back, and when it may go ahead (None: not within the
    look-ahead)."""

    instance: str
    action: str
    model: str
    window: str
    until: datetime | None

    def to_dict(self) -> dict[str, Any]:
        """One entry of the status document's `syncWindows.held`."""
        return {
            "instance": self.instance,
            "action": self.action,
            "model": self.model,
            "window": self.window,
            "until": self.until.isoformat() if self.until else None,
        }


@dataclass(frozen=True, slots=True)
class HeldBack:
    """The actions held back at the last reconcile, and when the next window opens."""

    actions: tuple[HeldAction, ...] = ()
    next_opening: datetime | None = None

    @classmethod
    def of(cls, made: Plan) -> HeldBack:
        """What `made` holds back."""
        actions = tuple(
            HeldAction(a.instance, str(a.kind), a.model.display, a.held.window, a.held.until)
            for a in made.held
            if a.held is not None
        )
        return cls(actions, next_release(made))

    def note(self, message: str) -> str:
        """The reconcile's message, followed by what is held and when the next window opens."""
        if not self.actions:
            return message
        n = len(self.actions)
        text = f"{n} action{'s' if n != 1 else ''} held back by sync windows"
        if self.next_opening is not None:
            text += f"; next window opens at {self.next_opening.isoformat()}"
        return f"{message} {text}."

    def log(self, log: EventLog) -> None:
        """One line per window that holds something back."""
        per_window = Counter(a.window for a in self.actions)
        for window, count in sorted(per_window.items()):
            until = min(
                (a.until for a in self.actions if a.window == window and a.until), default=None
            )
            log.info(
                "syncwindow.held",
                window=window,
                actions=count,
                until=until.isoformat() if until else None,
                message="planned, not made: carried out once the window allows"
                if until
                else "planned, not made: the window has no end within the look-ahead",
            )

    def due(self, now: float, wall: datetime) -> float | None:
        """The monotonic time the next window opens (None: nothing held or no opening)."""
        if not self.actions or self.next_opening is None:
            return None
        return now + max(0.0, (self.next_opening - wall).total_seconds())

    def to_dict(self) -> dict[str, Any]:
        """The status document's `syncWindows` part."""
        return {
            "held": [a.to_dict() for a in self.actions],
            "nextOpening": self.next_opening.isoformat() if self.next_opening else None,
        }
