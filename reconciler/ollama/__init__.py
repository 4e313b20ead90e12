"""The async client for one Ollama server: the only package of the project that imports httpx.

`OllamaClient` speaks the API of docs/ollama-api.md and returns typed results;
every failure is an `OllamaError` that says what happened, where, what to do, and whether a
retry may help (`transient`).
"""

from __future__ import annotations

import reconciler.ollama._httpx  # noqa: F401  (first: httpx without its command line)
from reconciler.ollama.chat_options import ChatOptionArgs, ChatOptions
from reconciler.ollama.client import OllamaClient
from reconciler.ollama.config import ENDPOINT_DEFAULTS, ClientConfig, TLSConfig
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
from reconciler.ollama.parameters import parse_parameters
from reconciler.ollama.types import (
    ChatChunk,
    ChatMessage,
    ChatResult,
    CreateProgress,
    EmbedResult,
    GenerateChunk,
    GenerateResult,
    Metrics,
    ModelDetails,
    ModelEntry,
    PullProgress,
    RunningModel,
    ShowResponse,
    normalize_digest,
)

__all__ = [
    "ENDPOINT_DEFAULTS",
    "ChatChunk",
    "ChatMessage",
    "ChatOptionArgs",
    "ChatOptions",
    "ChatResult",
    "ClientConfig",
    "CreateProgress",
    "EmbedResult",
    "GenerateChunk",
    "GenerateResult",
    "Metrics",
    "ModelDetails",
    "ModelEntry",
    "ModelNameRejected",
    "ModelNotFound",
    "ModelNotInRegistry",
    "OllamaClient",
    "OllamaError",
    "OllamaTLSError",
    "OllamaTimeout",
    "OllamaUnauthorized",
    "OllamaUnreachable",
    "PoolExhausted",
    "ProtocolError",
    "PullProgress",
    "RequestRejected",
    "RunningModel",
    "ServerBusy",
    "ServerError",
    "ShowResponse",
    "TLSConfig",
    "normalize_digest",
    "parse_parameters",
]
