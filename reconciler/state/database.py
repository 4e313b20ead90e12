"""The SQLite file of the state directory: opening it and telling its failures apart.

The failures call for different answers, so they are classified rather than lumped together:
a database another process is writing is *busy* and must be waited for, never touched (it holds
the apply history); only a file that is provably not a SQLite database (a wrong header, or SQLite
saying so) may be set aside, renamed and never deleted; a directory that refuses writes is
*unwritable*; anything else is reported as it is.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from enum import Enum
from pathlib import Path

SCHEMA_VERSION = 2
SQLITE_HEADER = b"SQLite format 3\x00"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT OR REPLACE INTO meta VALUES ('schema_version', '2');
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
CREATE TABLE IF NOT EXISTS probe_history (
    id INTEGER PRIMARY KEY,
    at_ms INTEGER NOT NULL,
    instance TEXT NOT NULL,
    health TEXT NOT NULL,
    up INTEGER NOT NULL,
    latency_ms REAL,
    version TEXT,
    reason TEXT,
    message TEXT
);
CREATE INDEX IF NOT EXISTS probe_history_instance_at ON probe_history (instance, at_ms);
CREATE INDEX IF NOT EXISTS probe_history_at ON probe_history (at_ms);
CREATE TABLE IF NOT EXISTS chat_history (
    id INTEGER PRIMARY KEY,
    at_ms INTEGER NOT NULL,
    instance TEXT NOT NULL,
    model TEXT NOT NULL,
    outcome TEXT NOT NULL,
    ttft_ms REAL,
    tokens_per_second REAL,
    failovers INTEGER NOT NULL,
    reason TEXT
);
CREATE INDEX IF NOT EXISTS chat_history_instance_at ON chat_history (instance, at_ms);
CREATE INDEX IF NOT EXISTS chat_history_at ON chat_history (at_ms);
"""

Opener = Callable[[Path, float], sqlite3.Connection]


class Problem(Enum):
    """What kind of failure an SQLite error is."""

    BUSY = "busy"  # another connection holds a lock: wait, then give up; never touch the file
    NOT_A_DATABASE = "not a database"  # provably not SQLite: may be set aside
    UNWRITABLE = "unwritable"  # the file or its directory refuses to be created or written
    DAMAGED = "damaged"  # an SQLite file with broken pages: left alone for the user to judge
    OTHER = "other"


# SQLite's primary result codes (the low byte of an extended code) and what they mean here.
_PROBLEMS = {
    5: Problem.BUSY,  # SQLITE_BUSY
    6: Problem.BUSY,  # SQLITE_LOCKED
    26: Problem.NOT_A_DATABASE,  # SQLITE_NOTADB
    3: Problem.UNWRITABLE,  # SQLITE_PERM
    8: Problem.UNWRITABLE,  # SQLITE_READONLY
    10: Problem.UNWRITABLE,  # SQLITE_IOERR
    13: Problem.UNWRITABLE,  # SQLITE_FULL
    14: Problem.UNWRITABLE,  # SQLITE_CANTOPEN
    11: Problem.DAMAGED,  # SQLITE_CORRUPT
}


def classify(exc: sqlite3.Error) -> Problem:
    """The kind of an SQLite error, from its result code."""
    code = getattr(exc, "sqlite_errorcode", None)
    if not isinstance(code, int):
        return Problem.OTHER
    return _PROBLEMS.get(code & 0xFF, Problem.OTHER)


def open_database(path: Path, busy_timeout: float) -> sqlite3.Connection:
    """Open (creating when needed) the state database; SQLite waits up to `busy_timeout` seconds
    for another connection's lock. Writes only when the schema is not in place yet, so a
    read-only file that already has it can still be read."""
    db = sqlite3.connect(path, timeout=busy_timeout, isolation_level=None)
    try:
        (version,) = db.execute("PRAGMA user_version").fetchone()
        if version != SCHEMA_VERSION:
            (mode,) = db.execute("PRAGMA journal_mode").fetchone()
            if str(mode).lower() != "wal":
                db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        db.execute("SELECT count(*) FROM show_cache").fetchone()
    except sqlite3.Error:
        db.close()
        raise
    db.isolation_level = "DEFERRED"
    return db


def provably_not_sqlite(path: Path) -> bool:
    """Whether the file exists, is not empty and does not start with SQLite's header.

    An empty file is what SQLite itself leaves before the first write, so it is not evidence.
    Raises OSError when the file cannot be read.
    """
    try:
        with path.open("rb") as file:
            head = file.read(len(SQLITE_HEADER))
    except FileNotFoundError:
        return False
    return bool(head) and head != SQLITE_HEADER


def set_aside(path: Path, stamp: str) -> Path:
    """Rename the file (and any journal beside it) to `<name>.corrupt-<stamp>`; never delete."""
    target = path.with_name(f"{path.name}.corrupt-{stamp}")
    number = 1
    while target.exists():
        target = path.with_name(f"{path.name}.corrupt-{stamp}-{number}")
        number += 1
    path.rename(target)
    for suffix in ("-wal", "-shm", "-journal"):
        companion = Path(f"{path}{suffix}")
        if companion.exists():
            companion.rename(Path(f"{target}{suffix}"))
    return target
