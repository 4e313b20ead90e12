"""Settings of one Ollama server as the client needs them, already resolved (no SecretRefs).

The observer builds a `ClientConfig` from a manifest instance; the client never reads manifests.
Secret values (the bearer token, secret headers, credential-bearing headers, the URL's password)
live here only; `secrets()` hands them to the session's `Redactor` so that no message, repr or log
line can show them.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from reconciler._version import __version__

ENDPOINT_DEFAULTS: Mapping[str, str] = {
    "health": "/",
    "version": "/api/version",
    "listModels": "/api/tags",
    "show": "/api/show",
    "ps": "/api/ps",
    "pull": "/api/pull",
    "delete": "/api/delete",
    "copy": "/api/copy",
    "create": "/api/create",
    "chat": "/api/chat",
    "generate": "/api/generate",
    "embed": "/api/embed",
}
"""Ollama's own path for each logical endpoint name (the names manifests use in `endpoints`)."""

DEFAULT_MAX_CONNECTIONS = 100
"""Connections pooled per server unless the caller sizes the pool (the `Fleet` does)."""

DEFAULT_USER_AGENT = f"ollama-reconciler/{__version__}"
_USERINFO = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@:]*(?::([^/@]*))?@")
_MASK = "***"
_CREDENTIAL_WORDS = ("auth", "token", "secret", "key", "pass", "cookie", "session", "credential")
"""A header whose name contains one of these carries credentials, declared secret or not."""


@dataclass(frozen=True, slots=True)
class TLSConfig:
    """TLS options: verification on or off, a CA bundle, a client certificate and key (mTLS)."""

    verify: bool = True
    ca_file: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None


@dataclass(frozen=True, repr=False)
class ClientConfig:
    """Everything needed to talk to one Ollama server.

    `base_url` may carry a path prefix (`https://h/ollama`); `endpoints` overrides paths by logical
    name, relative to `base_url`. `bearer_token` and the values of the headers named in
    `secret_headers` are secrets: `repr()` masks them and no error message contains them.
    `read_timeout_stream` is the inactivity limit of a pull or create stream (default `timeout`);
    `pull_timeout` bounds a whole pull; `load_timeout` bounds loading a model into memory
    (Ollama's own OLLAMA_LOAD_TIMEOUT defaults to 5 minutes). `max_connections` sizes the
    connection pool: a request that finds every connection busy for `timeout` seconds fails with
    `PoolExhausted` instead of waiting on.
    """

    instance: str
    base_url: str
    endpoints: Mapping[str, str] = field(default_factory=dict)
    bearer_token: str | None = field(default=None, repr=False)
    headers: Mapping[str, str] = field(default_factory=dict)
    secret_headers: frozenset[str] = frozenset()
    tls: TLSConfig = field(default_factory=TLSConfig)
    timeout: float = 30.0
    connect_timeout: float = 10.0
    pull_timeout: float = 7200.0
    read_timeout_stream: float | None = None
    load_timeout: float = 300.0
    user_agent: str = DEFAULT_USER_AGENT
    max_connections: int = DEFAULT_MAX_CONNECTIONS

    def __post_init__(self) -> None:
        if not self.endpoints:  # nothing to check: every path is Ollama's, under base_url
            return
        unknown = sorted(set(self.endpoints) - set(ENDPOINT_DEFAULTS))
        if unknown:
            known = ", ".join(ENDPOINT_DEFAULTS)
            raise ValueError(f"unknown endpoint names {unknown}; known: {known}")
        home = origin(self.base_url)
        foreign = [name for name in self.endpoints if origin(self.url(name)) != home]
        if foreign and self.secrets():
            raise ValueError(
                f"endpoints {sorted(foreign)} point at another server than base_url; "
                "credentials are only ever sent to the origin of base_url"
            )

    def __repr__(self) -> str:
        secret = {name.lower() for name in self.secret_headers}
        shown = {k: (_MASK if k.lower() in secret else v) for k, v in self.headers.items()}
        token = _MASK if self.bearer_token else None
        return (
            f"ClientConfig(instance={self.instance!r}, base_url={display_url(self.base_url)!r}, "
            f"endpoints={dict(self.endpoints)!r}, bearer_token={token!r}, headers={shown!r}, "
            f"tls={self.tls!r}, timeout={self.timeout!r}, pull_timeout={self.pull_timeout!r})"
        )

    @property
    def stream_inactivity(self) -> float:
        """Seconds a pull or create stream may stay silent before it counts as timed out."""
        return self.timeout if self.read_timeout_stream is None else self.read_timeout_stream

    def path(self, endpoint: str) -> str:
        """The path of a logical endpoint: the override if any, else Ollama's own."""
        path = self.endpoints.get(endpoint, ENDPOINT_DEFAULTS[endpoint])
        return path if path.startswith("/") or "://" in path else f"/{path}"

    def url(self, endpoint: str) -> str:
        """The absolute URL of a logical endpoint (base URL, its path prefix, then the path)."""
        path = self.path(endpoint)
        if "://" in path:
            return path
        return self.base_url.rstrip("/") + path

    def secrets(self) -> tuple[str, ...]:
        """Every secret value this config sends: the token, the values of secret headers and of
        headers whose names say they carry credentials (with and without their `Bearer`/`Basic`
        scheme), and the URL's password (alone and as the `user:password` of Basic auth)."""
        names = {name.lower() for name in self.secret_headers}
        values: list[str] = []
        for key, value in self.headers.items():
            if key.lower() in names or is_credential_header(key):
                values += _credential_parts(value)
        if self.bearer_token:
            values.append(self.bearer_token)
        user, password = url_credentials(self.base_url)
        if password:
            values += [password, unquote(password), f"{unquote(user)}:{unquote(password)}"]
        return tuple(dict.fromkeys(v for v in values if v))


def is_credential_header(name: str) -> bool:
    """Whether a header's name says it carries credentials (Authorization, X-API-Key, Cookie...)."""
    lowered = name.lower()
    return any(word in lowered for word in _CREDENTIAL_WORDS)


def origin(url: str) -> tuple[str, str, int | None]:
    """Scheme, host and port of a URL: where credentials may go (ports spelt out)."""
    try:
        parts = urlsplit(url)
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme.lower())
    except ValueError:
        return url, "", None
    return parts.scheme.lower(), (parts.hostname or "").lower(), port


def url_credentials(url: str) -> tuple[str, str]:
    """The user and password of a URL's userinfo (empty strings when absent)."""
    found = _USERINFO.match(url)
    if not found:
        return "", ""
    userinfo = found.group(0)[len(found.group(1)) : -1]
    user, _, password = userinfo.partition(":")
    return user, password


def _credential_parts(value: str) -> Iterator[str]:
    """A credential header value, its part after an auth scheme, and decoded Basic credentials."""
    yield value
    scheme, _, rest = value.strip().partition(" ")
    rest = rest.strip()
    if not rest:
        return
    yield rest
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(rest, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return
        yield decoded
        yield decoded.partition(":")[2]


def display_url(url: str) -> str:
    """`url` without user, password, query or fragment: safe to show in messages."""
    try:
        parts = urlsplit(url)
    except ValueError:  # e.g. a broken IPv6 literal: drop what could be credentials
        return _USERINFO.sub(r"\1", url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        netloc = f"{host}:{parts.port}" if parts.port else host
    except ValueError:  # a port that is not a number: keep the text, without credentials
        netloc = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
