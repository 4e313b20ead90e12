"""The daemon's HTTP endpoints (starlette, served by uvicorn in the loop's own event loop).

`GET /healthz` for liveness probes, `GET /status` for dashboards and scripts, `GET /metrics` for
Prometheus, `POST /reconcile` for a git webhook or a person in a hurry. When `ORC_WEBHOOK_TOKEN`
is set, `POST /reconcile` wants it as a bearer token; the token is compared in constant time and
never echoed. A token that is set but empty would turn that check off without a word, so it is
refused. Handlers are `async` so they run on the loop's thread, never racing the record. Slow
clients are cut off and open connections bounded (httpguard.py).
"""

from __future__ import annotations

import asyncio
import hmac
import socket
from collections.abc import Callable

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from reconciler.errors import ReconcilerError, UsageError
from reconciler.listen import bind_socket
from reconciler.watch.httpguard import (
    MAX_CONNECTIONS,
    MAX_HEAD_BYTES,
    READ_TIMEOUT,
    guarded_protocol,
)
from reconciler.watch.metrics import CONTENT_TYPE, WatchMetrics
from reconciler.watch.record import WatchRecord

TOKEN_ENV = "ORC_WEBHOOK_TOKEN"
SHUTDOWN_GRACE = 1
KEEP_ALIVE = 5  # seconds an idle kept-alive connection stays open
ALL_INTERFACES = frozenset({"", "0.0.0.0", "::"})


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


def make_app(
    record: WatchRecord,
    metrics: WatchMetrics,
    reconcile_now: Callable[[], None],
    clock: Callable[[], float],
    token: str | None = None,
) -> Starlette:
    """The ASGI app serving the record, the metrics and the reconcile trigger."""

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
            Route("/healthz", healthz, methods=["GET"]),
            Route("/status", status, methods=["GET"]),
            Route("/metrics", scrape, methods=["GET"]),
            Route("/reconcile", reconcile, methods=["POST"]),
        ]
    )


def _authorized(request: Request, token: str) -> bool:
    given = request.headers.get("authorization", "").encode()
    return hmac.compare_digest(given, f"Bearer {token}".encode())


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
