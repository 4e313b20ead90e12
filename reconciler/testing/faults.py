"""Faults a test can inject into a simulated server: errors, garbage, stalls, dropped pulls.

Each call queues a `Fault` that applies to the next N requests (optionally only to one path).
Reply faults (`fail`, `malformed`, `empty_403`) replace the answer; the earliest queued one that
matches wins. A stall delays the request and then lets it be answered normally (or by a reply
fault). `drop_pull_after` aborts the next pull's response stream mid-way, like a broken proxy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FaultKind = Literal["fail", "malformed", "empty_403", "stall", "drop_pull"]
MALFORMED_BODY = b"<html><body><h1>502 Bad Gateway</h1>upstream sent garbage</body></html>"


class SimulatedConnectionDrop(ConnectionResetError):
    """Raised inside a response stream to abort it: over a socket the client sees the connection
    close mid-body; in process (httpx.ASGITransport) the exception reaches the caller."""


@dataclass
class Fault:
    """One queued fault; `remaining` counts the requests it still applies to."""

    kind: FaultKind
    remaining: int
    status: int = 500
    message: str = "boom"
    path: str | None = None
    seconds: float = 0.0
    nbytes: int = 0

    def matches(self, path: str) -> bool:
        """Whether this fault applies to a request for `path` (relative to the prefix)."""
        return self.remaining > 0 and (self.path is None or self.path == path)


class FaultInjector:
    """The fault queue of one server (`server.faults`)."""

    def __init__(self, prefix: str = "") -> None:
        self._prefix = prefix
        self.queue: list[Fault] = []

    def fail_next(
        self, n: int = 1, status: int = 500, message: str = "boom", path: str | None = None
    ) -> Fault:
        """The next `n` requests (to `path` only, if given) fail with `status` and
        `{"error": message}`."""
        return self._add(
            Fault("fail", n, status=status, message=message, path=self._relative(path))
        )

    def malformed_next(self, n: int = 1, path: str | None = None) -> Fault:
        """The next `n` replies are status 200 with a body that is not JSON."""
        return self._add(Fault("malformed", n, status=200, path=self._relative(path)))

    def stall_next(self, n: int, seconds: float, path: str | None = None) -> Fault:
        """The next `n` requests hang `seconds` before being answered (released early if the
        client goes away)."""
        return self._add(Fault("stall", n, seconds=seconds, path=self._relative(path)))

    def empty_403_next(self, n: int = 1, path: str | None = None) -> Fault:
        """The next `n` requests get Ollama's Host-guard answer: 403 with an empty body."""
        return self._add(Fault("empty_403", n, status=403, path=self._relative(path)))

    def drop_pull_after(self, nbytes: int) -> Fault:
        """The next pull's stream is aborted (not ended cleanly) after about `nbytes` of download
        progress; what was downloaded stays, so a re-pull resumes."""
        return self._add(Fault("drop_pull", 1, nbytes=nbytes))

    def clear(self) -> None:
        """Forget every queued fault."""
        self.queue.clear()

    def take_stall(self, path: str) -> float:
        """Seconds this request must stall (consumes one use of a matching stall)."""
        fault = self._take(("stall",), path)
        return fault.seconds if fault else 0.0

    def take_reply(self, path: str) -> Fault | None:
        """The reply fault for this request, if one is queued (consumes one use)."""
        return self._take(("fail", "malformed", "empty_403"), path)

    def take_drop(self) -> int | None:
        """The byte budget of the next pull if it must be dropped (consumes the fault)."""
        fault = self._take(("drop_pull",), None)
        return fault.nbytes if fault else None

    def _take(self, kinds: tuple[FaultKind, ...], path: str | None) -> Fault | None:
        for fault in self.queue:
            if fault.kind in kinds and (path is None or fault.matches(path)) and fault.remaining:
                fault.remaining -= 1
                if not fault.remaining:
                    self.queue.remove(fault)
                return fault
        return None

    def _add(self, fault: Fault) -> Fault:
        if fault.remaining < 1:
            raise ValueError(f"a fault must apply to at least one request, not {fault.remaining}")
        self.queue.append(fault)
        return fault

    def _relative(self, path: str | None) -> str | None:
        if path is None or not self._prefix or not path.startswith(self._prefix):
            return path
        return path[len(self._prefix) :] or "/"
