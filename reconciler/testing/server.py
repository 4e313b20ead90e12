"""`SimServer`: one simulated Ollama server as a Starlette ASGI app.

Every request passes the same pipeline: logged in the state, delayed by the configured latency,
checked for the bearer token (401 like an authenticating proxy), subjected to queued faults, then
routed. Routing mimics Ollama's (gin): unknown paths get plain-text `404 page not found`, known
paths with the wrong method `405 method not allowed`. Routes live under `path_prefix`; custom
`endpoints` paths are served in addition to the default ones. The app needs no lifespan, so
`httpx.ASGITransport(app=server.app)` works as is.
"""

from __future__ import annotations

import asyncio
import hmac
import time
from collections.abc import Awaitable, Callable
from typing import TypeAlias

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive

from reconciler import names
from reconciler.testing import blobs, creation, inference, inventory, registryapi
from reconciler.testing.bodies import BadRequest
from reconciler.testing.catalog import Registry
from reconciler.testing.config import SimContext, SimInstanceConfig
from reconciler.testing.faults import MALFORMED_BODY, Fault, FaultInjector
from reconciler.testing.goformat import MAX_DURATION_NS
from reconciler.testing.responses import error_response, text_response
from reconciler.testing.state import SimState

Handler: TypeAlias = Callable[[SimContext, Request, bytes], Awaitable[Response]]

# logical endpoint -> (default path, methods, handler)
ENDPOINTS: dict[str, tuple[str, tuple[str, ...], Handler]] = {
    "health": ("/", ("GET", "HEAD"), inventory.health),
    "version": ("/api/version", ("GET", "HEAD"), inventory.version),
    "listModels": ("/api/tags", ("GET", "HEAD"), inventory.tags),
    "show": ("/api/show", ("POST",), inventory.show),
    "ps": ("/api/ps", ("GET",), inventory.ps),
    "pull": ("/api/pull", ("POST",), inventory.pull),
    "delete": ("/api/delete", ("DELETE",), inventory.delete),
    "copy": ("/api/copy", ("POST",), inventory.copy),
    "create": ("/api/create", ("POST",), creation.create),
    "generate": ("/api/generate", ("POST",), inference.generate),
    "chat": ("/api/chat", ("POST",), inference.chat),
    "embed": ("/api/embed", ("POST",), inference.embed),
    "embeddings": ("/api/embeddings", ("POST",), inference.embeddings),
    "v1Models": ("/v1/models", ("GET",), inventory.v1_models),
    "v1Model": ("/v1/models/{model}", ("GET",), inventory.v1_model),
    "blobs": ("/api/blobs/{digest}", ("HEAD", "POST"), blobs.blob),
    "registryManifest": ("/v2/{name}/manifests/{tag}", ("GET", "HEAD"), registryapi.manifest),
}
_V1_MODEL = "/v1/models/"
_ALL_METHODS = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]


