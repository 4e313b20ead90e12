"""Manifests: load YAML (with positions), validate against the schema, check, resolve.

The public API is small: `load_fleet(paths)` returns a `LoadResult` with the resolved
`DesiredFleet` (None when any error was found) and every `Diagnostic`; `resolve_secret(ref)`
turns a `SecretRef` into its value at plan time.
"""

from __future__ import annotations

from reconciler.manifest.diagnostics import Diagnostic, Severity
from reconciler.manifest.loader import LoadResult, load_fleet
from reconciler.manifest.secrets import resolve_secret

__all__ = ["Diagnostic", "LoadResult", "Severity", "load_fleet", "resolve_secret"]
