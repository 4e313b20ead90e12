"""The HTTP layer under `OllamaClient`: one pooled httpx client per server, and error mapping.

Builds the connection settings once (headers with the bearer token, TLS context, timeouts),
reuses connections for every call, and makes sure that whatever goes wrong leaves as an
`OllamaError`: error statuses through `diagnosis.reply_error`, exceptions through
`diagnosis.transport_error`. Streams are read by `streaming.read_objects`.

Redirects are never followed: a redirect to another host would carry the credentials there and
make plans describe the wrong server, so it is an error naming the `Location`. `timeout` bounds a
whole ordinary reply, not just each read, so a server that drips bytes cannot stall a command.
httpx's own loggers stay at WARNING: their request lines would show URLs as given.
"""

from __future__ import annotations

import asyncio
import base64
import functools
import json
import logging
import re
import time
import urllib.request
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import aclosing
from typing import Any

import httpx

from reconciler.ollama.config import ClientConfig, display_url
from reconciler.ollama.diagnosis import (
    Call,
    late,
    preview,
    protocol_error,
    reply_error,
    transport_error,
)
from reconciler.ollama.errors import OllamaError, RequestRejected
from reconciler.ollama.redaction import Redactor
from reconciler.ollama.streaming import Limits, read_objects, within
from reconciler.ollama.tls import (
    ContextSource,
    HandshakeNotes,
    deferred_ssl_context,
    made,
    warn_if_unverified,
    watching_handshakes,
)
from reconciler.ollama.transport import KeepAliveTransport, ReplyBody

logger = logging.getLogger("reconciler.ollama")
for _name in ("httpx", "httpcore"):
    logging.getLogger(_name).setLevel(logging.WARNING)

METHODS: Mapping[str, str] = {
    "health": "GET",
    "version": "GET",
    "listModels": "GET",
    "ps": "GET",
    "delete": "DELETE",
}
"""HTTP method of each endpoint that is not POST."""

HTTPX_HEADERS: Mapping[str, str] = {
    "Accept": "*/*",
    "Accept-Encoding": "gzip, deflate",
    "Connection": "keep-alive",
    "User-Agent": f"python-httpx/{httpx.__version__}",
}
"""The headers httpx's client starts from; a config's headers are merged into them."""

TRANSPORT_ERRORS = (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError, OSError)


