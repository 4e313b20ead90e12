"""Manifests: load YAML (with positions), validate against the schema, check, resolve.

The public API is small: `load_fleet(paths)` returns a `LoadResult` with the resolved
`DesiredFleet` (None when any error was found) and every `Diagnostic`; `resolve_secret(ref)`
turns a `SecretRef` into its value at plan time.

These names are imported on first use, so that a module that needs only a small part of the
package (`durations`, `secretpolicy`) loads neither PyYAML nor pydantic.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reconciler.manifest.diagnostics import Diagnostic, Severity
    from reconciler.manifest.loader import LoadResult, load_fleet
    from reconciler.manifest.secrets import resolve_secret

__all__ = ["Diagnostic", "LoadResult", "Severity", "load_fleet", "resolve_secret"]

_LAZY = {
    "Diagnostic": "reconciler.manifest.diagnostics",
    "LoadResult": "reconciler.manifest.loader",
    "Severity": "reconciler.manifest.diagnostics",
    "load_fleet": "reconciler.manifest.loader",
    "resolve_secret": "reconciler.manifest.secrets",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'reconciler.manifest' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
