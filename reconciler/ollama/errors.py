"""The one error tree of the Ollama client.

Every failure of a request to an Ollama server is an `OllamaError` that says what happened, to
which instance (and model), what to do about it, and whether it is `transient` (worth a retry).
The executor decides about retries from that flag alone; nobody above this package ever sees an
httpx exception.
"""

from __future__ import annotations

from typing import ClassVar

from reconciler.errors import ReconcilerError


class OllamaError(ReconcilerError):
    """Base of every error the Ollama client raises.

    `instance` and `model` say where, `status` is the HTTP status when the server answered,
    `detail` the server's own error text, `transient` whether retrying may help.
    """

    transient: bool = False
    default_hint: ClassVar[str | None] = None

    def __init__(
        self,
        message: str,
        *,
        instance: str,
        model: str | None = None,
        status: int | None = None,
        detail: str | None = None,
        hint: str | None = None,
        transient: bool | None = None,
    ) -> None:
        where = f"{instance}/{model}" if model else instance
        super().__init__(message, where=where, hint=hint or self.default_hint)
        self.instance = instance
        self.model = model
        self.status = status
        self.detail = detail
        if transient is not None:
            self.transient = transient


class OllamaUnreachable(OllamaError):
    """The server could not be reached: connection refused, DNS failure, connection reset."""

    transient = True
    default_hint = "check that Ollama is running at that URL and reachable from this machine"


class OllamaTLSError(OllamaError):
    """The TLS handshake failed, usually because the server's certificate is not trusted."""

    default_hint = (
        "set tls.caFile to the CA that signed the server's certificate, "
        "or tls.verify: false to skip verification"
    )


class OllamaTimeout(OllamaError):
    """The server did not answer, or a stream stayed silent, for longer than allowed."""

    transient = True
    default_hint = "raise spec.timeout, or spec.pullTimeout for pulls, if the server is just slow"


class OllamaUnauthorized(OllamaError):
    """401/403: missing or wrong credentials, or Ollama's Host-header guard behind a proxy."""

    default_hint = "check auth.bearerToken and the headers of this instance"


class ModelNotFound(OllamaError):
    """The model is not on the server (404)."""

    default_hint = "check the model name, or pull the model first"


class ModelNotInRegistry(OllamaError):
    """A pull failed because the registry has no such model or tag."""

    default_hint = "check the name and tag at https://ollama.com/library"


class ModelNameRejected(OllamaError):
    """The server rejected the model name as invalid (400); names are checked before any
    request by `reconciler.names.parse`, which raises `InvalidModelName`."""

    default_hint = "names look like 'llama3.2:3b' or 'namespace/model:tag'"


class ServerBusy(OllamaError):
    """503 (or 429): the server's queue is full; later requests may succeed."""

    transient = True
    default_hint = "the server's request queue is full; retry later"


class PoolExhausted(OllamaError):
    """Every pooled connection to the server was in use for the whole wait: a local limit.

    It says nothing about the server's health; another attempt, or another instance, may do.
    """

    transient = True
    default_hint = "send fewer requests at once, or raise the instance's spec.maxConcurrent"


class ServerError(OllamaError):
    """The server failed (5xx other than 503, or an error line inside a stream)."""

    transient = True
    default_hint = "see the Ollama server log for the cause"


class ProtocolError(OllamaError):
    """The reply is not what Ollama sends: not JSON, wrong shape, or a stream cut short.

    Only a truncated stream is transient; a reply of the wrong kind will stay wrong.
    """

    default_hint = "check that url and endpoints of this instance point at an Ollama server"


class RequestRejected(OllamaError):
    """The server refused the request (another 4xx), e.g. a model that does not support chat."""
