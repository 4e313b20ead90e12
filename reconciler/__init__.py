"""ollama-reconciler: keep a fleet of Ollama servers matching declarative manifests.

The command line (`orc`) is the main interface; this package also offers a small Python API:
`Fleet` chats with the best available instance of a manifest fleet (priority, health, failover),
`OllamaClient` talks to one server. They are imported on first use, so `import reconciler` stays
light.

The package's first act is to switch off pydantic's plugins for the whole process
(`reconciler.pydanticplugins`): whichever module of orc is imported first, no validator it builds
runs a plugin.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reconciler import pydanticplugins as _pydanticplugins  # noqa: F401 (first: see above)
from reconciler._version import __version__
from reconciler.lazyexports import lazy_exports

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


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
