"""Semantic comparison of model parameters, declared (YAML) against observed (`/api/show`).

`/api/show` reports parameters as text, so `8192` may come back as `"8192"`, and a single
`stop` string as a one-element list. Comparing them literally would re-create a custom model on
every plan; comparing their meaning does not.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def differing_parameters(declared: Mapping[str, Any], observed: Mapping[str, Any]) -> list[str]:
    """The declared parameter names whose observed value means something else, sorted.

    Only declared names are compared: a custom model inherits parameters from its base, and
    those are not the manifest's business.
    """
    return sorted(
        name
        for name, value in declared.items()
        if name not in observed or _canonical(value) != _canonical(observed[name])
    )


def json_parameters(parameters: Mapping[str, Any]) -> dict[str, Any]:
    """A plain JSON-shaped copy (tuples as lists), so a plan survives a JSON round trip exactly."""
    return {str(k): _jsonable(v) for k, v in parameters.items()}


def _jsonable(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_jsonable(v) for v in value]
    if isinstance(value, Mapping):
        return json_parameters(value)
    return value


def _canonical(value: Any) -> tuple[Any, ...]:
    """A comparable form: always a sorted tuple of scalars (a scalar equals a list of itself)."""
    items = value if isinstance(value, list | tuple) else [value]
    return tuple(sorted((_scalar(v) for v in items), key=repr))


def _scalar(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        text = value.strip()
        if text.lower() in ("true", "false"):
            return text.lower() == "true"
        try:
            return float(text)
        except ValueError:
            return value
    return value
