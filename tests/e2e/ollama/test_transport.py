"""`KeepAliveTransport` against real loopback servers that answer with exactly the bytes a test
scripts: keep-alive reuse, framing (length, chunked, until close), the pool's bound, hostile
replies (split responses, huge headers, conflicting lengths, bad chunks, drips) and TLS."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import httpx
import pytest
import trustme

from reconciler.ollama import (
    ClientConfig,
    OllamaClient,
    OllamaTimeout,
    OllamaTLSError,
    OllamaUnreachable,
    ProtocolError,
    tls,
)
from reconciler.ollama.session import environment_proxies
from reconciler.ollama.transport import MAX_HEAD, KeepAliveTransport, ReplyBody

Answer = bytes | Callable[[bytes], bytes] | None  # None: close without answering


def ok(body: bytes = b'{"version":"0.12.6"}', *extra: str) -> bytes:
    """A complete 200 reply with a Content-Length."""
    head = [f"Content-Length: {len(body)}", "Content-Type: application/json", *extra]
    return b"HTTP/1.1 200 OK\r\n" + "".join(h + "\r\n" for h in head).encode() + b"\r\n" + body


@dataclass
class RawServer:
    """Answers the n-th request (over all connections) with `answers[n]`, as raw bytes."""

    answers: list[Answer]
    tls: ssl.SSLContext | None = None
    connections: int = 0
    open_now: int = 0
    most_open: int = 0
    requests: list[bytes] = field(default_factory=list)
    delay: float = 0.0
    port: int = 0

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open_now += 1
        self.most_open = max(self.most_open, self.open_now)
        try:
            while True:
                try:
                    head = await reader.readuntil(b"\r\n\r\n")
                except (asyncio.IncompleteReadError, ConnectionError):
                    return
                request = head + await _read_body(reader, head)
                self.requests.append(request)
                answer = self.answers[len(self.requests) - 1]
                if self.delay:
                    await asyncio.sleep(self.delay)
                if answer is None:
                    return
                writer.write(answer(request) if callable(answer) else answer)
                await writer.drain()
        finally:
            self.open_now -= 1
            writer.close()


async def _read_body(reader: asyncio.StreamReader, head: bytes) -> bytes:
    lowered = head.lower()
    if b"transfer-encoding: chunked" in lowered:
        body = b""
        while True:
            line = await reader.readuntil(b"\r\n")
            body += line
            size = int(line.split(b";")[0], 16)
            body += await reader.readexactly(size + 2)
            if size == 0:
                return body
    for line in lowered.split(b"\r\n"):
        if line.startswith(b"content-length:"):
            return await reader.readexactly(int(line.split(b":")[1]))
    return b""


@asynccontextmanager
async def serving(server: RawServer) -> AsyncIterator[RawServer]:
    listener = await asyncio.start_server(server.handle, "127.0.0.1", 0, ssl=server.tls)
    server.port = listener.sockets[0].getsockname()[1]
    try:
        yield server
    finally:
        listener.close()


@asynccontextmanager
async def client_of(
    server: RawServer, *, max_connections: int = 4, context: ssl.SSLContext | None = None
) -> AsyncIterator[httpx.AsyncClient]:
    transport = KeepAliveTransport(
        ssl_context=context or ssl.create_default_context(), max_connections=max_connections
    )
    async with httpx.AsyncClient(transport=transport, base_url=server.url, timeout=5) as client:
        yield client


# -- reuse -------------------------------------------------------------------------------------


async def test_one_connection_carries_every_request_in_turn() -> None:
    async with serving(RawServer([ok()] * 5)) as server, client_of(server) as client:
        for _ in range(5):
            assert (await client.get("/api/version")).json() == {"version": "0.12.6"}
    assert server.connections == 1


async def test_a_reply_that_says_close_is_not_reused() -> None:
    answers: list[Answer] = [ok(b"{}", "Connection: close"), ok(b"{}")]
    async with serving(RawServer(answers)) as server, client_of(server) as client:
        await client.get("/a")
        await client.get("/b")
    assert server.connections == 2


async def test_a_connection_the_server_closed_while_idle_is_replaced() -> None:
    answers: list[Answer] = [ok(b"{}"), ok(b"{}")]

    async def closing(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        server.connections += 1
        head = await reader.readuntil(b"\r\n\r\n")
        server.requests.append(head)
        writer.write(answers[len(server.requests) - 1] or b"")
        await writer.drain()
        writer.close()  # as an idle timeout would, without saying so

    server = RawServer(answers)
    server.handle = closing  # type: ignore[method-assign]
    async with serving(server), client_of(server) as client:
        await client.get("/a")
        await asyncio.sleep(0.05)  # the close reaches the client
        assert (await client.get("/b")).status_code == 200
    assert server.connections == 2


async def test_bytes_nobody_asked_for_keep_a_connection_from_being_reused() -> None:
    # A split response: the first reply carries a second one, which must never be taken for
    # the answer to the next request.
    planted = ok(b'{"version":"planted"}')
    answers: list[Answer] = [ok() + planted, ok(b'{"version":"real"}')]
    async with serving(RawServer(answers)) as server, client_of(server) as client:
        await client.get("/api/version")
        await asyncio.sleep(0.05)
        second = await client.get("/api/version")
    assert second.json() == {"version": "real"}
    assert server.connections == 2


async def test_the_pool_never_opens_more_than_max_connections() -> None:
    server = RawServer([ok(b"{}")] * 6, delay=0.02)
    async with serving(server), client_of(server, max_connections=2) as client:
        replies = await asyncio.gather(*(client.get(f"/{n}") for n in range(6)))
    assert [r.status_code for r in replies] == [200] * 6
    assert server.most_open <= 2


async def test_a_full_pool_is_a_pool_timeout() -> None:
    server = RawServer([ok(b"{}")] * 2, delay=0.3)
    async with serving(server), client_of(server, max_connections=1) as client:
        first = asyncio.create_task(client.get("/slow"))
        await asyncio.sleep(0.05)
        with pytest.raises(httpx.PoolTimeout):
            await client.get("/other", timeout=httpx.Timeout(5, pool=0.05))
        assert (await first).status_code == 200


async def test_an_abandoned_reply_closes_its_connection_and_frees_its_slot() -> None:
    big = b"x" * 200_000
    answers: list[Answer] = [ok(big), ok(b"{}")]
    async with serving(RawServer(answers)) as server, client_of(server, max_connections=1) as c:
        async with c.stream("GET", "/big") as response:
            await anext(response.aiter_raw())  # read a part, then leave
        assert (await c.get("/next")).status_code == 200
    assert server.connections == 2


async def test_a_cancelled_request_frees_its_slot() -> None:
    server = RawServer([ok(b"{}")] * 2, delay=0.5)
    async with serving(server), client_of(server, max_connections=1) as client:
        task = asyncio.create_task(client.get("/slow"))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        server.delay = 0
        assert (await client.get("/next", timeout=2)).status_code == 200


# -- framing -----------------------------------------------------------------------------------


async def test_chunked_replies_are_joined_and_trailers_skipped() -> None:
    chunked = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b'7\r\n{"a": 1\r\n3;ext=1\r\n, "\r\n6\r\nb": 2}\r\n0\r\nX-Trailer: t\r\n\r\n'
    )
    async with serving(RawServer([chunked, ok(b"{}")])) as server, client_of(server) as client:
        assert (await client.get("/c")).json() == {"a": 1, "b": 2}
        assert (await client.get("/d")).status_code == 200
    assert server.connections == 1  # the whole chunked body was read: reusable


async def test_a_body_without_length_ends_with_the_connection() -> None:
    old = b'HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n{"version": "1"}'
    answers: list[Answer] = [lambda _: old, None]

    async def then_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(old)
        await writer.drain()
        writer.close()

    server = RawServer(answers)
    server.handle = then_close  # type: ignore[method-assign]
    async with serving(server), client_of(server) as client:
        assert (await client.get("/v")).json() == {"version": "1"}


async def test_head_and_no_content_replies_have_no_body() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n"
    empty = b"HTTP/1.1 204 No Content\r\n\r\n"
    async with serving(RawServer([head, empty, ok()])) as server, client_of(server) as client:
        assert (await client.head("/api/blobs/sha256:00")).content == b""
        assert (await client.delete("/api/delete")).status_code == 204
        assert (await client.get("/api/version")).status_code == 200
    assert server.connections == 1


async def test_an_informational_reply_is_skipped() -> None:
    answers: list[Answer] = [b"HTTP/1.1 100 Continue\r\n\r\n" + ok()]
    async with serving(RawServer(answers)) as server, client_of(server) as client:
        assert (await client.get("/api/version")).json() == {"version": "0.12.6"}


async def test_a_streamed_request_body_arrives_whole_and_chunked() -> None:
    async def pieces() -> AsyncIterator[bytes]:
        for n in range(3):
            yield bytes([65 + n]) * 5000

    async with serving(RawServer([ok(b"{}")])) as server, client_of(server) as client:
        await client.post("/api/blobs/sha256:00", content=pieces())
    head, _, body = server.requests[0].partition(b"\r\n\r\n")
    assert b"transfer-encoding: chunked" in head.lower()
    assert _unchunk(body) == b"A" * 5000 + b"B" * 5000 + b"C" * 5000


def _unchunk(body: bytes) -> bytes:
    out = b""
    while True:
        size_line, _, body = body.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            return out
        out, body = out + body[:size], body[size + 2 :]


async def test_the_request_head_is_what_httpx_would_send() -> None:
    # The session sends straight to its transport; the head must be the one httpx's client
    # would have written (same headers, same order), Basic credentials from the URL included.
    environment_proxies.cache_clear()
    async with serving(RawServer([ok()] * 2)) as server:
        url = server.url.replace("://", "://user:pa%20ss@")
        config = ClientConfig("one", url, headers={"X-Client-ID": "orc"}, bearer_token="tok")
        async with OllamaClient(config) as ollama:
            await ollama.version()
        reference = httpx.AsyncClient(
            headers={"User-Agent": config.user_agent, "Accept": "application/json"}
            | {"X-Client-ID": "orc", "Authorization": "Bearer tok"},
            trust_env=False,
        )
        async with reference:
            await reference.get(f"{url}/api/version")
    assert server.requests[0] == server.requests[1]
    assert b"Authorization: Basic dXNlcjpwYSBzcw==" in server.requests[0]


# -- hostile replies ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}", "Content-Length"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n{}", "Content-Length"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "hexadecimal"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}}}\r\n0\r\n\r\n", "longer"),
        (b"SSH-2.0-OpenSSH_9.6\r\n\r\n", "status line"),
        (b"HTTP/1.1 200 OK\r\n folded: header\r\n\r\n", "header line"),
        (b"HTTP/1.1 200 OK\r\nX: " + b"a" * (MAX_HEAD + 10) + b"\r\n\r\n", "KiB"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}", "complete message body"),
    ],
)
async def test_a_broken_reply_is_a_clear_error_and_the_connection_is_dropped(
    reply: bytes, expected: str
) -> None:
    answers: list[Answer] = [reply, ok()]

    async def once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        server.connections += 1
        head = await reader.readuntil(b"\r\n\r\n")
        server.requests.append(head)
        writer.write(answers[len(server.requests) - 1] or b"")
        await writer.drain()
        if len(server.requests) == 1:
            writer.close()

    server = RawServer(answers)
    server.handle = once  # type: ignore[method-assign]
    async with serving(server), client_of(server) as client:
        with pytest.raises(httpx.RemoteProtocolError, match=expected):
            await client.get("/api/version")
        assert (await client.get("/api/version")).status_code == 200
    assert server.connections == 2


async def test_a_server_that_hangs_up_without_answering_is_a_lost_connection() -> None:
    server = RawServer([None])
    async with serving(server), OllamaClient(ClientConfig("one", server.url)) as ollama:
        with pytest.raises(OllamaUnreachable, match="was lost"):
            await ollama.version()


async def test_a_dripping_reply_is_bounded_by_the_whole_reply_timeout() -> None:
    async def drip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
        for _ in range(100):  # every byte well within any read timeout; all of them are not
            writer.write(b" ")
            await writer.drain()
            await asyncio.sleep(0.05)

    server = RawServer([])
    server.handle = drip  # type: ignore[method-assign]
    async with serving(server):
        config = ClientConfig("one", server.url, timeout=0.3)
        async with OllamaClient(config) as ollama:
            with pytest.raises(OllamaTimeout, match=r"did not arrive in full within 0\.3s"):
                await ollama.version()


async def test_a_reply_that_is_not_http_is_a_protocol_error_for_the_client() -> None:
    server = RawServer([b"hello there\r\n\r\n"])
    async with serving(server), OllamaClient(ClientConfig("one", server.url)) as ollama:
        with pytest.raises((OllamaUnreachable, ProtocolError), match="status line"):
            await ollama.version()


# -- TLS ---------------------------------------------------------------------------------------


async def test_tls_connections_are_verified_and_reused() -> None:
    authority = trustme.CA()
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(served)
    trusting = ssl.create_default_context()
    authority.configure_trust(trusting)
    server = RawServer([ok()] * 3, tls=served)
    async with serving(server), client_of(server, context=trusting) as client:
        for _ in range(3):
            assert (await client.get("/api/version")).status_code == 200
    assert server.connections == 1

    async with serving(RawServer([ok()], tls=served)) as untrusted, client_of(untrusted) as c:
        with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await c.get("/api/version")


async def test_a_closed_transport_refuses_new_requests() -> None:
    async with serving(RawServer([ok()])) as server:
        transport = KeepAliveTransport(ssl_context=ssl.create_default_context(), max_connections=1)
        async with httpx.AsyncClient(transport=transport, base_url=server.url) as client:
            await client.get("/api/version")
        with pytest.raises(httpx.ConnectError, match="closed"):
            await transport.handle_async_request(httpx.Request("GET", server.url))


async def test_no_tls_context_is_made_for_a_plain_http_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Loading the system CAs costs ~50 ms of CPU: an http:// fleet must never pay it.
    made: list[str] = []
    real = tls.ssl_context

    def counted(config: ClientConfig) -> ssl.SSLContext:
        made.append(config.instance)
        return real(config)

    monkeypatch.setattr(tls, "ssl_context", counted)
    environment_proxies.cache_clear()
    plain = RawServer([ok()])
    async with serving(plain), OllamaClient(ClientConfig("plain", plain.url)) as ollama:
        await ollama.version()
    assert made == []

    authority = trustme.CA()
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(served)
    secure = RawServer([ok()], tls=served)
    async with serving(secure), OllamaClient(ClientConfig("secure", secure.url)) as ollama:
        with pytest.raises(OllamaTLSError, match="not trusted"):
            await ollama.version()
    assert made == ["secure"]  # made at the first https connection, once


async def test_an_answer_given_before_the_body_was_taken_is_read_not_lost() -> None:
    # An authenticating proxy may refuse an upload at its headers and hang up: the refusal,
    # not a failed write, is what the user must see.
    async def refuse(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 12\r\n\r\nno such user")
        await writer.drain()
        writer.close()

    async def upload() -> AsyncIterator[bytes]:
        for _ in range(64):
            await asyncio.sleep(0)
            yield b"x" * 65536

    server = RawServer([])
    server.handle = refuse  # type: ignore[method-assign]
    async with serving(server), client_of(server) as client:
        response = await client.post("/api/blobs/sha256:00", content=upload())
    assert response.status_code == 401
    assert response.text == "no such user"


# -- whole replies read by the session ----------------------------------------------------------


async def test_the_client_reads_whole_replies_and_reuses_the_connection() -> None:
    answers: list[Answer] = [ok(), ok(b'{"models":[]}'), ok(b'{"version":"0.13.0"}')]
    server = RawServer(answers)
    async with serving(server), OllamaClient(ClientConfig("one", server.url)) as ollama:
        assert await ollama.version() == "0.12.6"
        assert await ollama.list_models() == []
        assert await ollama.version() == "0.13.0"
    assert server.connections == 1


async def test_the_client_reads_a_body_that_arrives_after_its_head() -> None:
    body = b'{"version":"' + b"9" * 5000 + b'"}'

    async def slow_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        server.connections += 1
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body))
        await writer.drain()
        for start in range(0, len(body), 1000):
            await asyncio.sleep(0.01)
            writer.write(body[start : start + 1000])
            await writer.drain()
        await reader.read()  # until the client hangs up

    server = RawServer([])
    server.handle = slow_body  # type: ignore[method-assign]
    async with serving(server), OllamaClient(ClientConfig("one", server.url)) as ollama:
        assert await ollama.version() == "9" * 5000


async def test_the_client_takes_only_its_reply_and_drops_a_connection_with_more() -> None:
    planted = ok(b'{"version":"planted"}')
    answers: list[Answer] = [ok() + planted, ok(b'{"version":"real"}')]
    server = RawServer(answers)
    async with serving(server), OllamaClient(ClientConfig("one", server.url)) as ollama:
        assert await ollama.version() == "0.12.6"
        await asyncio.sleep(0.05)
        assert await ollama.version() == "real"
    assert server.connections == 2


async def test_a_body_cut_short_is_a_lost_connection_for_the_client() -> None:
    async def cut(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{}")
        await writer.drain()
        writer.close()

    server = RawServer([])
    server.handle = cut  # type: ignore[method-assign]
    async with serving(server), OllamaClient(ClientConfig("one", server.url)) as ollama:
        with pytest.raises(OllamaUnreachable, match="complete message body"):
            await ollama.version()


async def test_a_reply_that_arrived_whole_is_taken_in_one_step(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_iteration(self: ReplyBody) -> AsyncIterator[bytes]:
        raise AssertionError("a whole reply was read piece by piece")

    monkeypatch.setattr(ReplyBody, "__aiter__", no_iteration)
    server = RawServer([ok()])
    async with serving(server), OllamaClient(ClientConfig("one", server.url)) as ollama:
        assert await ollama.version() == "0.12.6"
