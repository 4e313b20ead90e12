"""Turns whatever went wrong in a request into the right `OllamaError`.

Three sources: an HTTP error reply (status and body), an `{"error": ...}` line inside a stream
that started fine (HTTP 200), and an exception from httpx or the socket below it. The rules
follow docs/ollama-api.md: an empty-body 403 is Ollama's Host-header guard, a plain
text 404 is an unknown path (not a missing model), `pull model manifest: file does not exist` means
the registry has no such model. A redirect is an error that names its `Location`. Every text
passes through the config's `Redactor`, and is masked before it is cut to length, so a server
that echoes the request's headers shows no part of a credential.
"""

from __future__ import annotations

import json
import re
import ssl
from dataclasses import dataclass
from urllib.parse import urljoin

import httpx

from reconciler.ollama.config import display_url
from reconciler.ollama.errors import (
    ModelNameRejected,
    ModelNotFound,
    ModelNotInRegistry,
    OllamaError,
    OllamaTimeout,
    OllamaTLSError,
    OllamaUnauthorized,
    OllamaUnreachable,
    PoolExhausted,
    ProtocolError,
    RequestRejected,
    ServerBusy,
    ServerError,
)
from reconciler.ollama.redaction import Redactor

_INVALID_NAME = re.compile(
    r"(invalid model name|invalid model path|unqualified name.*|model is required"
    r'|(name|source|destination) ".*" is invalid)',
    re.DOTALL,
)
# `pull model manifest: 401: {...}`: the registry said no (private model, no access)
_REGISTRY_REFUSED = re.compile(r"pull model manifest: (401|403)\b")
_HOST_GUARD_HINT = (
    "a proxy in front of Ollama must rewrite the Host header to localhost:11434, "
    "e.g. nginx `proxy_set_header Host localhost:11434`; or let Ollama listen on 0.0.0.0"
)
_DNS_WORDS = ("name or service not known", "nodename nor servname", "getaddrinfo", "resolution")
_MAX_DETAIL = 300
_PREVIEW = 80
_HTML_DROP = re.compile(r"<(script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_HTML_TAG = re.compile(r"<[^>]*>")
# alerts a server sends about the client's certificate: missing, untrusted or unusable
_CLIENT_CERT_ALERTS = (
    "CERTIFICATE_REQUIRED",
    "PEER_DID_NOT_RETURN_A_CERTIFICATE",
    "ALERT_UNKNOWN_CA",
    "ALERT_BAD_CERTIFICATE",
    "ALERT_CERTIFICATE_UNKNOWN",
    "ALERT_CERTIFICATE_EXPIRED",
)


@dataclass(frozen=True, slots=True)
class Call:
    """One request, as error messages describe it."""

    instance: str
    operation: str  # human words: "pull", "health check", "list models"
    endpoint: str  # the logical endpoint name, e.g. "listModels"
    method: str
    url: str  # display form: no credentials, no query
    redact: Redactor
    model: str | None = None
    base_model: str | None = None  # the `from` of a create: what a pull inside it fetches

    def fail(
        self,
        cls: type[OllamaError],
        summary: str,
        *,
        status: int | None = None,
        detail: str | None = None,
        hint: str | None = None,
        transient: bool | None = None,
    ) -> OllamaError:
        """Build an error of class `cls` about this call, with every secret masked."""
        message = f"{self.operation} failed: {summary}"
        if detail:
            message = f"{message}; server said: {detail}"
        return cls(
            self.redact(message),
            instance=self.instance,
            model=self.model,
            status=status,
            detail=self.redact(detail) if detail else None,
            hint=self.redact(hint) if hint else None,
            transient=transient,
        )


def reply_error(
    call: Call, status: int, body: bytes, *, location: str | None = None
) -> OllamaError:
    """The error for an HTTP reply with a status of 300 or more (`location`: its header)."""
    if 300 <= status < 400:
        return _redirected(call, status, location)
    text, from_json = _server_message(call.redact, body)
    if status in (401, 403):
        return _unauthorized(call, status, text)
    if status == 404 and not from_json:
        return call.fail(
            RequestRejected,
            f"{call.method} {call.url} does not exist on the server (HTTP 404)",
            status=status,
            detail=text,
            hint=f"check the url, its path prefix, and endpoints.{call.endpoint}",
        )
    return classify(call, status, text)


def stream_error(call: Call, message: object) -> OllamaError:
    """The error for an `{"error": ...}` line inside a stream that began with HTTP 200."""
    return classify(call, None, str(message))


def classify(call: Call, status: int | None, text: str) -> OllamaError:
    """The error for a server message, with its HTTP status (None: inside a stream)."""
    code = f" (HTTP {status})" if status else ""
    if _INVALID_NAME.fullmatch(text.strip()):
        return call.fail(ModelNameRejected, f"invalid model name{code}", status=status, detail=text)
    if "pull model manifest" in text and "file does not exist" in text:
        return _not_in_registry(call, status, text)
    if call.model and status == 404:
        return call.fail(ModelNotFound, f"model not found{code}", status=status, detail=text)
    if status in (429, 503) or "server busy" in text:
        return call.fail(ServerBusy, f"the server is busy{code}", status=status, detail=text)
    if status in (408, 504):
        return call.fail(OllamaTimeout, f"the request timed out{code}", status=status, detail=text)
    if _REGISTRY_REFUSED.search(text):
        return call.fail(
            RequestRejected,
            f"the registry refused the pull{code}",
            status=status,
            detail=text,
            hint="the model may be private or the name misspelt; retrying will not help",
        )
    if status is None and "insecure protocol" in text:
        return call.fail(
            RequestRejected,
            "the registry is plain http",
            detail=text,
            hint="pull with insecure=True only if you trust that registry",
        )
    if status is not None and 400 <= status < 500:
        return call.fail(
            RequestRejected, f"the server rejected the request{code}", status=status, detail=text
        )
    if status is None or status >= 500:
        where = "inside the reply stream" if status is None else f"(HTTP {status})"
        return call.fail(
            ServerError, f"the server reported an error {where}", status=status, detail=text
        )
    return call.fail(ProtocolError, f"unexpected HTTP status {status}", status=status, detail=text)


def transport_error(
    call: Call,
    exc: BaseException,
    *,
    connect: float,
    read: float,
    client_cert: bool = False,
    certificate_requested: bool = False,
) -> OllamaError:
    """The error for an exception raised while sending or receiving (never re-raised as is).

    `client_cert`: one was configured; `certificate_requested`: the server's handshake asked
    for one (servers that demand one and get none often just drop the connection).
    """
    if isinstance(exc, httpx.TimeoutException | TimeoutError):
        return _timeout(call, exc, connect=connect, read=read)
    refused = _client_certificate(call, exc, client_cert, certificate_requested)
    if refused is not None:
        return refused
    tls = _tls_cause(exc)
    if tls is not None:
        return _tls(call, tls)
    reason = _reason(exc)
    if isinstance(exc, httpx.UnsupportedProtocol):
        return call.fail(
            OllamaUnreachable,
            f"cannot use {call.url}: {reason}",
            transient=False,
            hint="the url must start with http:// or https://",
        )
    if isinstance(exc, httpx.ConnectError | httpx.ProxyError):
        return call.fail(OllamaUnreachable, f"cannot connect to {call.url}: {_connect_reason(exc)}")
    if isinstance(exc, httpx.NetworkError | httpx.RemoteProtocolError | OSError):
        return call.fail(OllamaUnreachable, f"the connection to {call.url} was lost: {reason}")
    if isinstance(exc, httpx.TooManyRedirects | httpx.DecodingError):
        return call.fail(ProtocolError, f"unusable reply from {call.url}: {reason}")
    return call.fail(ProtocolError, f"the request to {call.url} could not be made: {reason}")


def late(call: Call, seconds: float, *, answered: bool) -> OllamaError:
    """The error for an ordinary reply that had not fully arrived after `seconds`;
    `answered`: its status line and headers had."""
    if not answered:
        return call.fail(OllamaTimeout, f"no reply from {call.url} within {seconds:g}s")
    return call.fail(
        OllamaTimeout,
        f"the reply from {call.url} did not arrive in full within {seconds:g}s",
        hint="raise spec.timeout if the server is just slow; it bounds the whole reply",
    )


def preview(call: Call, raw: bytes) -> str:
    """The start of a reply for a message: masked first, then cut."""
    text = call.redact(raw.decode("utf-8", "replace")).strip()
    return text if len(text) <= _PREVIEW else text[: _PREVIEW - 1] + "…"


def stalled(call: Call, seconds: float) -> OllamaError:
    """The error for a stream that received nothing for `seconds`."""
    return call.fail(
        OllamaTimeout,
        f"the server sent nothing for {seconds:g}s",
        hint="raise spec.timeout if the server is just slow",
    )


def overdue(call: Call, seconds: float) -> OllamaError:
    """The error for a pull (or create) that did not finish within its whole-run limit."""
    return call.fail(
        OllamaTimeout,
        f"not finished after {seconds:g}s (still streaming)",
        hint="raise spec.pullTimeout for big models or slow links",
    )


def protocol_error(call: Call, what: str, *, transient: bool = False) -> OllamaError:
    """The error for a reply of the wrong kind, or (transient) a stream cut short."""
    return call.fail(ProtocolError, what, transient=transient)


def _redirected(call: Call, status: int, location: str | None) -> OllamaError:
    if not location:
        summary = f"{call.method} {call.url} was redirected (HTTP {status}) without a Location"
    else:
        target = display_url(urljoin(call.url, location.strip()))
        summary = f"{call.method} {call.url} was redirected (HTTP {status}) to {target}"
    return call.fail(
        ProtocolError,
        f"{summary}; orc follows no redirects",
        status=status,
        hint="put the final URL in spec.url (and in spec.endpoints) so requests go straight there",
    )


def _client_certificate(
    call: Call, exc: BaseException, configured: bool, requested: bool
) -> OllamaError | None:
    """The error when the server wanted a client certificate, or refused the one it got."""
    reasons = " ".join(_reason(e) for e in _causes(exc)).upper()
    alerted = any(alert in reasons for alert in _CLIENT_CERT_ALERTS)
    if configured and alerted:
        return call.fail(
            OllamaTLSError,
            f"the server at {call.url} refused the client certificate (tls.clientCert)",
            hint="check that tls.clientCert is signed by a CA the server trusts, has not "
            "expired, and matches tls.clientKey",
        )
    if not configured and (alerted or (requested and _connection_lost(exc))):
        return call.fail(
            OllamaTLSError,
            f"the server at {call.url} asked for a client certificate (mutual TLS), "
            "and none is configured",
            hint="set tls.clientCert and tls.clientKey to a certificate the server accepts",
        )
    return None


def _connection_lost(exc: BaseException) -> bool:
    return isinstance(exc, httpx.NetworkError | httpx.RemoteProtocolError | OSError | ssl.SSLError)


def _unauthorized(call: Call, status: int, text: str) -> OllamaError:
    if status == 403 and not text:
        return call.fail(
            OllamaUnauthorized,
            "HTTP 403 with an empty body: Ollama's Host-header guard refused the request, "
            "as it does behind a proxy that passes its own Host on",
            status=status,
            hint=_HOST_GUARD_HINT,
        )
    summary = "the server wants credentials" if status == 401 else "access denied"
    return call.fail(OllamaUnauthorized, f"{summary} (HTTP {status})", status=status, detail=text)


def _not_in_registry(call: Call, status: int | None, text: str) -> OllamaError:
    subject = call.model or "the model"
    if call.base_model:
        subject = f"the base model {call.base_model!r}"
    return call.fail(
        ModelNotInRegistry, f"{subject} is not in the registry", status=status, detail=text
    )


def _timeout(call: Call, exc: BaseException, *, connect: float, read: float) -> OllamaError:
    if isinstance(exc, httpx.ConnectTimeout):
        summary = f"could not connect to {call.url} within {connect:g}s"
    elif isinstance(exc, httpx.PoolTimeout):
        summary = f"no free connection to {call.url} within {read:g}s: all pooled connections busy"
        return call.fail(PoolExhausted, summary)
    elif isinstance(exc, httpx.WriteTimeout):
        summary = f"sending the request to {call.url} took longer than {read:g}s"
    else:
        summary = f"no reply from {call.url} within {read:g}s"
    return call.fail(OllamaTimeout, summary)


def _tls(call: Call, cause: BaseException) -> OllamaError:
    reason = _reason(cause)
    if "CERTIFICATE_VERIFY_FAILED" in reason or isinstance(cause, ssl.SSLCertVerificationError):
        return call.fail(
            OllamaTLSError, f"the TLS certificate of {call.url} is not trusted: {reason}"
        )
    return call.fail(
        OllamaTLSError,
        f"the TLS handshake with {call.url} failed: {reason}",
        hint="use an http:// url if the server does not speak TLS; otherwise check tls.caFile, "
        "tls.clientCert and tls.clientKey",
    )


def _tls_cause(exc: BaseException) -> BaseException | None:
    seen: BaseException | None = exc
    for _ in range(6):
        if seen is None:
            return None
        if isinstance(seen, ssl.SSLError) or "[SSL" in str(seen):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _connect_reason(exc: BaseException) -> str:
    reason = _reason(exc)
    lowered = reason.lower()
    if "refused" in lowered or any(isinstance(e, ConnectionRefusedError) for e in _causes(exc)):
        return "connection refused"
    if any(word in lowered for word in _DNS_WORDS):
        return f"the host name could not be resolved ({reason})"
    return reason


def _causes(exc: BaseException, depth: int = 0) -> list[BaseException]:
    """The exception, its causes and contexts, and the members of exception groups."""
    if depth > 8:
        return []
    found = [exc]
    if isinstance(exc, BaseExceptionGroup):
        for member in exc.exceptions:
            found += _causes(member, depth + 1)
    for linked in (exc.__cause__, exc.__context__):
        if linked is not None and linked is not exc:
            found += _causes(linked, depth + 1)
    return found


def _reason(exc: BaseException) -> str:
    return str(exc).strip() or type(exc).__name__


def _server_message(redact: Redactor, body: bytes) -> tuple[str, bool]:
    """The server's error text and whether it came as Ollama's JSON `{"error": ...}`.

    Masked before anything is cut, and again after decoding (JSON or HTML escapes could hide a
    secret from the first pass).
    """
    text = redact(body.decode("utf-8", "replace")).strip()
    if not text:
        return "", False
    try:
        data = json.loads(text)
    except ValueError:
        return _shorten(redact(_plain_text(text))), False
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, str):
            return redact(error), True
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return redact(str(error["message"])), True
    return _shorten(text), False


def _plain_text(text: str) -> str:
    """An HTML page as its words on one line; any other text as it is."""
    if not text.startswith("<") or not _HTML_TAG.search(text):
        return text
    import html  # only an HTML error page needs it

    words = _HTML_TAG.sub(" ", _HTML_DROP.sub(" ", text))
    return " ".join(html.unescape(words).split())


def _shorten(text: str) -> str:
    first = text.splitlines()[0] if text else ""
    return first if len(first) <= _MAX_DETAIL else first[: _MAX_DETAIL - 1] + "…"
