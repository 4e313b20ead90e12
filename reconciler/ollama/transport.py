"""HTTP/1.1 for httpx on asyncio's own sockets: the keep-alive connections to one server.

httpx stays the client (requests, headers, timeouts, decoding, errors); this transport replaces
only what sits under it by default (httpcore's pool on anyio streams, parsing with h11), which
costs about 1.3 ms of CPU per request: at a thousand servers, more than the network round trips
themselves. Here one request is one write and, for an ordinary reply, one parse of bytes already
received (see docs/architecture.md, Performance).

What it does, and no more: HTTP/1.1 over TCP or TLS, bodies framed by `Content-Length`, chunked
or ended by the server's close; request bodies sent whole or chunked as httpx framed them; a pool
of at most `max_connections`, idle connections reused only while nothing is left unread on them.
No proxies (a session that needs one uses httpx's own transport), no HTTP/2, no upgrades. A reply
that breaks the framing rules (several lengths, a bad chunk, a header section over 64 KiB) is a
`RemoteProtocolError` and its connection is dropped; failures and timeouts are the httpx
exceptions httpx's own transport would raise, so the diagnosis of errors does not change.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from collections.abc import AsyncIterator, Callable
from typing import Any, cast

import httpx

MAX_HEAD = 64 * 1024
"""Largest status line and headers accepted (Ollama's replies have about 200 bytes)."""
MAX_CHUNK_LINE = 4096
"""Longest chunk-size line (size and extensions) accepted."""
_HIGH_WATER = 256 * 1024  # unread bytes at which reading pauses until the reader catches up
_END_OF_HEAD = re.compile(rb"\r?\n\r?\n")
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_NO_BODY = frozenset({204, 304})


class _Wire(asyncio.Protocol):
    """One connection's incoming bytes, its end, and the pauses of its outgoing ones."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.ended = False
        self.lost: BaseException | None = None
        self._arrival: asyncio.Future[None] | None = None
        self._writable: asyncio.Future[None] | None = None
        self._reading_paused = False
        self.closed: asyncio.Future[None] = loop.create_future()

    # -- asyncio.Protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        if len(self.buffer) > _HIGH_WATER and not self._reading_paused and self.transport:
            self.transport.pause_reading()
            self._reading_paused = True
        self._wake()

    def eof_received(self) -> bool:
        self.ended = True
        self._wake()
        return False  # let the transport close itself

    def connection_lost(self, exc: Exception | None) -> None:
        self.ended = True
        self.lost = exc
        self._wake()
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)
        if not self.closed.done():
            self.closed.set_result(None)

    def pause_writing(self) -> None:
        if self._writable is None or self._writable.done():
            self._writable = self._loop.create_future()

    def resume_writing(self) -> None:
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)
        self._writable = None

    # -- used by the transport ---------------------------------------------------------------

    @property
    def reusable(self) -> bool:
        """Whether a new request may be sent: open, and nothing arrived that nobody asked for."""
        transport = self.transport
        return not (self.ended or self.buffer or transport is None or transport.is_closing())

    async def more(self, limit: float | None) -> bool:
        """Wait until more bytes arrive (True) or the stream ends (False); raise TimeoutError
        when neither happens within `limit` seconds (None: no limit)."""
        if self.ended:
            return False
        if self._reading_paused and self.transport is not None:
            self._reading_paused = False
            self.transport.resume_reading()
        arrival = self._arrival = self._loop.create_future()
        # a timer on the future costs a fraction of an asyncio.timeout() block per wait
        timer = None if limit is None else self._loop.call_later(limit, _expire, arrival)
        try:
            await arrival
        finally:
            self._arrival = None
            if timer is not None:
                timer.cancel()
        return bool(self.buffer) or not self.ended

    async def write(self, data: bytes, limit: float | None, request: httpx.Request) -> None:
        """Send bytes, waiting (at most `limit` seconds each time) while the socket's buffer is
        full."""
        if self.transport is None or self.transport.is_closing():
            raise httpx.WriteError("the connection was closed", request=request)
        self.transport.write(data)
        if self._writable is not None:
            await _bounded(asyncio.shield(self._writable), limit, httpx.WriteTimeout, request)
            if self.ended:
                lost = _lost_reason(self.lost, "the server closed the connection")
                raise httpx.WriteError(lost, request=request)

    def take(self, count: int) -> bytes:
        """Remove and return up to `count` buffered bytes."""
        piece = bytes(self.buffer[:count])
        del self.buffer[:count]
        return piece

    def close(self) -> None:
        """Close at once: nothing queued is worth sending (httpx's pool does the same)."""
        if self.transport is not None:
            self.transport.abort()

    def _wake(self) -> None:
        if self._arrival is not None and not self._arrival.done():
            self._arrival.set_result(None)


class KeepAliveTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 connections to one server, at most `max_connections`, kept alive between requests.

    `ssl_context` (or what makes it, called at the first https connection) is used for `https`
    URLs; the timeouts are the request's (httpx puts them in
    `request.extensions["timeout"]`): `connect` for connecting and the TLS handshake, `read` for
    each wait for reply bytes, `write` for each wait to send, `pool` for a free connection.
    """

    def __init__(
        self, *, ssl_context: ssl.SSLContext | Callable[[], ssl.SSLContext], max_connections: int
    ) -> None:
        self._ssl = ssl_context
        self._max_connections = max(1, max_connections)
        self._slots: asyncio.Semaphore | None = None
        self._idle: dict[tuple[str, str, int], list[_Wire]] = {}
        self._open: set[_Wire] = set()
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        scheme = request.url.scheme
        if scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(
                f"Request URL has an unsupported protocol '{scheme}://'.", request=request
            )
        if self._closed:
            raise httpx.ConnectError("the connection pool is closed", request=request)
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        slots = self._slots
        if slots is None:
            slots = self._slots = asyncio.Semaphore(self._max_connections)
        if slots.locked():
            await _bounded(slots.acquire(), timeouts.get("pool"), httpx.PoolTimeout, request)
        else:
            await slots.acquire()
        wire: _Wire | None = None
        try:
            key = (scheme, request.url.host, request.url.port or (443 if scheme == "https" else 80))
            wire = self._reuse(key) or await self._connect(key, timeouts.get("connect"), request)
            sent = True
            try:
                await _send(wire, request, timeouts.get("write"))
            except httpx.WriteError:
                if not wire.buffer:
                    raise
                sent = False  # it answered before taking the whole body (a 401, a 413): read that
            read = timeouts.get("read")
            status, reason, version, headers = await _read_head(wire, read, request)
            framing = _framing(request.method, status, headers, request)
            keep = version == b"HTTP/1.1" and not _has_token(headers, b"connection", b"close")
            keep = keep and sent
            body = ReplyBody(
                pool=self,
                key=key,
                wire=wire,
                framing=framing,
                keep=keep and framing != "close",
                read=read,
                request=request,
            )
        except BaseException as exc:
            if wire is not None:
                self._drop(wire)
            slots.release()
            if isinstance(exc, asyncio.CancelledError | httpx.TransportError | TimeoutError):
                raise
            if isinstance(exc, OSError):
                raise httpx.ReadError(str(exc) or type(exc).__name__, request=request) from exc
            raise
        return httpx.Response(
            status,
            headers=headers,
            stream=body,
            extensions={"http_version": version, "reason_phrase": reason},
        )

    async def aclose(self) -> None:
        """Close every connection, idle or not, and wait (briefly) until they are closed."""
        self._closed = True
        wires = list(self._open)
        self._idle.clear()
        self._open.clear()
        for wire in wires:
            wire.close()
        pending = [wire.closed for wire in wires if not wire.closed.done()]
        if pending:
            await asyncio.wait(pending, timeout=1.0)

    def _reuse(self, key: tuple[str, str, int]) -> _Wire | None:
        idle = self._idle.get(key)
        while idle:
            wire = idle.pop()
            if wire.reusable:
                return wire
            self._drop(wire)
        return None

    async def _connect(
        self, key: tuple[str, str, int], limit: float | None, request: httpx.Request
    ) -> _Wire:
        scheme, host, port = key
        loop = asyncio.get_running_loop()
        secure = scheme == "https"

        def wire() -> _Wire:
            return _Wire(loop)

        try:
            async with asyncio.timeout(limit):
                _, protocol = await loop.create_connection(
                    wire,
                    host,
                    port,
                    ssl=self._tls() if secure else None,
                    server_hostname=host if secure else None,
                )
        except TimeoutError as exc:
            raise httpx.ConnectTimeout(str(exc) or "timed out", request=request) from exc
        except (OSError, ssl.SSLError) as exc:
            raise httpx.ConnectError(str(exc) or type(exc).__name__, request=request) from exc
        self._open.add(protocol)
        return protocol

    def _tls(self) -> ssl.SSLContext:
        if not isinstance(self._ssl, ssl.SSLContext):
            self._ssl = self._ssl()  # made at the first https connection
        return self._ssl

    def _release(self, key: tuple[str, str, int], wire: _Wire, keep: bool) -> None:
        """A reply was read to its end (keep) or abandoned: pool the connection or close it."""
        if keep and not self._closed and wire.reusable:
            self._idle.setdefault(key, []).append(wire)
        else:
            self._drop(wire)
        if self._slots is not None:
            self._slots.release()

    def _drop(self, wire: _Wire) -> None:
        self._open.discard(wire)
        wire.close()


class ReplyBody(httpx.AsyncByteStream):
    """The body of one reply, read as it arrives; closing it gives the connection back."""

    def __init__(
        self,
        *,
        pool: KeepAliveTransport,
        key: tuple[str, str, int],
        wire: _Wire,
        framing: int | str,
        keep: bool,
        read: float | None,
        request: httpx.Request,
    ) -> None:
        self._pool = pool
        self._key = key
        self._wire: _Wire | None = wire
        self._framing = framing
        self._keep = keep
        self._read = read
        self._request = request
        self._complete = framing == 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        wire = self._wire
        if wire is None or self._complete:
            return
        try:
            if isinstance(self._framing, int):
                pieces = self._sized(wire, self._framing)
            elif self._framing == "chunked":
                pieces = self._chunked(wire)
            else:
                pieces = self._until_close(wire)
            async for piece in pieces:
                yield piece
        except (OSError, TimeoutError) as exc:
            if isinstance(exc, TimeoutError):
                raise httpx.ReadTimeout(str(exc) or "timed out", request=self._request) from exc
            raise httpx.ReadError(str(exc) or type(exc).__name__, request=self._request) from exc

    async def aclose(self) -> None:
        wire, self._wire = self._wire, None
        if wire is not None:
            self._pool._release(self._key, wire, self._keep and self._complete)

    async def read_all(self) -> bytes:
        """The whole body, as joining every piece of iterating it gives (the same errors).

        A body of known length that has arrived whole already (an ordinary reply: one read
        brought its head and body) is taken in one step, without an iteration per piece.
        """
        wire, framing = self._wire, self._framing
        if (
            wire is not None
            and not self._complete
            and isinstance(framing, int)
            and len(wire.buffer) >= framing
        ):
            self._complete = True
            return wire.take(framing)
        return b"".join([piece async for piece in self])

    async def _sized(self, wire: _Wire, remaining: int) -> AsyncIterator[bytes]:
        while remaining:
            if not wire.buffer:
                await self._more(wire, f"{remaining} bytes of the body still to come")
            piece = wire.take(remaining)
            remaining -= len(piece)
            yield piece
        self._complete = True

    async def _chunked(self, wire: _Wire) -> AsyncIterator[bytes]:
        while True:
            line = await self._line(wire)
            size_text = line.split(b";", 1)[0].strip()
            if not size_text or not all(c in b"0123456789abcdefABCDEF" for c in size_text):
                raise self._broken(f"a chunk size line is not hexadecimal: {line[:40]!r}")
            size = int(size_text, 16)
            if size == 0:
                while await self._line(wire):  # trailer fields, up to the empty line
                    pass
                self._complete = True
                return
            while size:
                if not wire.buffer:
                    await self._more(wire, "a chunk was cut off")
                piece = wire.take(size)
                size -= len(piece)
                yield piece
            if await self._line(wire):
                raise self._broken("a chunk is longer than its size line says")

    async def _until_close(self, wire: _Wire) -> AsyncIterator[bytes]:
        while True:
            if wire.buffer:
                yield wire.take(len(wire.buffer))
            elif not await wire.more(self._read):
                self._complete = True
                return

    async def _line(self, wire: _Wire) -> bytes:
        while (end := wire.buffer.find(b"\n")) < 0:
            if len(wire.buffer) > MAX_CHUNK_LINE:
                raise self._broken("a chunk size line is too long")
            await self._more(wire, "the chunked body was cut off")
        if end > MAX_CHUNK_LINE:
            raise self._broken("a chunk size line is too long")
        return wire.take(end + 1).rstrip(b"\r\n")

    async def _more(self, wire: _Wire, what: str) -> None:
        if not await wire.more(self._read):
            ended = "peer closed connection without sending complete message body"
            raise httpx.RemoteProtocolError(
                _lost_reason(wire.lost, f"{ended} ({what})"), request=self._request
            )

    def _broken(self, what: str) -> httpx.RemoteProtocolError:
        return httpx.RemoteProtocolError(f"malformed chunked body: {what}", request=self._request)


async def _bounded(
    step: Any,
    limit: float | None,
    error: Callable[..., httpx.TimeoutException],
    request: httpx.Request,
) -> Any:
    """Await `step` for at most `limit` seconds (None: no limit); too slow raises `error`."""
    if limit is None:
        return await step
    try:
        async with asyncio.timeout(limit):
            return await step
    except TimeoutError as exc:
        raise error("timed out", request=request) from exc


async def _send(wire: _Wire, request: httpx.Request, limit: float | None) -> None:
    """Write the request line, the headers and the body as httpx framed it."""
    target = request.url.raw_path
    lines = [request.method.encode("ascii") + b" " + target + b" HTTP/1.1"]
    lines += [name + b": " + value for name, value in request.headers.raw]
    head = b"\r\n".join(lines)
    if head.count(b"\n") != len(lines) - 1 or head.count(b"\r") != len(lines) - 1:
        raise httpx.LocalProtocolError("a header or the URL holds a line break", request=request)
    head += b"\r\n\r\n"
    chunked = _has_token(request.headers.raw, b"transfer-encoding", b"chunked")
    stream = request.stream
    if isinstance(stream, httpx.ByteStream) and not chunked:  # read already: `content`
        await wire.write(head + request.content, limit, request)
        return
    await wire.write(head, limit, request)
    async for piece in cast(httpx.AsyncByteStream, stream):
        if not piece:
            continue
        framed = b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece
        await wire.write(framed, limit, request)
    if chunked:
        await wire.write(b"0\r\n\r\n", limit, request)


async def _read_head(
    wire: _Wire, limit: float | None, request: httpx.Request
) -> tuple[int, bytes, bytes, list[tuple[bytes, bytes]]]:
    """The status, reason, HTTP version and headers of the reply (informational ones skipped)."""
    while True:
        searched = 0
        while (found := _END_OF_HEAD.search(wire.buffer, max(searched - 3, 0))) is None:
            if len(wire.buffer) > MAX_HEAD:
                raise _head_too_large(request)
            searched = len(wire.buffer)
            try:
                arrived = await wire.more(limit)
            except TimeoutError as exc:
                raise httpx.ReadTimeout("timed out", request=request) from exc
            if not arrived:
                if wire.lost is not None:
                    raise httpx.ReadError(
                        _lost_reason(wire.lost, "connection lost"), request=request
                    ) from wire.lost
                raise httpx.RemoteProtocolError(
                    "Server disconnected without sending a response.", request=request
                )
        if found.start() > MAX_HEAD:
            raise _head_too_large(request)
        head = wire.take(found.end())[: found.start()]
        status, reason, version, headers = _parse_head(head, request)
        if status >= 200:
            return status, reason, version, headers
        if status == 101:
            raise httpx.RemoteProtocolError("the server switched protocols", request=request)


def _head_too_large(request: httpx.Request) -> httpx.RemoteProtocolError:
    return httpx.RemoteProtocolError(
        f"the reply's header section is larger than {MAX_HEAD // 1024} KiB", request=request
    )


def _parse_head(
    head: bytes, request: httpx.Request
) -> tuple[int, bytes, bytes, list[tuple[bytes, bytes]]]:
    status_line, *fields = head.split(b"\n")
    parts = status_line.rstrip(b"\r").split(b" ", 2)
    version = parts[0]
    code = parts[1] if len(parts) > 1 else b""
    if version not in (b"HTTP/1.1", b"HTTP/1.0") or len(code) != 3 or not code.isdigit():
        shown = status_line[:60].decode("ascii", "replace")
        raise httpx.RemoteProtocolError(f"not an HTTP/1.1 status line: {shown!r}", request=request)
    headers: list[tuple[bytes, bytes]] = []
    for field in fields:
        line = field.rstrip(b"\r")
        name, colon, value = line.partition(b":")
        if not colon or not _TOKEN.fullmatch(name):
            shown = line[:60].decode("ascii", "replace")
            raise httpx.RemoteProtocolError(f"malformed header line: {shown!r}", request=request)
        headers.append((name, value.strip(b" \t")))
    return int(code), parts[2] if len(parts) > 2 else b"", version, headers


def _framing(
    method: str, status: int, headers: list[tuple[bytes, bytes]], request: httpx.Request
) -> int | str:
    """How the body ends: its length (0: no body), "chunked", or "close" (the server's close)."""
    if method == "HEAD" or status in _NO_BODY:
        return 0
    codings = [v for n, v in headers if n.lower() == b"transfer-encoding"]
    if codings:
        last = b",".join(codings).split(b",")[-1].strip().lower()
        return "chunked" if last == b"chunked" else "close"
    lengths = {v.strip() for n, v in headers if n.lower() == b"content-length"}
    if not lengths:
        return "close"
    values = {piece.strip() for value in lengths for piece in value.split(b",")}
    if len(values) != 1 or not (value := values.pop()).isdigit():
        raise httpx.RemoteProtocolError(
            "the reply's Content-Length is invalid or given twice differently", request=request
        )
    return int(value)


def _has_token(headers: list[tuple[bytes, bytes]], name: bytes, token: bytes) -> bool:
    """Whether header `name` lists `token` (case-insensitive, comma-separated)."""
    return any(
        token in (p.strip().lower() for p in value.split(b","))
        for field, value in headers
        if field.lower() == name
    )


def _expire(arrival: asyncio.Future[None]) -> None:
    if not arrival.done():
        arrival.set_exception(TimeoutError())


def _lost_reason(lost: BaseException | None, default: str) -> str:
    return f"{default}: {lost}" if lost is not None else default
