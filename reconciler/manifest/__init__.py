"""Manifests: load YAML (with positions), validate against the schema, check, resolve.

The public API is small: `load_fleet(paths)` returns a `LoadResult` with the resolved
`DesiredFleet` (None when any error was found) and every `Diagnostic`; `resolve_secret(ref)`
turns a `SecretRef` into its value at plan time.

These names are imported on first use, so that a module that needs only a small part of the
package (`durations`, `secretpolicy`) loads neither PyYAML nor pydantic.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reconciler.lazyexports import lazy_exports

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


__getattr__, __dir__ = lazy_exports(__name__, _LAZY, globals())
