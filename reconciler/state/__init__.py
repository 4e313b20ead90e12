"""Local state: the working copy's `.orc/` directory and the machine-wide per-server locks.

Everything in `.orc/` is a convenience or a safety net except the apply history, which is why a
busy or damaged database is never rebuilt over it (see `directory`). Beside it, every probe and
every chat attempt is kept for `retention` (30 days by default) for the figures of `orc status`
and `orc history` (see `probes`, `figures`). The show cache is keyed by
digest because a show reply is fixed for a given digest. Locks use `flock`, so a lock left by a
dead process is released by the kernel and taken over; each names its holder.

The names below are imported on first use: naming `STATE_DIR_ENV` or `DEFAULT_RETENTION` (as
every command's flags do) loads neither SQLite nor the history code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reconciler.lazyexports import lazy_exports

if TYPE_CHECKING:
    from reconciler.state.defaults import (
        DEFAULT_RETENTION,
        DEFAULT_STATE_DIR,
        STATE_DIR_ENV,
        state_dir_path,
    )
    from reconciler.state.directory import BUSY_TIMEOUT, StateBusy, StateDir, StateUnwritable
    from reconciler.state.figures import (
        DEFAULT_WINDOW,
        SERIES_POINTS,
        ChatFigures,
        FigureBook,
        FigureFeed,
        FleetFigures,
        InstanceFigures,
        LastError,
    )
    from reconciler.state.history import HistoryRecord
    from reconciler.state.lock import LockHolder, read_holder
    from reconciler.state.probes import ChatOutcome, ChatRecord, ProbeRecord, from_ms, to_ms
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

_LAZY = {
    "BUSY_TIMEOUT": "reconciler.state.directory",
    "ChatFigures": "reconciler.state.figures",
    "ChatOutcome": "reconciler.state.probes",
    "ChatRecord": "reconciler.state.probes",
    "DEFAULT_RETENTION": "reconciler.state.defaults",
    "DEFAULT_STATE_DIR": "reconciler.state.defaults",
    "DEFAULT_WINDOW": "reconciler.state.figures",
    "FigureBook": "reconciler.state.figures",
    "FigureFeed": "reconciler.state.figures",
    "FleetFigures": "reconciler.state.figures",
    "HistoryRecord": "reconciler.state.history",
    "InstanceFigures": "reconciler.state.figures",
    "LOCK_DIR_ENV": "reconciler.state.serverlocks",
    "LastError": "reconciler.state.figures",
    "LockHolder": "reconciler.state.lock",
    "ProbeRecord": "reconciler.state.probes",
    "SERIES_POINTS": "reconciler.state.figures",
    "STATE_DIR_ENV": "reconciler.state.defaults",
    "ServerLocks": "reconciler.state.serverlocks",
    "StateBusy": "reconciler.state.directory",
    "StateDir": "reconciler.state.directory",
    "StateUnwritable": "reconciler.state.directory",
    "from_ms": "reconciler.state.probes",
    "lock_dir_path": "reconciler.state.serverlocks",
    "read_holder": "reconciler.state.lock",
    "state_dir_path": "reconciler.state.defaults",
    "to_ms": "reconciler.state.probes",
}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
