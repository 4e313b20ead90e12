"""The daemon's HTTP server under slow clients, on real loopback sockets (small limits, so the
tests take about a second): slow requests are cut off, open connections are bounded, and
/healthz still answers while hundreds of slow clients hold on."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.errors import UsageError
from reconciler.watch import WatchMetrics, WatchSettings, daemon, make_app
from reconciler.watch.http import HttpServer, all_interfaces, webhook_token
from reconciler.watch.record import WatchRecord

READ_TIMEOUT, MAX_CONNECTIONS = 1.0, 32


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, int]]:
    record = WatchRecord((Path("m"),), "apply", 60.0, time.monotonic(), datetime.now(UTC))
    record.alive = True
    app = make_app(record, WatchMetrics(), lambda: None, time.monotonic)
    http = HttpServer(
        app, "127.0.0.1", 0, read_timeout=READ_TIMEOUT, max_connections=MAX_CONNECTIONS
    )
    address = await http.start()
    yield address
    await http.stop()


async def get(address: tuple[str, int], path: str) -> bytes:
    """One request on a fresh connection; the raw reply."""
    reader, writer = await asyncio.open_connection(*address)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        return await asyncio.wait_for(reader.read(), 2.0)
    finally:
        writer.close()


async def closed(reader: asyncio.StreamReader, within: float) -> bool:
    """Whether the server closed this connection within that many seconds."""
    try:
        return await asyncio.wait_for(reader.read(1024), within) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


async def test_healthz_answers_while_200_slow_clients_hold_connections(server):
    slow = []
    for _ in range(200):
        reader, writer = await asyncio.open_connection(*server)
        writer.write(b"GET /heal")  # a request line, sent slowly: the rest never comes
        slow.append((reader, writer))
    await asyncio.sleep(0.05)
    started = time.monotonic()
    reply = await get(server, "/healthz")
    assert reply.startswith(b"HTTP/1.1 200 ")
    assert b'{"status":"ok"}' in reply
    assert time.monotonic() - started < 0.5
    # at most MAX_CONNECTIONS were kept open: the oldest were closed to make room at once
    early = await asyncio.gather(*(closed(r, 0.05) for r, _ in slow))
    assert sum(early) >= 200 - MAX_CONNECTIONS
    assert not any(early[-MAX_CONNECTIONS // 2 :]), "the newest are kept until their deadline"
    # and the rest are closed once the read timeout has passed
    late = await asyncio.gather(*(closed(r, READ_TIMEOUT + 0.5) for r, _ in slow))
    assert all(late)
    for _, writer in slow:
        writer.close()


async def test_a_client_that_keeps_trickling_bytes_is_cut_off_at_the_deadline(server):
    reader, writer = await asyncio.open_connection(*server)
    started = time.monotonic()
    request = b"GET /status HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100
    cut = False
    for byte in request:
        writer.write(bytes([byte]))
        if await closed(reader, 0.05):
            cut = True
            break
    assert cut, "the whole request never arrived, yet the connection stayed open"
    assert READ_TIMEOUT - 0.1 <= time.monotonic() - started < READ_TIMEOUT + 0.5
    writer.close()


async def test_a_kept_alive_connection_gets_the_same_deadline_for_its_next_request(server):
    reader, writer = await asyncio.open_connection(*server)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 2)
    assert head.startswith(b"HTTP/1.1 200 ")
    length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
    await reader.readexactly(length)
    started = time.monotonic()
    writer.write(b"GET /sta")
    assert await closed(reader, READ_TIMEOUT + 0.5)
    assert time.monotonic() - started >= READ_TIMEOUT - 0.1
    writer.close()


async def test_ordinary_requests_are_served(server):
    status = await get(server, "/status")
    assert status.startswith(b"HTTP/1.1 200 ")
    reader, writer = await asyncio.open_connection(*server)
    body = b'{"ref": "refs/heads/main"}'
    writer.write(
        b"POST /reconcile HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n".encode()
        + body
    )
    assert (await asyncio.wait_for(reader.read(), 2)).startswith(b"HTTP/1.1 202 ")
    writer.close()


async def test_a_request_head_larger_than_the_limit_is_refused(server):
    reader, writer = await asyncio.open_connection(*server)
    writer.write(b"GET /status HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000)  # still going
    assert (await asyncio.wait_for(reader.read(), 2)).startswith(b"HTTP/1.1 400 ")
    writer.close()


@pytest.mark.parametrize("value", ["", " ", "\t\n"])
def test_a_webhook_token_set_but_blank_is_refused(value: str) -> None:
    with pytest.raises(UsageError) as caught:
        webhook_token(value)
    assert str(caught.value) == (
        "ORC_WEBHOOK_TOKEN is set but empty: POST /reconcile would accept anyone (set "
        "ORC_WEBHOOK_TOKEN to a secret token, or unset it to serve POST /reconcile without "
        "authentication)"
    )
    assert caught.value.exit_code == 1


def test_an_unset_or_real_webhook_token_is_kept() -> None:
    assert webhook_token(None) is None
    assert webhook_token("s3cret") == "s3cret"


@pytest.mark.parametrize(
    ("host", "every"),
    [("0.0.0.0", True), ("::", True), ("", True), ("127.0.0.1", False), ("::1", False)],
)
def test_every_interface_is_recognised(host: str, every: bool) -> None:
    assert all_interfaces(host) is every


class FakeHttp:
    """Stands in for `HttpServer`: nothing is bound, the address asked for is reported."""

    def __init__(self, app: object, host: str, port: int) -> None:
        self.address = host, port

    async def start(self) -> tuple[str, int]:
        return self.address


@pytest.mark.parametrize(
    ("host", "token", "warned"),
    [
        ("0.0.0.0", None, "and can trigger POST /reconcile (no ORC_WEBHOOK_TOKEN)"),
        ("::", "s3cret", "reads /status and /metrics; use --listen 127.0.0.1:PORT"),
        ("127.0.0.1", None, None),
    ],
)
async def test_listening_on_every_interface_is_warned_about(
    bench, caplog, monkeypatch, host: str, token: str | None, warned: str | None
) -> None:
    caplog.set_level(logging.INFO, logger="reconciler.watch")
    monkeypatch.setattr(daemon, "HttpServer", FakeHttp)
    b = bench({"a": []})
    settings = WatchSettings((b.folder,), listen=(host, 9464), webhook_token=token)
    await daemon._start_http(settings, b.loop, WatchMetrics(), daemon.EventLog())
    found = [r for r in caplog.records if r.getMessage() == "http.all_interfaces"]
    if warned is None:
        assert found == []
        return
    [warning] = found
    assert warning.levelno == logging.WARNING
    assert warned in warning.orc_fields["message"]  # type: ignore[attr-defined]
    assert "s3cret" not in str(warning.orc_fields)  # type: ignore[attr-defined]
