"""The TLS side of one server's connections: its `ssl.SSLContext`, and what handshakes reveal.

Three things a user would otherwise trip over are handled here. An encrypted client key would
make OpenSSL prompt for a pass phrase on the terminal and block an unattended run: it is refused
with a clear error instead, and no prompt can ever happen. `tls.verify: false` is worth a
warning, once per instance and command. And a server that demands a client certificate often
just drops the connection; the handshake watcher notices its certificate request, so the
diagnosis can say so instead of "connection lost".
"""

from __future__ import annotations

import asyncio
import functools
import logging
import ssl
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from reconciler.ollama.config import ENDPOINT_DEFAULTS, ClientConfig
from reconciler.ollama.errors import OllamaTLSError

logger = logging.getLogger("reconciler.ollama")

_HANDSHAKE = 22  # TLS content type of handshake messages
_CERTIFICATE_REQUEST = 13  # handshake message type: the server asks for a client certificate
_ENCRYPTED_MARKERS = ("ENCRYPTED PRIVATE KEY", "Proc-Type: 4,ENCRYPTED")


@dataclass
class HandshakeNotes:
    """What the TLS handshakes made during one request showed."""

    certificate_requested: bool = False


_NOTES: ContextVar[HandshakeNotes | None] = ContextVar("orc_handshake_notes", default=None)
_WARNED: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, set[str]] = (
    weakref.WeakKeyDictionary()
)


@contextmanager
def watching_handshakes() -> Iterator[HandshakeNotes]:
    """Collect what the handshakes of the requests made inside the block show."""
    notes = HandshakeNotes()
    token = _NOTES.set(notes)
    try:
        yield notes
    finally:
        _NOTES.reset(token)


def ssl_context(config: ClientConfig) -> ssl.SSLContext:
    """The TLS context of one server: CA, verification and client certificate as configured."""
    tls = config.tls
    if tls.ca_file is not None:
        try:
            context = ssl.create_default_context(cafile=str(tls.ca_file))
        except (OSError, ValueError) as exc:
            raise file_error(config, "tls.caFile", tls.ca_file, exc) from exc
    elif tls.client_cert is None:
        context = _system_context(tls.verify)
    else:
        context = httpx.create_ssl_context(verify=tls.verify)
    if not tls.verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if tls.client_cert is None:
        # private in CPython but stable since 3.8; without it only the server's alert tells
        context._msg_callback = _note_handshake  # type: ignore[attr-defined]
    else:
        _load_client_certificate(config, context, tls.client_cert, tls.client_key)
    return context


ContextSource = ssl.SSLContext | Callable[[], ssl.SSLContext]
"""A TLS context, or what makes it when the first https connection needs it."""


def deferred_ssl_context(config: ClientConfig) -> ContextSource:
    """`ssl_context(config)`, made only when first needed if the config names no TLS files.

    The system's CA certificates take about 50 ms of CPU to load, which a fleet of http:// servers
    never needs; a config with `tls.caFile` or a client certificate is made at once, so that an
    unusable file is reported when the client is made.
    """
    if config.tls.ca_file is None and config.tls.client_cert is None:
        return functools.partial(ssl_context, config)
    return ssl_context(config)


def made(context: ContextSource) -> ssl.SSLContext:
    """The context itself, made now if it was deferred."""
    return context if isinstance(context, ssl.SSLContext) else context()


def warn_if_unverified(config: ClientConfig) -> None:
    """Warn once per instance and event loop (one command) that certificates go unchecked."""
    if config.tls.verify:
        return
    urls = [config.url(name) for name in ENDPOINT_DEFAULTS]
    if not any(url.lower().startswith("https:") for url in urls):
        return
    try:
        seen = _WARNED.setdefault(asyncio.get_running_loop(), set())
    except RuntimeError:  # no loop yet: cannot tell commands apart, so warn every time
        seen = set()
    if config.instance in seen:
        return
    seen.add(config.instance)
    logger.warning(
        "Warning: %s: tls.verify is false, so the server's certificate is not checked and "
        "anyone on the network path can pose as the server and read its credentials; "
        "set tls.caFile to the CA that signed it instead",
        config.instance,
    )


def file_error(config: ClientConfig, field: str, path: Path, exc: BaseException) -> OllamaTLSError:
    """A TLS file that cannot be used, as one clear error."""
    reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or str(exc)
    return OllamaTLSError(
        f"cannot use {field} {path}: {reason}",
        instance=config.instance,
        hint=f"{field} must name readable PEM files",
    )


class _PassPhraseWanted(Exception):
    """OpenSSL asked for the pass phrase of an encrypted key."""


def _refuse_pass_phrase() -> bytes:
    raise _PassPhraseWanted


def _load_client_certificate(
    config: ClientConfig, context: ssl.SSLContext, cert: Path, key: Path | None
) -> None:
    field = "tls.clientKey" if key is not None else "tls.clientCert"
    key_file = key if key is not None else cert
    if _is_encrypted(key_file):
        raise _encrypted_key(config, field, key_file)
    try:
        context.load_cert_chain(str(cert), str(key) if key else None, password=_refuse_pass_phrase)
    except _PassPhraseWanted as exc:
        raise _encrypted_key(config, field, key_file) from exc
    except (OSError, ValueError) as exc:
        raise file_error(config, "tls.clientCert/clientKey", cert, exc) from exc


def _is_encrypted(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            head = handle.read(1 << 16).decode("ascii", "replace")
    except OSError:
        return False  # load_cert_chain reports the unreadable file
    return any(marker in head for marker in _ENCRYPTED_MARKERS)


def _encrypted_key(config: ClientConfig, field: str, path: Path) -> OllamaTLSError:
    return OllamaTLSError(
        f"{field} {path} is encrypted with a pass phrase, and orc never prompts for one",
        instance=config.instance,
        hint=f"store the key unencrypted, readable only by orc's user "
        f"(e.g. `openssl pkey -in {path.name} -out {path.stem}-plain.key`), and point {field} "
        "at that file",
    )


@functools.lru_cache(maxsize=2)
def _system_context(verify: bool) -> ssl.SSLContext:
    """The system CAs' context, shared: loading them costs ~20 ms of CPU per client."""
    return httpx.create_ssl_context(verify=verify)


def _note_handshake(*message: Any) -> None:
    """OpenSSL's message callback: (connection, direction, version, content type, type, data)."""
    _, direction, _, content_type, msg_type, _ = message
    if direction == "read" and content_type == _HANDSHAKE and msg_type == _CERTIFICATE_REQUEST:
        notes = _NOTES.get()
        if notes is not None:
            notes.certificate_requested = True
