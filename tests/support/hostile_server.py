"""A badly behaved HTTP server on a real loopback socket, for tests of what the client survives.

It redirects (to another `HostileServer` that records every header it receives), echoes the
request headers back in JSON, text or HTML error bodies, drips its replies one byte at a time,
and can speak TLS that demands a client certificate. It runs in a background thread, so async
client tests and in-process CLI runs (`main([...])`) can both talk to it.

    with HostileServer() as server:
        server.route("/api/tags", echo_headers("html", status=502))
        ...                      # point a client or a manifest at server.url
        server.seen              # every request that arrived, headers included

Import it as `from tests.support.hostile_server import ...` (`python -m pytest` puts the
repository on `sys.path`).
"""

from __future__ import annotations

import html
import json
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

import trustme

EchoKind = Literal["json", "text", "html"]


@dataclass(frozen=True)
class Seen:
    """One request as it arrived: method, path (with query) and headers in their order."""

    method: str
    path: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        """The value of a header (any spelling of its name), or None."""
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


@dataclass(frozen=True)
class Reply:
    """What to send back; `drip` sends the reply one byte per `drip` seconds: all of it, status
    line included, or only the body after prompt headers (`drip_body`)."""

    status: int = 200
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = (("Content-Type", "application/json"),)
    drip: float | None = None
    drip_body: bool = False

    def encode(self) -> bytes:
        """The raw HTTP/1.1 reply; the connection closes after it."""
        lines = [f"HTTP/1.1 {self.status} {_REASONS.get(self.status, 'Whatever')}"]
        lines += [f"{name}: {value}" for name, value in self.headers]
        lines += [f"Content-Length: {len(self.body)}", "Connection: close", "", ""]
        return "\r\n".join(lines).encode("latin-1") + self.body


Responder = Callable[[Seen], Reply]

_REASONS = {
    200: "OK",
    301: "Moved Permanently",
    302: "Found",
    307: "Temporary Redirect",
    308: "Permanent Redirect",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    500: "Internal Server Error",
    502: "Bad Gateway",
}


def json_reply(data: Any, status: int = 200) -> Responder:
    """Always answer `data` as JSON."""
    reply = Reply(status, json.dumps(data).encode())
    return lambda seen: reply


def redirect(location: str, status: int = 307) -> Responder:
    """Redirect every request to `location`; a trailing `*` stands for the request's path."""

    def respond(seen: Seen) -> Reply:
        target = location[:-1] + seen.path if location.endswith("*") else location
        headers = (("Location", target), ("Content-Type", "text/plain"))
        return Reply(status, b"moved", headers)

    return respond


def echo_headers(kind: EchoKind, status: int = 400) -> Responder:
    """Answer an error whose body repeats every request header, as some proxies do."""

    def respond(seen: Seen) -> Reply:
        pairs = dict(seen.headers)
        if kind == "json":
            # Go's encoder escapes <, > and & and so does this one, like Ollama would
            text = json.dumps({"error": f"rejected request with headers {json.dumps(pairs)}"})
            body = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            return Reply(status, body.encode())
        if kind == "text":
            listing = " ".join(f"{name}: {value};" for name, value in seen.headers)
            text = f"proxy error: could not forward {seen.method} {seen.path} with {listing}"
            return Reply(status, text.encode(), (("Content-Type", "text/plain"),))
        rows = "\n".join(
            f"<tr><td>{html.escape(k)}</td><td>{html.escape(v)}</td></tr>" for k, v in seen.headers
        )
        page = (
            "<!DOCTYPE html>\n<html><head><title>Bad Gateway</title></head>\n<body>"
            f"<h1>Bad Gateway</h1>\n<p>Request headers:</p><table>\n{rows}\n</table></body></html>"
        )
        return Reply(status, page.encode(), (("Content-Type", "text/html"),))

    return respond


def dripping(responder: Responder, every: float, *, body_only: bool = False) -> Responder:
    """The same replies, sent one byte per `every` seconds (`body_only`: after prompt headers)."""
    return lambda seen: replace(responder(seen), drip=every, drip_body=body_only)


def ollama_routes(version: str = "0.12.6") -> dict[str, Responder]:
    """Just enough of Ollama for `orc plan` and `orc status`: an empty, healthy server."""
    running = Reply(200, b"Ollama is running", (("Content-Type", "text/plain"),))
    return {
        "/": lambda seen: running,
        "/api/version": json_reply({"version": version}),
        "/api/tags": json_reply({"models": []}),
        "/api/ps": json_reply({"models": []}),
    }


