"""ollama-reconciler: keep a fleet of Ollama servers matching declarative manifests.

The command line (`orc`) is the main interface; this package also offers a small Python API.
"""

from __future__ import annotations

from reconciler._version import __version__

__all__ = ["__version__"]
