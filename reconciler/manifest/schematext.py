"""Wording of schema errors: what was expected, what was found, in the user's terms.

Values are echoed only where they cannot be secrets (names, durations, paths, numbers); a string
of unknown purpose is described as "a string", since it may be a token written in the wrong place.
"""

from __future__ import annotations

from typing import Any

from reconciler.manifest.models import (
    DNS_LABEL_PATTERN,
    DURATION_PATTERN,
    ENDPOINT_PATTERN,
    ENV_NAME_PATTERN,
)

_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "object": "a mapping",
    "array": "a list",
    "null": "nothing",
}
_MAX_ECHO = 60
DURATION_HELP = "use seconds (30) or a duration such as 30s, 5m, 2h, 1h30m, 500ms"
DNS_LABEL_HELP = (
    "names are DNS labels: lowercase letters, digits and '-', at most 63 characters, "
    "starting and ending with a letter or digit"
)


def expected_types(rule: Any) -> str:
    """`a string`, `a number or a string`, from a schema's `type`."""
    names = rule if isinstance(rule, list) else [rule]
    return " or ".join(_TYPE_NAMES.get(str(name), str(name)) for name in names)


def describe_value(value: Any, *, echo: bool = False) -> str:
    """A short description of a YAML value; strings are shown only when `echo`."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int):
        return f"the integer {value}" if abs(value) < 10**15 else "a very large integer"
    if isinstance(value, float):
        return f"the number {value}"
    if isinstance(value, str):
        return show(value) if echo else "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def show(text: str) -> str:
    """`'text'`, shortened when long."""
    if len(text) > _MAX_ECHO:
        text = text[: _MAX_ECHO - 3] + "..."
    return repr(text)


def range_message(schema: dict[str, Any], value: Any) -> str:
    """The message for minimum/maximum/exclusiveMinimum errors."""
    got = describe_value(value)
    if "minimum" in schema and "maximum" in schema:
        return f"must be between {schema['minimum']} and {schema['maximum']}, got {got}"
    if "exclusiveMinimum" in schema:
        if schema.get("pattern") == DURATION_PATTERN:
            return f"a duration must be greater than 0, got {got}"
        return f"must be greater than {schema['exclusiveMinimum']}, got {got}"
    if "minimum" in schema:
        return f"must be at least {schema['minimum']}, got {got}"
    return f"must be at most {schema.get('maximum')}, got {got}"


def pattern_message(pattern: Any, value: Any) -> str:
    """The message for a string that does not match the pattern of its field."""
    got = describe_value(value, echo=True)
    if pattern == DNS_LABEL_PATTERN:
        return f"invalid name {got}: {DNS_LABEL_HELP}"
    if pattern == DURATION_PATTERN:
        return f"invalid duration {got}: {DURATION_HELP}"
    if pattern == ENDPOINT_PATTERN:
        return f"an endpoint path must start with '/', got {got}"
    if pattern == ENV_NAME_PATTERN:
        return "not a valid environment variable name (letters, digits and '_', no leading digit)"
    return f"does not match the pattern {pattern}"
