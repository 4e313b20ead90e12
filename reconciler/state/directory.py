"""The state directory of one working copy (`.orc/`): show cache, history and apply lock.

It is opened lazily and created on first use. Each failure gets its own answer, and none of them
destroys the history:
- a database another process holds is waited for, up to one overall bound, then refused by name;
- a file that is provably not a SQLite database is set aside (renamed), said once, and replaced;
- a directory that cannot be written: the show cache and the probe and chat history are skipped
  (said once), so `plan` and `status` still work, while the lock and the apply history, which
  `apply` needs, refuse;
- `state.db` being a directory, or an SQLite file with damaged pages: a clear error, untouched.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from reconciler.errors import StateError
from reconciler.state import probes, showcache
from reconciler.state.database import (
    Opener,
    Problem,
    classify,
    open_database,
    provably_not_sqlite,
    set_aside,
)
from reconciler.state.defaults import DEFAULT_RETENTION, STATE_DIR_ENV
from reconciler.state.probes import ChatRecord, ProbeRecord

if TYPE_CHECKING:
    # the figures of `orc status`: only the feed passed in uses them; the apply history and
    # the lock are imported by the methods that use them, which a plan calls none of
    from reconciler.state.figures import FigureFeed, FleetFigures
    from reconciler.state.history import HistoryRecord
    from reconciler.state.lock import LockHolder

BUSY_TIMEOUT = 10.0  # seconds, in all, that one operation waits for a busy database
_RETRY_PAUSE = 0.05  # between attempts when SQLite reports busy without waiting itself
_HINT = f"pass --state-dir or set {STATE_DIR_ENV} to a writable folder"

T = TypeVar("T")


class StateUnwritable(StateError):
    """The state directory, or its database, cannot be created or written."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(
            f"state directory {path} is not writable ({reason}): applying needs it for the"
            " lock and the history",
            hint=_HINT,
        )
        self.path, self.reason = path, reason


class StateBusy(StateError):
    """Another process held the state database for longer than the wait allows."""


def warn_on_stderr(message: str) -> None:
    """The default way to say something once: a `Warning:` line on standard error."""
    sys.stderr.write(f"Warning: {message}\n")


