"""The daemon's HTTP connections, guarded against clients that send their requests slowly.

uvicorn's h11 protocol has no deadline for reading a request: a client that sends its request
line a byte at a time keeps its connection (and a file descriptor) for as long as it likes, and
a few hundred such clients starve `/healthz` and the reconcile loop itself of descriptors. Its
`limit_concurrency` does not help: once slow clients fill it, every new request, `/healthz`
included, is answered 503. So each connection here gets `read_timeout` seconds to deliver a
whole request (from its opening, or from the end of the previous response on a kept-alive
connection), and is closed when it does not; and at most `max_connections` are open at once:
one more closes the oldest connection still waiting for its request, so a quick client (a
liveness probe) always gets in while slow ones are pushed out.
"""

from __future__ import annotations

import asyncio
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

READ_TIMEOUT = 10.0  # seconds a client has to send a whole request
MAX_CONNECTIONS = 64  # connections open at once
MAX_HEAD_BYTES = 16 * 1024  # a request line and headers larger than this are refused (400)


class GuardedH11Protocol(H11Protocol):
    """uvicorn's h11 protocol with a request deadline and a cap on open connections."""

    read_timeout = READ_TIMEOUT
    max_connections = MAX_CONNECTIONS

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._waiting_since = 0.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()
        if len(self.connections) > self.max_connections:
            self._make_room()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def handle_events(self) -> None:
        super().handle_events()
        if self.conn.their_state is not h11.IDLE and self.conn.their_state is not h11.SEND_BODY:
            self._disarm()  # the whole request is in: the response is up to the app

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
            self._arm()  # kept alive: the next request has the same deadline

    @property
    def waiting(self) -> bool:
        """Whether this connection is still waiting for (the rest of) a request."""
        return self._deadline is not None

    def _arm(self) -> None:
        self._disarm()
        self._waiting_since = self.loop.time()
        self._deadline = self.loop.call_later(self.read_timeout, self._too_slow)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        self.transport.abort()

    def _make_room(self) -> None:
        """Close the connection that has waited longest for its request (this one, if none)."""
        waiting = [
            c
            for c in self.connections
            if isinstance(c, GuardedH11Protocol) and c is not self and c.waiting
        ]
        oldest = min(waiting, key=lambda c: c._waiting_since, default=self)
        oldest._disarm()
        oldest.transport.abort()


def guarded_protocol(read_timeout: float, max_connections: int) -> type[GuardedH11Protocol]:
    """The protocol class uvicorn is given, with these limits."""

    class Guarded(GuardedH11Protocol):
        pass

    Guarded.read_timeout = read_timeout
    Guarded.max_connections = max_connections
    return Guarded
