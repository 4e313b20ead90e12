"""The daemon's HTTP endpoints (starlette, served by uvicorn in the loop's own event loop).

`GET /` is the dashboard (report/html.py), `GET /healthz` for liveness probes, `GET /status` for
dashboards and scripts, `GET /metrics` for Prometheus, `POST /reconcile` for a git webhook or a
person in a hurry, `POST /chat` for the dashboard's Test chat (testchat.py). When
`ORC_WEBHOOK_TOKEN` is set, `POST /reconcile` wants it as a bearer token; the token is compared in
constant time and never echoed. A token that is set but empty would turn that check off without a
word, so it is refused. Handlers are `async` so they run on the loop's thread, never racing the
record. Slow clients are cut off and open connections bounded (httpguard.py).

The Test chat spends the fleet's compute, so it is open only where that is safe: with the webhook
token as a bearer token when `ORC_WEBHOOK_TOKEN` is set, else when the daemon listens on loopback
(and the request names a loopback host, so that a page on another site that rebinds its name to
127.0.0.1 gets nothing). Anywhere else it is off and `POST /chat` answers 403. A request from
another origin, or not JSON (which a cross-site form could send without asking the browser
first), is refused too.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import secrets
import socket
from collections.abc import AsyncIterator, Callable

import uvicorn
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from reconciler.errors import ReconcilerError, UsageError
from reconciler.listen import bind_socket
from reconciler.report.html import ChatAccess, LivePage, content_security_policy, render_status_html
from reconciler.watch.httpguard import (
    MAX_CONNECTIONS,
    MAX_HEAD_BYTES,
    READ_TIMEOUT,
    guarded_protocol,
)
from reconciler.watch.metrics import CONTENT_TYPE, WatchMetrics
from reconciler.watch.record import WatchRecord
from reconciler.watch.testchat import (
    MAX_BODY,
    NDJSON,
    ChatBodyTooLarge,
    ChatRequestError,
    TestChats,
    parse_ask,
)

TOKEN_ENV = "ORC_WEBHOOK_TOKEN"
SHUTDOWN_GRACE = 1
KEEP_ALIVE = 5  # seconds an idle kept-alive connection stays open
ALL_INTERFACES = frozenset({"", "0.0.0.0", "::"})
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


class ListenError(ReconcilerError):
    """The HTTP endpoints cannot listen where `--listen` asks."""


def webhook_token(value: str | None) -> str | None:
    """The webhook token from `ORC_WEBHOOK_TOKEN` (None: unset); set but blank is refused."""
    if value is None:
        return None
    if not value.strip():
        raise UsageError(
            f"{TOKEN_ENV} is set but empty: POST /reconcile would accept anyone",
            hint=f"set {TOKEN_ENV} to a secret token, or unset it to serve POST /reconcile "
            "without authentication",
        )
    return value


def all_interfaces(host: str) -> bool:
    """Whether `host` listens on every interface (`:PORT`, `0.0.0.0`, `::`)."""
    return host in ALL_INTERFACES


def loopback(host: str) -> bool:
    """Whether `host` (an address or a name) means this machine only: every address it resolves
    to is a loopback address. Every interface, or a name that does not resolve, is not."""
    if all_interfaces(host):
        return False
    try:
        found = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return False
    return bool(found) and all(ipaddress.ip_address(a[4][0]).is_loopback for a in found)


def chat_access(host: str, token: str | None) -> ChatAccess:
    """The Test chat's access for a daemon listening on `host` with that webhook token.

    A token, once set, is always wanted, loopback or not: behind a reverse proxy on the same
    machine every visitor would otherwise arrive from loopback."""
    if token:
        return ChatAccess.TOKEN
    return ChatAccess.OPEN if loopback(host) else ChatAccess.OFF


def make_app(
    record: WatchRecord,
    metrics: WatchMetrics,
    reconcile_now: Callable[[], None],
    clock: Callable[[], float],
    token: str | None = None,
    *,
    chats: TestChats | None = None,
    access: ChatAccess = ChatAccess.OFF,
) -> Starlette:
    """The ASGI app serving the dashboard, the record, the metrics, the reconcile trigger and,
    with `chats`, the Test chat as `access` allows."""
    access = access if chats is not None else ChatAccess.OFF

    async def dashboard(request: Request) -> Response:
        nonce = secrets.token_urlsafe(18)
        page = render_status_html(record.document, live=LivePage(nonce, access))
        policy = {"Content-Security-Policy": content_security_policy(nonce)}
        return HTMLResponse(page, headers={**PAGE_HEADERS, **policy})

    async def chat(request: Request) -> Response:
        if chats is None:
            return _refuse(403, "the Test chat is off")
        refusal = _chat_refusal(request, access, token)
        if refusal is not None:
            return refusal
        try:
            ask = parse_ask(await _read_body(request))
        except ChatBodyTooLarge as exc:
            return _refuse(413, str(exc))
        except ChatRequestError as exc:
            return _refuse(400, str(exc))
        except ClientDisconnect:
            return Response(status_code=400)
        desired = chats.desired()
        if desired is None:
            return _refuse(503, "no valid manifests have been read yet")
        client = request.client.host if request.client else "?"
        busy = chats.admit(client)
        if busy is not None:
            return _refuse(429, busy)
        return _Released(chats.events(ask, desired), lambda: chats.release(client))

    async def healthz(request: Request) -> Response:
        if record.healthy(clock()):
            return JSONResponse({"status": "ok"})
        return JSONResponse({"status": "unhealthy"}, status_code=503)

    async def status(request: Request) -> Response:
        return JSONResponse(record.document)

    async def scrape(request: Request) -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE)

    async def reconcile(request: Request) -> Response:
        if token and not _authorized(request, token):
            return JSONResponse(
                {"error": "unauthorized: send the webhook token as a bearer token"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
        reconcile_now()
        return JSONResponse({"accepted": True, "message": "a reconcile is queued"}, 202)

    return Starlette(
        routes=[
            Route("/", dashboard, methods=["GET"]),
            Route("/chat", chat, methods=["POST"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/status", status, methods=["GET"]),
            Route("/metrics", scrape, methods=["GET"]),
            Route("/reconcile", reconcile, methods=["POST"]),
        ]
    )


def _authorized(request: Request, token: str) -> bool:
    given = request.headers.get("authorization", "").encode()
    return hmac.compare_digest(given, f"Bearer {token}".encode())


def _refuse(status: int, message: str) -> JSONResponse:
    headers = {"Cache-Control": "no-store"}
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def _chat_refusal(request: Request, access: ChatAccess, token: str | None) -> Response | None:
    """Why this request may not chat (403, 415), or None."""
    if access is ChatAccess.OFF:
        return _refuse(
            403,
            "the Test chat is off: orc watch does not listen on loopback and "
            f"{TOKEN_ENV} is not set",
        )
    if access is ChatAccess.OPEN and not _loopback_name(request.url.hostname or ""):
        return _refuse(403, "the Test chat answers only requests to a loopback address")
    if access is ChatAccess.TOKEN and not (token and _authorized(request, token)):
        return _refuse(403, "send the webhook token as a bearer token to use the Test chat")
    origin = request.headers.get("origin")
    if origin is not None and origin != f"{request.url.scheme}://{request.url.netloc}":
        return _refuse(403, "the Test chat answers only its own page")
    if request.headers.get("content-type", "").split(";")[0].strip() != "application/json":
        return _refuse(415, "send the chat as application/json")
    return None


def _loopback_name(host: str) -> bool:
    """A Host header naming this machine: `localhost` or a loopback address (never resolved)."""
    if host.lower() in {"localhost", "localhost."}:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


async def _read_body(request: Request) -> bytes:
    """The body, refused past `MAX_BODY` bytes without reading the rest."""
    body = b""
    async for part in request.stream():
        body += part
        if len(body) > MAX_BODY:
            raise ChatBodyTooLarge(f"the body is larger than {MAX_BODY} bytes")
    return body


class _Released(StreamingResponse):
    """An NDJSON stream that gives its chat's place back however it ends (done, error, or the
    client gone before or during the stream), and closes the chat then."""

    def __init__(self, events: AsyncIterator[bytes], release: Callable[[], None]) -> None:
        super().__init__(events, media_type=NDJSON, headers={"Cache-Control": "no-store"})
        self._events, self._release = events, release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()
            aclose = getattr(self._events, "aclose", None)
            if aclose is not None:
                await aclose()


class HttpServer:
    """uvicorn on a socket bound here, so that port 0 and a busy port are handled cleanly."""

    def __init__(
        self,
        app: Starlette,
        host: str,
        port: int,
        *,
        read_timeout: float = READ_TIMEOUT,
        max_connections: int = MAX_CONNECTIONS,
    ) -> None:
        self._app = app
        self._host = host
        self._port = port
        self._protocol = guarded_protocol(read_timeout, max_connections)
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._sock: socket.socket | None = None

    async def start(self) -> tuple[str, int]:
        """Listen; returns the address actually bound (the port, when 0 was asked)."""
        sock = _bind(self._host, self._port)
        config = uvicorn.Config(
            self._app,
            lifespan="off",
            log_config=None,
            access_log=False,
            ws="none",
            http=self._protocol,
            timeout_keep_alive=KEEP_ALIVE,
            h11_max_incomplete_event_size=MAX_HEAD_BYTES,
            timeout_graceful_shutdown=SHUTDOWN_GRACE,
        )
        config.load()
        server = uvicorn.Server(config)
        server.lifespan = config.lifespan_class(config)
        await server.startup(sockets=[sock])
        self._server, self._sock = server, sock
        self._task = asyncio.create_task(server.main_loop(), name="orc-watch-http")
        host, port = sock.getsockname()[:2]
        return str(host), int(port)

    async def stop(self) -> None:
        """Stop accepting and close the connections (waiting at most a second for them)."""
        if self._server is None or self._task is None:
            return
        self._server.should_exit = True
        await self._task
        await self._server.shutdown(sockets=[self._sock] if self._sock else None)
        self._server = self._task = None


def _bind(host: str, port: int) -> socket.socket:
    try:
        return bind_socket(host, port)
    except OSError as exc:
        raise ListenError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            hint="choose another address with --listen HOST:PORT",
        ) from exc
