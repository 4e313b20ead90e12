"""Local state: the working copy's `.orc/` directory and the machine-wide per-server locks.

Everything in `.orc/` is a convenience or a safety net except the apply history, which is why a
busy or damaged database is never rebuilt over it (see `directory`). Beside it, every probe and
every chat attempt is kept for `retention` (30 days by default) for the figures of `orc status`
and `orc history` (see `probes`, `figures`). The show cache is keyed by
digest because a show reply is fixed for a given digest. Locks use `flock`, so a lock left by a
dead process is released by the kernel and taken over; each names its holder.
"""

from __future__ import annotations

from reconciler.state.directory import (
    BUSY_TIMEOUT,
    DEFAULT_RETENTION,
    DEFAULT_STATE_DIR,
    STATE_DIR_ENV,
    StateBusy,
    StateDir,
    StateUnwritable,
    state_dir_path,
)
from reconciler.state.figures import (
    DEFAULT_WINDOW,
    SERIES_POINTS,
    ChatFigures,
    FigureBook,
    FigureFeed,
    FleetFigures,
    InstanceFigures,
    LastError,
    from_ms,
    to_ms,
)
from reconciler.state.history import HistoryRecord
from reconciler.state.lock import LockHolder, read_holder
from reconciler.state.probes import ChatOutcome, ChatRecord, ProbeRecord
from reconciler.state.serverlocks import LOCK_DIR_ENV, ServerLocks, lock_dir_path

__all__ = [
    "BUSY_TIMEOUT",
    "DEFAULT_RETENTION",
    "DEFAULT_STATE_DIR",
    "DEFAULT_WINDOW",
    "LOCK_DIR_ENV",
    "SERIES_POINTS",
    "STATE_DIR_ENV",
    "ChatFigures",
    "ChatOutcome",
    "ChatRecord",
    "FigureBook",
    "FigureFeed",
    "FleetFigures",
    "HistoryRecord",
    "InstanceFigures",
    "LastError",
    "LockHolder",
    "ProbeRecord",
    "ServerLocks",
    "StateBusy",
    "StateDir",
    "StateUnwritable",
    "from_ms",
    "lock_dir_path",
    "read_holder",
    "state_dir_path",
    "to_ms",
]