@dataclass
class HostileServer:
    """The server; use as a context manager. `routes` maps a path (no query) to a responder."""

    routes: dict[str, Responder] = field(default_factory=ollama_routes)
    tls: ssl.SSLContext | None = None
    seen: list[Seen] = field(default_factory=list)
    handshake_failures: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def port(self) -> int:
        """The loopback port it listens on."""
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """`http://127.0.0.1:PORT` (https with TLS), no trailing slash."""
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def route(self, path: str, responder: Responder) -> None:
        """Answer requests to `path` with `responder` from now on."""
        self.routes[path] = responder

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def respond(self, seen: Seen) -> Reply:
        """The reply to one request (404 as Ollama words it for unknown paths)."""
        self.seen.append(seen)
        responder = self.routes.get(seen.path.split("?", 1)[0])
        if responder is None:
            return Reply(404, b"404 page not found", (("Content-Type", "text/plain"),))
        return responder(seen)

    def send(self, wfile: Any, reply: Reply) -> None:
        """Write a reply, dripping it if asked; a client that hangs up ends the drip."""
        raw = reply.encode()
        if reply.drip is None:
            wfile.write(raw)
            return
        start = len(raw) - len(reply.body) if reply.drip_body else 0
        wfile.write(raw[:start])
        wfile.flush()
        for index in range(start, len(raw)):
            if self._stop.wait(reply.drip):
                return
            wfile.write(raw[index : index + 1])
            wfile.flush()


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, owner: HostileServer) -> None:
        self.owner = owner
        super().__init__(("127.0.0.1", 0), _Handler)

    def get_request(self) -> tuple[socket.socket, Any]:
        sock, address = self.socket.accept()
        if self.owner.tls is not None:
            sock = self.owner.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, address

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients that hang up mid-reply are expected here; stay quiet."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(5)
            try:
                self.request.do_handshake()
            except (ssl.SSLError, OSError) as exc:
                self.server.owner.handshake_failures.append(str(exc))
                raise
        super().setup()

    def handle_one_request(self) -> None:
        self.raw_requestline = self.rfile.readline(65537)
        if not self.raw_requestline or not self.parse_request():
            self.close_connection = True
            return
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        seen = Seen(self.command, self.path, tuple(self.headers.items()), body)
        self.server.owner.send(self.wfile, self.server.owner.respond(seen))
        self.wfile.flush()
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        """No access log on the test's stderr."""


@dataclass(frozen=True)
class MutualTLS:
    """Certificates for a server that demands client certificates.

    `ca_file` signed the server's certificate; `client_cert`/`client_key` are a certificate
    the server accepts, `encrypted_key` the same key under the pass phrase `passphrase`.
    """

    context: ssl.SSLContext
    ca_file: Path
    client_cert: Path
    client_key: Path
    encrypted_key: Path
    passphrase: bytes


def mutual_tls(folder: Path, *, require_client_cert: bool = True) -> MutualTLS:
    """A server TLS context (CERT_REQUIRED unless told) and the client files to try on it."""
    from cryptography.hazmat.primitives import serialization

    folder.mkdir(parents=True, exist_ok=True)
    authority = trustme.CA()
    server = authority.issue_cert("127.0.0.1", "localhost")
    client = authority.issue_cert("orc-client@example.com")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.configure_cert(context)
    authority.configure_trust(context)
    if require_client_cert:
        context.verify_mode = ssl.CERT_REQUIRED
    paths = {name: folder / name for name in ("ca.pem", "client.pem", "client.key", "enc.key")}
    authority.cert_pem.write_to_path(str(paths["ca.pem"]))
    client.cert_chain_pems[0].write_to_path(str(paths["client.pem"]))
    client.private_key_pem.write_to_path(str(paths["client.key"]))
    passphrase = b"correct horse battery staple"
    key = serialization.load_pem_private_key(client.private_key_pem.bytes(), password=None)
    paths["enc.key"].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(passphrase),
        )
    )
    return MutualTLS(
        context,
        paths["ca.pem"],
        paths["client.pem"],
        paths["client.key"],
        paths["enc.key"],
        passphrase,
    )


@contextmanager
def servers(*routes: Mapping[str, Responder]) -> Iterator[list[HostileServer]]:
    """Several plain-http servers at once, each with Ollama's basics plus its `routes`."""
    running = [HostileServer(routes={**ollama_routes(), **r}) for r in routes]
    for server in running:
        server.__enter__()
    try:
        yield running
    finally:
        for server in running:
            server.__exit__(None, None, None)


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Poll a condition of the server thread briefly (real sockets need tiny waits)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()