class Session:
    """One server's connection pool, with the request and stream primitives the client uses."""

    def __init__(
        self, config: ClientConfig, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.config = config
        secrets = config.secrets()
        self.redact = Redactor(secrets)
        self._headers = _session_headers(config, shared=not secrets)
        self._shown = _display_prefix(config.base_url)
        own = transport is None
        context = deferred_ssl_context(config) if own else None
        if context is not None:  # our own network, not a test's
            transport = pooled_transport(config, context)
        self._transport = transport
        # Only with a proxy in the environment: httpx's client picks it (or not) per URL.
        self._proxied: httpx.AsyncClient | None = None
        if transport is None:
            self._proxied = httpx.AsyncClient(
                headers=self._headers,
                verify=True if context is None else made(context),
                follow_redirects=False,
                trust_env=True,
                limits=httpx.Limits(
                    max_connections=config.max_connections,
                    max_keepalive_connections=config.max_connections,
                ),
            )
        if own:
            warn_if_unverified(config)

    async def aclose(self) -> None:
        """Close every pooled connection."""
        if self._proxied is not None:
            await self._proxied.aclose()
        elif self._transport is not None:
            await self._transport.aclose()

    def call(
        self, endpoint: str, operation: str, *, model: str | None = None, base: str | None = None
    ) -> Call:
        """Describe a request to `endpoint` for error messages."""
        return Call(
            instance=self.config.instance,
            operation=operation,
            endpoint=endpoint,
            method=METHODS.get(endpoint, "POST"),
            url=self._display(self.config.path(endpoint)),
            redact=self.redact,
            model=model,
            base_model=base,
        )

    def _display(self, path: str) -> str:
        """The display form of the URL of `path` (as `ClientConfig.path` gives it)."""
        if self._shown is not None and _PLAIN_PATH.fullmatch(path):
            return self._shown + path
        if "://" in path:
            return display_url(path)
        return display_url(self.config.base_url.rstrip("/") + path)

    async def fetch(
        self, call: Call, body: Mapping[str, Any] | None = None, *, limit: float | None = None
    ) -> bytes:
        """Send one request and return the body of its 2xx reply; raise an OllamaError else.

        The whole reply, connecting included, must arrive within `limit` (default `timeout`).
        """
        seconds = self.config.timeout if limit is None else limit
        start = time.perf_counter()
        response, raw = await self._exchange(
            call, self.config.url(call.endpoint), seconds, json=body
        )
        logger.debug(
            "%s: %s %s -> %d in %.0f ms",
            call.instance,
            call.method,
            call.url,
            response.status_code,
            (time.perf_counter() - start) * 1000,
        )
        if response.status_code >= 300:
            location = response.headers.get("location")
            raise reply_error(call, response.status_code, raw, location=location)
        return raw

    async def fetch_json(
        self, call: Call, body: Mapping[str, Any] | None = None, *, limit: float | None = None
    ) -> Any:
        """Like `fetch`, and decode the JSON reply (ProtocolError when it is not JSON)."""
        raw = await self.fetch(call, body, limit=limit)
        try:
            return json.loads(raw)
        except ValueError as exc:
            shown = preview(call, raw) or "an empty body"
            raise protocol_error(call, f"the reply is not JSON: {shown!r}") from exc

    async def stream(
        self, call: Call, body: Mapping[str, Any], *, limits: Limits
    ) -> AsyncGenerator[dict[str, Any], None]:
        """Send a streaming request and yield each JSON object of the reply.

        `limits` bounds the silence between two pieces of data and, optionally, the whole run;
        an `{"error": ...}` line becomes the matching OllamaError.
        """
        timeout = httpx.Timeout(
            self.config.timeout, connect=self.config.connect_timeout, read=limits.inactivity
        )
        notes = HandshakeNotes()
        try:
            sending = self._send(call.method, self.config.url(call.endpoint), timeout, json=body)
            with watching_handshakes() as notes:
                response = await within(call, limits, sending)
            status = response.status_code
            logger.debug("%s: %s %s -> %d, streaming", call.instance, call.method, call.url, status)
            try:
                if response.status_code >= 300:
                    raw = await within(call, limits, response.aread())
                    location = response.headers.get("location")
                    raise reply_error(call, response.status_code, raw, location=location)
                async with aclosing(read_objects(call, response, limits)) as items:
                    async for item in items:
                        yield item
            finally:
                await response.aclose()
        except TRANSPORT_ERRORS as exc:
            raise self._failure(call, exc, limits.inactivity, notes) from exc

    def blob_call(self, operation: str, method: str, digest: str) -> tuple[Call, str]:
        """A call to `/api/blobs/<digest>` under the base URL (its path prefix kept) and its URL.

        The blob endpoints have no override in `endpoints`: a proxy that moves `create` must
        serve them beside it under the same prefix.
        """
        path = f"/api/blobs/{digest}"
        url = f"{self.config.base_url.rstrip('/')}{path}"
        call = Call(
            instance=self.config.instance,
            operation=operation,
            endpoint="create",
            method=method,
            url=self._display(path),
            redact=self.redact,
        )
        return call, url

    async def send_raw(
        self,
        call: Call,
        url: str,
        *,
        content: AsyncIterator[bytes] | None = None,
        limit: float | None = None,
        accept: tuple[int, ...] = (),
    ) -> int:
        """Send `call.method` to `url` with an optional streamed body; return the status.

        A 2xx status, or one in `accept`, is returned; any other is the matching OllamaError.
        `limit` bounds the whole exchange (default `timeout`).
        """
        seconds = self.config.timeout if limit is None else limit
        headers = {"Content-Type": "application/octet-stream"} if content else None
        response, raw = await self._exchange(call, url, seconds, content=content, headers=headers)
        status = response.status_code
        logger.debug("%s: %s %s -> %d", call.instance, call.method, call.url, status)
        if status in accept or 200 <= status < 300:
            return status
        location = response.headers.get("location")
        raise reply_error(call, status, raw, location=location)

    async def _exchange(
        self, call: Call, url: str, seconds: float, **request: Any
    ) -> tuple[httpx.Response, bytes]:
        """Send one request and read its whole reply within `seconds`, connecting included; a
        transport failure or a late reply becomes the matching OllamaError.

        Returns the response and its (decoded) body."""
        deadline = asyncio.timeout(seconds)
        response: httpx.Response | None = None
        with watching_handshakes() as notes:
            try:
                async with deadline:
                    timeout = httpx.Timeout(seconds, connect=self.config.connect_timeout)
                    response = await self._send(call.method, url, timeout, **request)
                    try:
                        raw = await _body(response)
                    finally:
                        await response.aclose()
            except TRANSPORT_ERRORS as exc:  # TimeoutError, the deadline's, is an OSError
                if deadline.expired():
                    raise late(call, seconds, answered=response is not None) from exc
                raise self._failure(call, exc, seconds, notes) from exc
        return response, raw

    async def _send(
        self,
        method: str,
        url: str,
        timeouts: httpx.Timeout,
        *,
        headers: Mapping[str, str] | None = None,
        **body: Any,
    ) -> httpx.Response:
        """Send one request; the reply's body is left to read (and to close)."""
        sent = self._headers
        if headers is not None:
            sent = sent.copy()
            sent.update(headers)
        if self._proxied is not None:
            built = self._proxied.build_request(method, url, headers=sent, timeout=timeouts, **body)
            return await self._proxied.send(built, stream=True)
        assert self._transport is not None
        # What httpx's client would add here: cookies, which orc has no use for and which cost
        # more CPU per request than the whole exchange on a kept-alive connection, and, as here,
        # the URL's user and password as Basic credentials (replacing any Authorization).
        target = httpx.URL(url)
        if target.userinfo:
            sent = sent.copy()
            sent["Authorization"] = _basic(target.username, target.password)
        request = httpx.Request(
            method, target, headers=sent, extensions={"timeout": timeouts.as_dict()}, **body
        )
        response = await self._transport.handle_async_request(request)
        response.request = request
        return response

    def _failure(
        self, call: Call, exc: BaseException, read: float, notes: HandshakeNotes
    ) -> OllamaError:
        return transport_error(
            call,
            exc,
            connect=self.config.connect_timeout,
            read=read,
            client_cert=self.config.tls.client_cert is not None,
            certificate_requested=notes.certificate_requested,
        )


async def _body(response: httpx.Response) -> bytes:
    """The whole body of `response`, decoded as `aread` decodes it.

    Without a `Content-Encoding` the decoded body is the raw one: read straight, it skips
    httpx's decoder and re-chunking layers, a tenth of the CPU of a small reply. A response
    whose body was read already (a test's transport) keeps it.
    """
    if response.is_stream_consumed or "content-encoding" in response.headers:
        return await response.aread()
    stream = response.stream
    if isinstance(stream, ReplyBody):  # our transport's: read whole, as aiter_raw would give it
        response.is_stream_consumed = True
        return await stream.read_all()
    return b"".join([part async for part in response.aiter_raw()])


def pooled_transport(
    config: ClientConfig, context: ContextSource
) -> httpx.AsyncBaseTransport | None:
    """The connections of one server: `KeepAliveTransport`, or None (httpx's own pool) when the
    environment names a proxy, which only httpx's transport speaks to."""
    if environment_proxies():
        return None
    return KeepAliveTransport(ssl_context=context, max_connections=config.max_connections)


@functools.cache
def environment_proxies() -> bool:
    """Whether the environment (or the system settings) names a proxy, read once per process.

    httpx honours HTTP_PROXY, HTTPS_PROXY, ALL_PROXY and NO_PROXY when it may trust the
    environment, and scans the whole environment for them in every client it makes: a tenth of
    a second per 1,000 instances. The client's SSL context is ours, so proxies are all the
    environment gives it; without any, one scan per process says the same.
    """
    return bool(urllib.request.getproxies())


_PLAIN_PATH = re.compile(r"/[A-Za-z0-9/_.~-]*")
"""A path that `display_url` keeps as it is, wherever it follows the base URL."""

_SHARED_HEADERS: dict[tuple[str, tuple[tuple[str, str], ...]], httpx.Headers] = {}
_SHARED_LIMIT = 256


def _display_prefix(base_url: str) -> str | None:
    """`display_url` of the base URL without its trailing slashes, to which a plain path (see
    `_PLAIN_PATH`) is appended as `display_url` would keep it; None when the base URL has a
    query or fragment, whose text would swallow the path."""
    if "?" in base_url or "#" in base_url:
        return None
    return display_url(base_url.rstrip("/"))


def _session_headers(config: ClientConfig, *, shared: bool) -> httpx.Headers:
    """httpx's client headers with the config's merged in, as httpx's client merges them.

    Configs without secrets (`shared`) that send the same headers get the same (never mutated)
    `httpx.Headers`, built and checked once; headers with secrets are built per config only.
    """
    if not shared:
        return _merged(_headers(config))
    key = (config.user_agent, tuple(config.headers.items()))
    found = _SHARED_HEADERS.get(key)
    if found is None:
        found = _merged(_headers(config))
        if len(_SHARED_HEADERS) >= _SHARED_LIMIT:
            _SHARED_HEADERS.clear()
        _SHARED_HEADERS[key] = found
    return found


def _merged(own: Mapping[str, str]) -> httpx.Headers:
    headers = httpx.Headers(HTTPX_HEADERS)
    headers.update(own)
    return headers


def _headers(config: ClientConfig) -> dict[str, str]:
    headers = {"User-Agent": config.user_agent, "Accept": "application/json"}
    headers.update(config.headers)
    if config.bearer_token:
        # auth.bearerToken wins over an Authorization header of any spelling
        for name in [n for n in headers if n.lower() == "authorization"]:
            del headers[name]
        headers["Authorization"] = f"Bearer {config.bearer_token}"
    for name, value in headers.items():
        if not (_sendable(name) and _sendable(value)):
            raise RequestRejected(
                f"the header {name!r} cannot be sent: non-ASCII or control characters",
                instance=config.instance,
                hint="fix the value of that header (or of auth.bearerToken)",
            )
    return headers


def _basic(username: str, password: str) -> str:
    """The Basic credentials header value, encoded as httpx encodes it."""
    pair = f"{username}:{password}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


def _sendable(text: str) -> bool:
    """Visible ASCII, spaces and tabs only (RFC 9110 field values); nothing httpx would quote."""
    return all(c == "\t" or " " <= c <= "~" for c in text)
