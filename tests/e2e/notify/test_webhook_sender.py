"""The webhook sender over a real loopback socket: delivered, redirect refused, 5xx, silence."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable

import pytest

from reconciler.ollama.webhook import WebhookError, post_webhook


class LoopbackReceiver:
    """A raw HTTP/1.1 receiver on 127.0.0.1 that records each request and answers as told."""

    def __init__(self, answer: Callable[[], bytes | None]) -> None:
        self.answer = answer
        self.requests: list[bytes] = []
        self.server: asyncio.Server | None = None

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/services/T0/B0/sekrit-0123456789"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = next(
            int(line.split(b":")[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length")
        )
        self.requests.append(head + await reader.readexactly(length))
        reply = self.answer()
        if reply is None:  # say nothing
            await asyncio.sleep(5)
        else:
            writer.write(reply)
            await writer.drain()
        writer.close()


def _reply(status: str, extra: str = "") -> bytes:
    return f"HTTP/1.1 {status}\r\nContent-Length: 0\r\n{extra}Connection: close\r\n\r\n".encode()


@pytest.fixture
async def receiver() -> AsyncIterator[Callable[[Callable[[], bytes | None]], LoopbackReceiver]]:
    made: list[LoopbackReceiver] = []

    def factory(answer: Callable[[], bytes | None]) -> LoopbackReceiver:
        made.append(LoopbackReceiver(answer))
        return made[-1]

    yield factory
    for item in made:
        if item.server is not None:
            item.server.close()


async def test_a_message_is_posted_as_json(receiver) -> None:
    r = receiver(lambda: _reply("200 OK"))
    url = await r.start()
    await post_webhook(url, b'{"text":"hi"}', 5)
    request = r.requests[0]
    assert request.startswith(b"POST /services/T0/B0/sekrit-0123456789 HTTP/1.1")
    assert b"content-type: application/json" in request.lower()
    assert request.endswith(b'{"text":"hi"}')


@pytest.mark.parametrize(
    ("reply", "message", "transient"),
    [
        (
            _reply("302 Found", "Location: http://127.0.0.1:9/elsewhere\r\n"),
            "answered 302 (a redirect, which is not followed)",
            False,
        ),
        (_reply("503 Service Unavailable"), "answered 503", True),
        (_reply("429 Too Many Requests"), "answered 429", True),
        (_reply("404 Not Found"), "answered 404", False),
        (None, "no answer within 0.2s", True),
    ],
)
async def test_failures_name_the_host_only(receiver, reply, message, transient) -> None:
    r = receiver(lambda: reply)
    url = await r.start()
    with pytest.raises(WebhookError) as caught:
        await post_webhook(url, b"{}", 0.2)
    assert str(caught.value) == f"webhook 127.0.0.1: {message}"
    assert caught.value.transient is transient
    assert len(r.requests) == 1, "a redirect is never followed"
    assert caught.value.__cause__ is None  # nothing chained could show the url


async def test_a_closed_port_is_a_transient_failure() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    with pytest.raises(WebhookError) as caught:
        await post_webhook(f"http://127.0.0.1:{port}/sekrit", b"{}", 2)
    assert caught.value.transient
    assert "sekrit" not in str(caught.value)