class SimServer:
    """One simulated Ollama server: `app` (ASGI), `state`, `faults`, `registry`, `config`."""

    def __init__(
        self,
        config: SimInstanceConfig,
        *,
        registry: Registry | None = None,
        clock: Callable[[], int] = time.time_ns,
    ) -> None:
        self.config = config
        self.registry = registry if registry is not None else Registry()
        self.state = SimState(
            clock=clock,
            max_loaded=config.max_loaded,
            memory=config.memory,
            unload_delay_ns=round(config.unload_delay * 1_000_000_000),
        )
        self.ctx = SimContext.create(config, self.registry, self.state)
        self._routes = _route_table(config)
        self._seed_models()
        self.app = Starlette(routes=[Route("/{path:path}", self._dispatch, methods=_ALL_METHODS)])

    @property
    def faults(self) -> FaultInjector:
        """The fault queue (`fail_next`, `drop_pull_after`, `malformed_next`, `stall_next`...)."""
        return self.ctx.faults

    def path(self, endpoint: str) -> str:
        """The path (with prefix) a client should use for a logical endpoint."""
        custom = self.config.endpoints.get(endpoint)
        return self.config.path_prefix + (custom or ENDPOINTS[endpoint][0])

    def restart(self) -> None:
        """What a server restart loses: loaded runners and in-flight downloads."""
        for download in list(self.ctx.downloads.active.values()):
            download.stop()
        self.ctx.downloads.active.clear()
        self.state.runners.clear()

    def _seed_models(self) -> None:
        now = self.state.clock()
        count = len(self.config.models)
        for index, model in enumerate(self.config.models):
            spec = self.registry.get(model)
            if spec is None:
                raise ValueError(f"{self.config.name}: {model!r} is not in the registry catalog")
            installed = self.state.install(names.parse(model), spec)
            installed.modified_ns = now - (count - index) * 86_400_000_000_000
        for model in self.config.loaded:
            found = self.state.find(model)
            assert found is not None
            self.state.load(found, MAX_DURATION_NS, None)
        if self.state.runners.evicted:
            raise ValueError(f"{self.config.name}: the loaded models do not fit in memory")

    async def _dispatch(self, request: Request) -> Response:
        path = self._relative(request.url.path)
        method = request.method
        self.state.requests.append((method, path if path is not None else request.url.path))
        if self.config.latency:
            await asyncio.sleep(self.config.latency)
        if self.config.token and not self._authorized(request):
            return error_response("unauthorized", 401)
        body = await request.body()
        stall = self.faults.take_stall(path or request.url.path)
        if stall:
            await _stall(stall, request.receive)
        fault = self.faults.take_reply(path or request.url.path)
        if fault is not None:
            return _faulty(fault)
        response = await self._route(request, method, path, body)
        if method == "HEAD":
            headers = {k: v for k, v in response.headers.items() if k != "content-length"}
            return Response(b"", status_code=response.status_code, headers=headers)
        return response

    async def _route(
        self, request: Request, method: str, path: str | None, body: bytes
    ) -> Response:
        found = self._match(request, path)
        if found is None:
            return text_response("404 page not found", 404)
        endpoint, methods = found
        if method not in methods:
            response = text_response("405 method not allowed", 405)
            response.headers["Allow"] = ", ".join(methods)
            return response
        self.state.endpoints.append(endpoint)
        try:
            return await ENDPOINTS[endpoint][2](self.ctx, request, body)
        except BadRequest as exc:
            return error_response(exc.message, exc.status)

    def _match(self, request: Request, path: str | None) -> tuple[str, tuple[str, ...]] | None:
        if path is None:
            return None
        if path in self._routes:
            return self._routes[path]
        tail = path[len(_V1_MODEL) :]
        if path.startswith(_V1_MODEL) and tail and "/" not in tail:
            request.scope.setdefault("path_params", {})["model"] = tail
            return "v1Model", ("GET",)
        digest = path[len(blobs.PREFIX) :]
        if path.startswith(blobs.PREFIX) and digest and "/" not in digest:
            return "blobs", ("HEAD", "POST")
        if registryapi.manifest_path(path) is not None:
            return "registryManifest", ("GET", "HEAD")
        return None

    def _relative(self, path: str) -> str | None:
        prefix = self.config.path_prefix
        if not prefix:
            return path
        if path == prefix or path.startswith(prefix + "/"):
            return path[len(prefix) :] or "/"
        return None

    def _authorized(self, request: Request) -> bool:
        expected = f"Bearer {self.config.token}".encode()
        given = request.headers.get("authorization", "").encode()
        return hmac.compare_digest(given, expected)


def _route_table(config: SimInstanceConfig) -> dict[str, tuple[str, tuple[str, ...]]]:
    table = {
        path: (name, methods) for name, (path, methods, _) in ENDPOINTS.items() if "{" not in path
    }
    for name, path in config.endpoints.items():
        table[path] = (name, ENDPOINTS[name][1])
    return table


async def _stall(seconds: float, receive: Receive) -> None:
    """Wait `seconds`, or less if the client disconnects meanwhile."""

    async def until_disconnect() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    try:
        await asyncio.wait_for(until_disconnect(), timeout=seconds)
    except TimeoutError:
        return


def _faulty(fault: Fault) -> Response:
    if fault.kind == "empty_403":
        return Response(b"", status_code=403)
    if fault.kind == "malformed":
        return Response(MALFORMED_BODY, status_code=200, media_type="text/html; charset=utf-8")
    return error_response(fault.message, fault.status)
