"""Exclusive `flock` locks that name their holder.

A lock left by a dead process is released by the kernel and simply taken over. The holder writes
who it is (pid, host, user, command, start time, and for a server lock the server's URL without
credentials) into the lock file, so that a refused apply, or a busy database, can name it.
"""

from __future__ import annotations

import contextlib
import fcntl
import getpass
import json
import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from reconciler.errors import ReconcilerError, RefusedError

Refusal = Callable[["LockHolder | None"], ReconcilerError]


@dataclass(frozen=True, slots=True)
class LockHolder:
    """Who holds a lock, as written in the lock file."""

    pid: int
    host: str
    since: str
    command: str
    user: str = ""
    server: str = ""  # for a server lock: the server's URL, never with credentials

    def describe(self) -> str:
        """`pid 4242 on build-7 since 2026-11-26T04:30:00Z (orc apply), user alice`."""
        text = f"pid {self.pid} on {self.host} since {self.since} ({self.command})"
        return f"{text}, user {self.user}" if self.user else text


@dataclass(frozen=True, slots=True)
class Waiting:
    """How to wait for a held lock: until `deadline` on `clock`, polling every `poll` seconds."""

    deadline: float
    clock: Callable[[], float]
    sleep: Callable[[float], None]
    poll: float = 0.2


def refusal(held: str, timeout: float) -> Refusal:
    """The error for a lock another process holds: `held` says what is held and by whom follows
    (`the server X is being changed by`), then how long this one waited and what to do."""

    def refused(holder: LockHolder | None) -> ReconcilerError:
        who = holder.describe() if holder else "another orc process"
        waited = f" after waiting {timeout:g}s" if timeout > 0 else ""
        return RefusedError(
            f"{held} {who}{waited}",
            hint="wait for it to finish, or pass --lock-timeout to wait longer",
        )

    return refused


def me(command: str, server: str = "") -> LockHolder:
    """This process, as a lock holder."""
    return LockHolder(os.getpid(), socket.gethostname(), now_text(), command, _user(), server)


@contextlib.contextmanager
def hold(path: Path, holder: LockHolder, waiting: Waiting, refused: Refusal) -> Iterator[None]:
    """Hold the lock file at `path` (created 0600); when another process holds it past the
    deadline, raise `refused(holder or None)`. Raises OSError when the file cannot be opened."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        _acquire(fd, waiting, refused)
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(asdict(holder)).encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def current_holder(path: Path) -> LockHolder | None:
    """Who holds the lock at `path` now, when it is held by another process (else None)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = read_holder(os.pread(fd, 4096, 0))
            return holder if holder is not None and holder.pid != os.getpid() else None
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def read_holder(raw: bytes) -> LockHolder | None:
    """Parse a lock file's content; None when empty or unreadable."""
    try:
        data = json.loads(raw.decode())
        return LockHolder(
            int(data["pid"]),
            str(data["host"]),
            str(data["since"]),
            str(data["command"]),
            str(data.get("user", "")),
            str(data.get("server", "")),
        )
    except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError):
        return None


def now_text() -> str:
    """The current UTC time, to the second, as the lock files and the history write it."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _acquire(fd: int, waiting: Waiting, refused: Refusal) -> None:
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            remaining = waiting.deadline - waiting.clock()
            if remaining <= 0:
                raise refused(read_holder(os.pread(fd, 4096, 0))) from None
            waiting.sleep(min(waiting.poll, remaining))


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER: the uid still says who
        return str(os.getuid())