class StateDir:
    """The `.orc/` directory of one working copy: opened lazily, created on first write."""

    def __init__(
        self,
        path: str | Path,
        *,
        busy_timeout: float = BUSY_TIMEOUT,
        warn: Callable[[str], None] = warn_on_stderr,
        opener: Opener = open_database,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
        retention: float = DEFAULT_RETENTION,
    ) -> None:
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        self.retention = retention
        self._warn, self._opener = warn, opener
        self._clock, self._sleep, self._wall = clock, sleep, wall
        self._db: sqlite3.Connection | None = None
        self._without_cache = False

    @property
    def db_path(self) -> Path:
        """The SQLite file holding the show cache and the history."""
        return self.path / "state.db"

    def close(self) -> None:
        """Close the database connection, if open."""
        if self._db is not None:
            self._db.close()
            self._db = None

    def __enter__(self) -> StateDir:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- show cache: a convenience, skipped when the directory cannot be written ----------

    def cached_shows(self, digests: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The cached show replies for those digests (missing ones are simply absent)."""
        wanted = sorted(set(digests))
        if not wanted or self._without_cache:
            return {}
        try:
            return self._run(lambda db: showcache.cached_shows(db, wanted))
        except StateUnwritable as exc:
            self._skip_cache(exc)
            return {}

    def store_shows(self, shows: Mapping[str, Mapping[str, Any]]) -> None:
        """Remember show replies by digest."""
        if not shows or self._without_cache:
            return
        try:
            from reconciler.state.lock import now_text

            self._run(lambda db: showcache.store_shows(db, shows, now_text()))
        except StateUnwritable as exc:
            self._skip_cache(exc)

    # -- probe and chat history: like the cache, skipped when the directory is unwritable ---

    @property
    def records_history(self) -> bool:
        """Whether probes and chats are still being recorded (False once found unwritable)."""
        return not self._without_cache

    def record_probes(self, records: Sequence[ProbeRecord]) -> None:
        """Append one round of probes (one transaction), pruning what `retention` lets go."""
        keep = int(self.retention * 1000)
        self._quietly(lambda db, k: probes.record_probes(db, records, k), records, keep)

    def record_chats(self, records: Sequence[ChatRecord]) -> None:
        """Append the attempts of one chat (one transaction), pruning as `record_probes`."""
        keep = int(self.retention * 1000)
        self._quietly(lambda db, k: probes.record_chats(db, records, k), records, keep)

    def figures(self, feed: FigureFeed, now: datetime) -> FleetFigures | None:
        """`feed` brought up to date with the history; None when the directory is unwritable."""
        if self._without_cache:
            return None
        try:
            return self._run(lambda db: feed.update(db, now))
        except StateUnwritable as exc:
            self._skip_cache(exc)
            return None

    def probe_history(
        self, since_ms: int, instance: str | None = None, limit: int | None = None
    ) -> tuple[list[ProbeRecord], int]:
        """The newest `limit` probes since `since_ms` (oldest first) and how many there are."""
        return self._run(lambda db: _newest(db, "probe_history", since_ms, instance, limit))

    def chat_history(
        self, since_ms: int, instance: str | None = None, limit: int | None = None
    ) -> tuple[list[ChatRecord], int]:
        """The newest `limit` chat attempts since `since_ms` and how many there are."""
        return self._run(lambda db: _newest(db, "chat_history", since_ms, instance, limit))

    def apply_history_since(self, since: str, instance: str | None = None) -> list[HistoryRecord]:
        """Applied actions that finished at `since` (`YYYY-MM-DDTHH:MM:SSZ`) or later."""
        from reconciler.state import history

        return self._run(lambda db: history.read_since(db, since, instance))

    def _quietly(
        self,
        write: Callable[[sqlite3.Connection, int], None],
        records: Sequence[object],
        keep_ms: int,
    ) -> None:
        if not records or self._without_cache:
            return
        try:
            self._run(lambda db: write(db, keep_ms))
        except StateUnwritable as exc:
            self._skip_cache(exc)

    # -- apply history and lock: what apply needs, so their failures are errors ------------

    def record_history(self, records: Iterable[HistoryRecord]) -> None:
        """Append the outcomes of one apply run."""
        from reconciler.state import history

        rows = list(records)
        if rows:
            self._run(lambda db: history.record_history(db, rows))

    def history(self, limit: int = 100) -> list[HistoryRecord]:
        """The most recent history records, newest last."""
        from reconciler.state import history

        return self._run(lambda db: history.read_history(db, limit))

    @contextlib.contextmanager
    def lock(
        self,
        timeout: float = 0.0,
        *,
        command: str = "orc apply",
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        poll: float = 0.2,
    ) -> Iterator[LockHolder]:
        """Hold the apply lock; wait up to `timeout` seconds, then refuse, naming the holder."""
        from reconciler.state.lock import Waiting, hold, me, refusal

        self._ensure_dir()
        holder = me(command)
        waiting = Waiting(clock() + max(timeout, 0.0), clock, sleep, poll)
        refused = refusal(f"the state directory {self.path} is locked by", timeout)
        with contextlib.ExitStack() as held:
            try:
                held.enter_context(hold(self.path / "lock", holder, waiting, refused))
            except OSError as exc:
                raise StateUnwritable(self.path, exc.strerror or str(exc)) from exc
            yield holder

    # -- database plumbing ------------------------------------------------------------------

    def _run(self, operation: Callable[[sqlite3.Connection], T]) -> T:
        """Run one operation, waiting out a busy database up to one overall deadline."""
        deadline = self._clock() + self.busy_timeout
        set_aside_already = False
        while True:
            try:
                db = self._connection(max(deadline - self._clock(), 0.0))
                db.execute(f"PRAGMA busy_timeout = {int(max(deadline - self._clock(), 0) * 1000)}")
                return operation(db)
            except sqlite3.Error as exc:
                problem = classify(exc)
                if problem is Problem.NOT_A_DATABASE and not set_aside_already:
                    self.close()
                    self._set_aside()
                    set_aside_already = True
                elif problem is Problem.BUSY and self._clock() < deadline:
                    self._roll_back()
                    self._sleep(min(_RETRY_PAUSE, max(deadline - self._clock(), 0.0)))
                else:
                    self._roll_back()
                    raise self._error(exc, problem) from exc

    def _connection(self, wait: float) -> sqlite3.Connection:
        if self._db is None:
            self._ensure_dir()
            self._check_file()
            self._db = self._opener(self.db_path, wait)
        return self._db

    def _ensure_dir(self) -> None:
        if self.path.exists() and not self.path.is_dir():
            raise StateUnwritable(self.path, "it is a file, not a directory")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StateUnwritable(self.path, exc.strerror or str(exc)) from exc
        if not os.access(self.path, os.W_OK | os.X_OK):
            raise StateUnwritable(self.path, "permission denied")

    def _check_file(self) -> None:
        path = self.db_path
        if path.is_dir():
            raise StateError(
                f"the state database {path} is a directory, not a file",
                hint="move it out of the way, or pass --state-dir",
            )
        if path.exists() and not path.is_file():
            raise StateError(
                f"the state database {path} is not a regular file",
                hint="move it out of the way, or pass --state-dir",
            )
        try:
            foreign = provably_not_sqlite(path)
        except OSError as exc:
            raise StateUnwritable(self.path, f"cannot read {path.name}: {exc.strerror}") from exc
        if foreign:
            self._set_aside()

    def _set_aside(self) -> None:
        try:
            target = set_aside(self.db_path, self._wall().strftime("%Y%m%dT%H%M%SZ"))
        except OSError as exc:
            raise StateUnwritable(self.path, exc.strerror or str(exc)) from exc
        self._warn(
            f"state database {self.db_path} is not a SQLite database: set aside as"
            f" {target.name}, starting a new one"
        )

    def _skip_cache(self, exc: StateUnwritable) -> None:
        self.close()
        self._without_cache = True
        self._warn(
            f"state directory {self.path} is not writable ({exc.reason}):"
            " working without the show cache"
        )

    def _roll_back(self) -> None:
        if self._db is not None and self._db.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                self._db.rollback()

    def _error(self, exc: sqlite3.Error, problem: Problem) -> StateError:
        path = self.db_path
        if problem is Problem.BUSY:
            from reconciler.state.lock import current_holder

            holder = current_holder(self.path / "lock")
            who = f"another orc process holds it ({holder.describe()})" if holder else ""
            return StateBusy(
                f"state database {path} is busy: {who or 'another process holds it'}"
                f" (waited {self.busy_timeout:g}s)",
                hint="try again, or use --state-dir",
            )
        if problem is Problem.UNWRITABLE:
            return StateUnwritable(self.path, str(exc))
        if problem is Problem.DAMAGED:
            return StateError(
                f"state database {path} is damaged: {exc}",
                hint="it holds the apply history; move it away to start afresh, or pass"
                " --state-dir",
            )
        return StateError(f"cannot use the state database {path}: {exc}", hint=_HINT)


def _newest(
    db: sqlite3.Connection, table: str, since_ms: int, instance: str | None, limit: int | None
) -> tuple[list[Any], int]:
    total = probes.count_since(db, table, since_ms, instance)
    if table == "probe_history":
        rows: list[Any] = [r for _, r in probes.read_probes(db, since_ms, instance, limit=limit)]
    else:
        rows = [r for _, r in probes.read_chats(db, since_ms, instance, limit=limit)]
    return rows, total
