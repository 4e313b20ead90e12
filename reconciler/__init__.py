"""ollama-reconciler: keep a fleet of Ollama servers matching declarative manifests.

The command line (`orc`) is the main interface; this package also offers a small Python API:
`Fleet` chats with the best available instance of a manifest fleet (priority, health, failover),
`OllamaClient` talks to one server. They are imported on first use, so `import reconciler` stays
light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from reconciler._version import __version__

if TYPE_CHECKING:
    from reconciler.chat import (
        ChatError,
        ChatFailed,
        Fleet,
        FleetChatResult,
        NoInstanceAvailable,
    )
    from reconciler.errors import ReconcilerError
    from reconciler.ollama import ClientConfig, OllamaClient, OllamaError

__all__ = [
    "ChatError",
    "ChatFailed",
    "ClientConfig",
    "Fleet",
    "FleetChatResult",
    "NoInstanceAvailable",
    "OllamaClient",
    "OllamaError",
    "ReconcilerError",
    "__version__",
]

_LAZY = {
    "ChatError": "reconciler.chat",
    "ChatFailed": "reconciler.chat",
    "ClientConfig": "reconciler.ollama",
    "Fleet": "reconciler.chat",
    "FleetChatResult": "reconciler.chat",
    "NoInstanceAvailable": "reconciler.chat",
    "OllamaClient": "reconciler.ollama",
    "OllamaError": "reconciler.ollama",
    "ReconcilerError": "reconciler.errors",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'reconciler' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
