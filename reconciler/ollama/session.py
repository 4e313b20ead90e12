"""The HTTP layer under `OllamaClient`: one pooled httpx client per server, and error mapping.

Builds the connection settings once (headers with the bearer token, TLS context, timeouts),
reuses connections for every call, and makes sure that whatever goes wrong leaves as an
`OllamaError`: error statuses through `diagnosis.reply_error`, exceptions through
`diagnosis.transport_error`. Streams are read by `streaming.read_objects`.
"""

from __future__ import annotations

import functools
import json
import logging
import ssl
import time
from collections.abc import AsyncGenerator, Mapping
from contextlib import aclosing
from pathlib import Path
from typing import Any

import httpx

from reconciler.ollama.config import ClientConfig, Redactor, display_url
from reconciler.ollama.diagnosis import Call, protocol_error, reply_error, transport_error
from reconciler.ollama.errors import OllamaError, OllamaTLSError, RequestRejected
from reconciler.ollama.streaming import Limits, read_objects, within

logger = logging.getLogger("reconciler.ollama")

METHODS: Mapping[str, str] = {
    "health": "GET",
    "version": "GET",
    "listModels": "GET",
    "ps": "GET",
    "delete": "DELETE",
}
"""HTTP method of each endpoint that is not POST."""

TRANSPORT_ERRORS = (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError, OSError)


class Session:
    """One server's connection pool, with the request and stream primitives the client uses."""

    def __init__(
        self, config: ClientConfig, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.config = config
        self.redact = Redactor(config.secrets())
        self._http = httpx.AsyncClient(
            headers=_headers(config),
            timeout=httpx.Timeout(config.timeout, connect=config.connect_timeout),
            verify=True if transport is not None else _tls_context(config),
            transport=transport,
            follow_redirects=True,
            limits=httpx.Limits(
                max_connections=config.max_connections,
                max_keepalive_connections=config.max_connections,
            ),
        )

    async def aclose(self) -> None:
        """Close every pooled connection."""
        await self._http.aclose()

    def call(
        self, endpoint: str, operation: str, *, model: str | None = None, base: str | None = None
    ) -> Call:
        """Describe a request to `endpoint` for error messages."""
        return Call(
            instance=self.config.instance,
            operation=operation,
            endpoint=endpoint,
            method=METHODS.get(endpoint, "POST"),
            url=display_url(self.config.url(endpoint)),
            redact=self.redact,
            model=model,
            base_model=base,
        )

    async def fetch(
        self, call: Call, body: Mapping[str, Any] | None = None, *, limit: float | None = None
    ) -> bytes:
        """Send one request and return the body of its 2xx reply; raise an OllamaError else."""
        seconds = self.config.timeout if limit is None else limit
        start = time.perf_counter()
        try:
            response = await self._http.request(
                call.method,
                self.config.url(call.endpoint),
                json=body,
                timeout=httpx.Timeout(seconds, connect=self.config.connect_timeout),
            )
        except TRANSPORT_ERRORS as exc:
            raise self._failure(call, exc, seconds) from exc
        logger.debug(
            "%s: %s %s -> %d in %.0f ms",
            call.instance,
            call.method,
            call.url,
            response.status_code,
            (time.perf_counter() - start) * 1000,
        )
        if response.status_code >= 300:
            raise reply_error(call, response.status_code, response.content)
        return response.content

    async def fetch_json(
        self, call: Call, body: Mapping[str, Any] | None = None, *, limit: float | None = None
    ) -> Any:
        """Like `fetch`, and decode the JSON reply (ProtocolError when it is not JSON)."""
        raw = await self.fetch(call, body, limit=limit)
        try:
            return json.loads(raw)
        except ValueError as exc:
            preview = raw[:80].decode("utf-8", "replace").strip() or "an empty body"
            raise protocol_error(call, f"the reply is not JSON: {preview!r}") from exc

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
        try:
            request = self._http.build_request(
                call.method, self.config.url(call.endpoint), json=body, timeout=timeout
            )
            response = await within(call, limits, self._http.send(request, stream=True))
            status = response.status_code
            logger.debug("%s: %s %s -> %d, streaming", call.instance, call.method, call.url, status)
            try:
                if response.status_code >= 300:
                    raw = await within(call, limits, response.aread())
                    raise reply_error(call, response.status_code, raw)
                async with aclosing(read_objects(call, response, limits)) as items:
                    async for item in items:
                        yield item
            finally:
                await response.aclose()
        except TRANSPORT_ERRORS as exc:
            raise self._failure(call, exc, limits.inactivity) from exc

    def _failure(self, call: Call, exc: BaseException, read: float) -> OllamaError:
        return transport_error(call, exc, connect=self.config.connect_timeout, read=read)


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


def _sendable(text: str) -> bool:
    """Visible ASCII, spaces and tabs only (RFC 9110 field values); nothing httpx would quote."""
    return all(c == "\t" or " " <= c <= "~" for c in text)


@functools.lru_cache(maxsize=2)
def _system_context(verify: bool) -> ssl.SSLContext:
    """The system CAs' context, shared: loading them costs ~20 ms of CPU per client."""
    return httpx.create_ssl_context(verify=verify)


def _tls_context(config: ClientConfig) -> ssl.SSLContext:
    tls = config.tls
    if tls.ca_file is not None:
        try:
            context = ssl.create_default_context(cafile=str(tls.ca_file))
        except (OSError, ValueError) as exc:
            raise _tls_file_error(config, "tls.caFile", tls.ca_file, exc) from exc
    elif tls.client_cert is None:
        context = _system_context(tls.verify)
    else:
        context = httpx.create_ssl_context(verify=tls.verify)
    if not tls.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if tls.client_cert is not None:
        key = str(tls.client_key) if tls.client_key is not None else None
        try:
            context.load_cert_chain(str(tls.client_cert), key)
        except (OSError, ValueError) as exc:
            field = "tls.clientCert/clientKey"
            raise _tls_file_error(config, field, tls.client_cert, exc) from exc
    return context


def _tls_file_error(
    config: ClientConfig, field: str, path: Path, exc: BaseException
) -> OllamaTLSError:
    reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or str(exc)
    return OllamaTLSError(
        f"cannot use {field} {path}: {reason}",
        instance=config.instance,
        hint=f"{field} must name readable PEM files",
    )
