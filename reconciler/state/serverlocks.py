"""Machine-wide locks, one per Ollama server, so that two applies never change one server at once.

The state directory's lock only covers applies run from the same working copy; two checkouts (or
a manual apply beside a watch daemon elsewhere) would otherwise pull onto one server together.
These locks live in one place per user (`$ORC_LOCK_DIR`, else `$XDG_STATE_HOME/orc/locks`, else
`~/.local/state/orc/locks`), one file per server named by a hash of its normalised URL. They are
taken in sorted order, so two processes wanting overlapping servers cannot deadlock.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from reconciler.errors import StateError
from reconciler.state.lock import LockHolder, Waiting, hold, me, refusal

LOCK_DIR_ENV = "ORC_LOCK_DIR"


def lock_dir_path(env: Mapping[str, str] | None = None) -> Path:
    """`$ORC_LOCK_DIR`, else `$XDG_STATE_HOME/orc/locks`, else `~/.local/state/orc/locks`."""
    environ = os.environ if env is None else env
    if environ.get(LOCK_DIR_ENV):
        return Path(environ[LOCK_DIR_ENV])
    xdg = environ.get("XDG_STATE_HOME", "")
    if os.path.isabs(xdg):  # the XDG spec says to ignore a relative value
        return Path(xdg) / "orc" / "locks"
    home = environ.get("HOME") or str(Path.home())
    return Path(home) / ".local" / "state" / "orc" / "locks"


class ServerLocks:
    """The per-server locks in one lock directory."""

    def __init__(
        self,
        directory: str | Path,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        poll: float = 0.2,
    ) -> None:
        self.directory = Path(directory)
        self._clock, self._sleep, self._poll = clock, sleep, poll

    def path_for(self, key: str) -> Path:
        """The lock file of a server key: a hash, so any URL makes a safe file name."""
        return self.directory / f"{hashlib.sha256(key.encode()).hexdigest()[:32]}.lock"

    @contextlib.contextmanager
    def acquire(
        self, keys: Iterable[str], timeout: float = 0.0, command: str = "orc apply"
    ) -> Iterator[list[LockHolder]]:
        """Hold the lock of every server key (normalised URLs); wait up to `timeout` seconds in
        all, then refuse, naming the server and its holder. Locks taken so far are released."""
        wanted = sorted(set(keys))
        if wanted:
            self._ensure_dir()
        waiting = Waiting(self._clock() + max(timeout, 0.0), self._clock, self._sleep, self._poll)
        with contextlib.ExitStack() as held:
            holders = []
            for key in wanted:
                server = without_credentials(key)
                holder = me(command, server)
                refused = refusal(f"the server {server} is being changed by", timeout)
                try:
                    held.enter_context(hold(self.path_for(key), holder, waiting, refused))
                except OSError as exc:
                    raise StateError(
                        f"cannot open the lock file of {server} in {self.directory}: "
                        f"{exc.strerror}",
                        hint=f"set {LOCK_DIR_ENV} to a folder you can write",
                    ) from exc
                holders.append(holder)
            yield holders

    def _ensure_dir(self) -> None:
        """Create the directory and any missing parents, each 0700 (existing ones are kept)."""
        missing = [p for p in (self.directory, *self.directory.parents) if not p.exists()]
        try:
            for folder in reversed(missing):
                folder.mkdir(mode=0o700, exist_ok=True)  # another process may make it too
        except OSError as exc:
            raise StateError(
                f"cannot create the lock directory {self.directory}: {exc.strerror}",
                hint=f"set {LOCK_DIR_ENV} to a folder you can write",
            ) from exc
        if not self.directory.is_dir():
            raise StateError(
                f"the lock directory {self.directory} is not a directory",
                hint=f"set {LOCK_DIR_ENV} to a folder you can write",
            )


def without_credentials(url: str) -> str:
    """The URL with any `user:password@` removed (the keys should have none; never write one)."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url.rpartition("@")[2]
    if "@" not in parts.netloc:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
