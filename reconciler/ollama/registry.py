"""Ask a model registry for the current manifest digest of a tag (update detection).

`GET /v2/<namespace>/<model>/manifests/<tag>` on the model's registry host (`registry.ollama.ai`
unless the name says another), with the manifest media type Ollama asks for. The digest is the
`Docker-Content-Digest` header, or else the sha256 of the manifest body: the same value Ollama
shows as the digest of the installed model in `/api/tags` (see docs/ollama-api.md, Registry
digests). Requests carry no credentials of any instance: this client has its own connection
pool and sends only a User-Agent and an Accept header.

Answers are cached per `RegistryLookup` for `ttl` seconds (a run, or a few watch cycles), each
lookup is bounded by `timeout`, and a failure is a `RegistryError` the caller turns into a
warning. `ORC_REGISTRY_URL` replaces every registry's base URL (a mirror, or a simulator in
tests).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import httpx

from reconciler.errors import ReconcilerError
from reconciler.names import ModelName

REGISTRY_URL_VAR = "ORC_REGISTRY_URL"
MANIFEST_MEDIA_TYPE = "application/vnd.docker.distribution.manifest.v2+json"
_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_MAX_MANIFEST = 1024 * 1024


class RegistryError(ReconcilerError):
    """A registry lookup failed (unreachable, slow, not found, odd reply); never blocks a plan."""


@dataclass
class RegistryLookup:
    """Current registry digests of model tags, cached for `ttl` seconds.

    `base_url` replaces `https://<host>` of every name (None: `$ORC_REGISTRY_URL`, else the
    host itself); `transport` replaces the network in tests; `clock` is monotonic seconds.
    """

    base_url: str | None = None
    timeout: float = 10.0
    ttl: float = 300.0
    transport: httpx.AsyncBaseTransport | None = None
    clock: Callable[[], float] = time.monotonic
    env: Mapping[str, str] | None = None
    requests: int = 0  # lookups that reached a registry (tests check the cache)
    _cache: dict[str, tuple[float, str]] = field(default_factory=dict)
    _pending: dict[str, asyncio.Task[str]] = field(default_factory=dict)

    async def digest(self, name: ModelName) -> str:
        """The bare hex manifest digest the registry has for `name` now."""
        key = name.key
        cached = self._cache.get(key)
        if cached is not None and self.clock() - cached[0] < self.ttl:
            return cached[1]
        task = self._pending.get(key)
        if task is None:
            task = self._pending[key] = asyncio.ensure_future(self._fetch(name))
        try:
            value = await asyncio.shield(task)
        finally:
            self._pending.pop(key, None)
        self._cache[key] = (self.clock(), value)
        return value

    def url(self, name: ModelName) -> str:
        """The manifest URL of a name."""
        environ = os.environ if self.env is None else self.env
        base = self.base_url or environ.get(REGISTRY_URL_VAR) or f"https://{name.host}"
        return f"{base.rstrip('/')}/v2/{name.namespace}/{name.model}/manifests/{name.tag}"

    async def _fetch(self, name: ModelName) -> str:
        url = self.url(name)
        shown = name.display
        self.requests += 1
        try:
            async with (
                httpx.AsyncClient(
                    transport=self.transport,
                    timeout=httpx.Timeout(self.timeout),
                    follow_redirects=False,
                    headers={"Accept": MANIFEST_MEDIA_TYPE, "User-Agent": "orc"},
                ) as http,
                asyncio.timeout(self.timeout),
            ):
                response = await http.get(url)
        except (httpx.HTTPError, OSError, httpx.InvalidURL) as exc:
            reason = (
                "timed out"
                if isinstance(exc, TimeoutError | httpx.TimeoutException)
                else (type(exc).__name__)
            )
            raise RegistryError(f"registry lookup of {shown} failed: {reason}") from exc
        if response.status_code != 200:
            raise RegistryError(f"registry lookup of {shown} failed: HTTP {response.status_code}")
        header = str(response.headers.get("docker-content-digest", ""))
        if _DIGEST.match(header):
            return header[7:]
        body = response.content
        if not body or len(body) > _MAX_MANIFEST:
            raise RegistryError(f"registry lookup of {shown} failed: no manifest in the reply")
        return hashlib.sha256(body).hexdigest()
