"""The async client for one Ollama server: the only package of the project that imports httpx.

`OllamaClient` speaks the API of docs/ollama-api.md and returns typed results;
every failure is an `OllamaError` that says what happened, where, what to do, and whether a
retry may help (`transient`).

The names below are imported on first use: a plan loads the client and the inventory replies,
never the chat, generate or progress models that only chats, loads and pulls read (see
docs/architecture.md, Performance).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import reconciler.ollama._httpx  # noqa: F401  (first: httpx without its command line)
from reconciler.lazyexports import lazy_exports

if TYPE_CHECKING:
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
    from reconciler.ollama.generation import (
        ChatChunk,
        ChatMessage,
        ChatResult,
        EmbedResult,
        GenerateChunk,
        GenerateResult,
        Metrics,
    )
    from reconciler.ollama.parameters import parse_parameters
    from reconciler.ollama.progress import CreateProgress, PullProgress
    from reconciler.ollama.types import (
        ModelDetails,
        ModelEntry,
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

_LAZY = {
    "ChatOptionArgs": "reconciler.ollama.chat_options",
    "ChatOptions": "reconciler.ollama.chat_options",
    "OllamaClient": "reconciler.ollama.client",
    "ENDPOINT_DEFAULTS": "reconciler.ollama.config",
    "ClientConfig": "reconciler.ollama.config",
    "TLSConfig": "reconciler.ollama.config",
    "ModelNameRejected": "reconciler.ollama.errors",
    "ModelNotFound": "reconciler.ollama.errors",
    "ModelNotInRegistry": "reconciler.ollama.errors",
    "OllamaError": "reconciler.ollama.errors",
    "OllamaTimeout": "reconciler.ollama.errors",
    "OllamaTLSError": "reconciler.ollama.errors",
    "OllamaUnauthorized": "reconciler.ollama.errors",
    "OllamaUnreachable": "reconciler.ollama.errors",
    "PoolExhausted": "reconciler.ollama.errors",
    "ProtocolError": "reconciler.ollama.errors",
    "RequestRejected": "reconciler.ollama.errors",
    "ServerBusy": "reconciler.ollama.errors",
    "ServerError": "reconciler.ollama.errors",
    "ChatChunk": "reconciler.ollama.generation",
    "ChatMessage": "reconciler.ollama.generation",
    "ChatResult": "reconciler.ollama.generation",
    "EmbedResult": "reconciler.ollama.generation",
    "GenerateChunk": "reconciler.ollama.generation",
    "GenerateResult": "reconciler.ollama.generation",
    "Metrics": "reconciler.ollama.generation",
    "parse_parameters": "reconciler.ollama.parameters",
    "CreateProgress": "reconciler.ollama.progress",
    "PullProgress": "reconciler.ollama.progress",
    "ModelDetails": "reconciler.ollama.types",
    "ModelEntry": "reconciler.ollama.types",
    "RunningModel": "reconciler.ollama.types",
    "ShowResponse": "reconciler.ollama.types",
    "normalize_digest": "reconciler.ollama.types",
}


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
