"""The local state directory (`.orc/`): show cache, apply lock and apply history.

Everything here is a convenience or a safety net, never a source of truth: a missing or corrupt
database is rebuilt, not fatal. The show cache is keyed by digest because a show reply is fixed for
a given digest (docs/ollama-api.md, Digests). The lock uses `flock`, so a lock left by a dead
process is released by the kernel and simply taken over; the holder's pid, host and start time are
written into the lock file so that a refused apply can name who holds it.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from reconciler.errors import RefusedError, StateError

STATE_DIR_ENV = "ORC_STATE_DIR"
DEFAULT_STATE_DIR = ".orc"
_SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS show_cache (
    digest TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    stored_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS apply_history (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    instance TEXT NOT NULL,
    kind TEXT NOT NULL,
    model TEXT NOT NULL,
    outcome TEXT NOT NULL,
    error TEXT,
    attempts INTEGER NOT NULL,
    seconds REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS apply_history_run ON apply_history (run_id);
"""


def state_dir_path(option: str | Path | None = None, env: Mapping[str, str] | None = None) -> Path:
    """The state directory: the `--state-dir` option, else `$ORC_STATE_DIR`, else `./.orc`."""
    environ = os.environ if env is None else env
    return Path(option or environ.get(STATE_DIR_ENV) or DEFAULT_STATE_DIR)


@dataclass(frozen=True, slots=True)
class HistoryRecord:
    """One action of one apply run, as it ended."""

    run_id: str
    started_at: str
    finished_at: str
    instance: str
    kind: str
    model: str
    outcome: str  # done | failed | skipped | cancelled
    error: str | None
    attempts: int
    seconds: float


@dataclass(frozen=True, slots=True)
class LockHolder:
    """Who holds the apply lock, as written in the lock file."""

    pid: int
    host: str
    since: str
    command: str

    def describe(self) -> str:
        """`pid 4242 on build-7 since 2026-11-26T04:30:00Z (orc apply)`."""
        return f"pid {self.pid} on {self.host} since {self.since} ({self.command})"


class StateDir:
    """The `.orc/` directory of one working copy: opened lazily, created on first write."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._db: sqlite3.Connection | None = None

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

    # -- show cache -------------------------------------------------------------------------

    def cached_shows(self, digests: Iterable[str]) -> dict[str, dict[str, Any]]:
        """The cached show replies for those digests (missing ones are simply absent)."""
        wanted = sorted(set(digests))
        if not wanted:
            return {}
        found: dict[str, dict[str, Any]] = {}
        for chunk in _chunks(wanted, 500):
            marks = ",".join("?" * len(chunk))
            query = f"SELECT digest, data FROM show_cache WHERE digest IN ({marks})"
            for digest, data in self._query(query, chunk):
                with contextlib.suppress(ValueError):
                    found[digest] = json.loads(data)
        return found

    def store_shows(self, shows: Mapping[str, Mapping[str, Any]]) -> None:
        """Remember show replies by digest."""
        if not shows:
            return
        now = _now()
        rows = [(d, json.dumps(dict(s), sort_keys=True), now) for d, s in shows.items()]
        self._write("INSERT OR REPLACE INTO show_cache VALUES (?, ?, ?)", rows)

    # -- history ----------------------------------------------------------------------------

    def record_history(self, records: Iterable[HistoryRecord]) -> None:
        """Append the outcomes of one apply run."""
        rows = [tuple(asdict(r).values()) for r in records]
        if rows:
            sql = (
                "INSERT INTO apply_history (run_id, started_at, finished_at, instance, kind,"
                " model, outcome, error, attempts, seconds) VALUES (?,?,?,?,?,?,?,?,?,?)"
            )
            self._write(sql, rows)

    def history(self, limit: int = 100) -> list[HistoryRecord]:
        """The most recent history records, newest last."""
        rows = self._query(
            "SELECT run_id, started_at, finished_at, instance, kind, model, outcome, error,"
            " attempts, seconds FROM apply_history ORDER BY id DESC LIMIT ?",
            [limit],
        )
        return [HistoryRecord(*row) for row in reversed(rows)]

    # -- lock -------------------------------------------------------------------------------

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
        self._ensure_dir()
        fd = os.open(self.path / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            self._acquire(fd, timeout, clock, sleep, poll)
            me = LockHolder(os.getpid(), socket.gethostname(), _now(), command)
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(asdict(me)).encode(), 0)
            try:
                yield me
            finally:
                os.ftruncate(fd, 0)
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def _acquire(
        self,
        fd: int,
        timeout: float,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        poll: float,
    ) -> None:
        deadline = clock() + max(timeout, 0.0)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if clock() >= deadline:
                    raise self._lock_refused(fd, timeout) from None
                sleep(min(poll, max(deadline - clock(), 0.0)))

    def _lock_refused(self, fd: int, timeout: float) -> RefusedError:
        holder = read_holder(os.pread(fd, 4096, 0))
        who = holder.describe() if holder else "another orc process"
        waited = f" after waiting {timeout:g}s" if timeout > 0 else ""
        return RefusedError(
            f"the state directory {self.path} is locked by {who}{waited}",
            hint="wait for it to finish, or pass --lock-timeout to wait longer",
        )

    # -- database plumbing ------------------------------------------------------------------

    def _ensure_dir(self) -> None:
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StateError(
                f"cannot create the state directory {self.path}: {exc.strerror}",
                hint=f"pass --state-dir or set {STATE_DIR_ENV} to a writable folder",
            ) from exc

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            self._ensure_dir()
            self._db = self._open_or_rebuild()
        return self._db

    def _open_or_rebuild(self) -> sqlite3.Connection:
        try:
            return _open(self.db_path)
        except sqlite3.DatabaseError:
            # A corrupt cache is not worth an error: the data can all be fetched again.
            for suffix in ("", "-wal", "-shm", "-journal"):
                Path(f"{self.db_path}{suffix}").unlink(missing_ok=True)
            try:
                return _open(self.db_path)
            except sqlite3.Error as exc:
                raise StateError(f"cannot open {self.db_path}: {exc}") from exc

    def _query(self, sql: str, params: Iterable[Any]) -> list[tuple[Any, ...]]:
        try:
            return list(self._connection().execute(sql, list(params)))
        except sqlite3.DatabaseError:
            self._reset()
            return []

    def _write(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        try:
            with self._connection() as db:
                db.executemany(sql, rows)
        except sqlite3.DatabaseError:
            self._reset()
            with self._connection() as db:
                db.executemany(sql, rows)

    def _reset(self) -> None:
        self.close()
        self.db_path.unlink(missing_ok=True)


def read_holder(raw: bytes) -> LockHolder | None:
    """Parse the lock file's content; None when empty or unreadable."""
    try:
        data = json.loads(raw.decode())
        return LockHolder(int(data["pid"]), str(data["host"]), str(data["since"]), data["command"])
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        return None


def _open(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, timeout=10.0, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.executescript(_SCHEMA)
        db.execute(
            "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", [str(_SCHEMA_VERSION)]
        )
        db.execute("SELECT count(*) FROM show_cache").fetchone()
    except sqlite3.DatabaseError:
        db.close()
        raise
    db.isolation_level = "DEFERRED"
    return db


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
