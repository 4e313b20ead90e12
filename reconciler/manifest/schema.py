"""Validate documents against the published JSON Schema; the only module that imports jsonschema.

The schema file is found as package data in an installed wheel (`reconciler/schemas/`) and in
the repository's `schemas/` folder in a checkout. The validator is compiled once. Every error is
reported, each turned into a diagnostic with a readable message at the position of the offending
key (unknown fields), value (bad values) or enclosing mapping (missing fields).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterator
from functools import lru_cache
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.errors import ManifestError
from reconciler.manifest.diagnostics import Diagnostic, FieldPath
from reconciler.manifest.document import YamlDocument
from reconciler.manifest.hints import suggest, unknown_field_hint
from reconciler.manifest.schemagen import SCHEMA_FILENAME
from reconciler.manifest.schematext import (
    describe_value,
    expected_types,
    pattern_message,
    range_message,
)

if TYPE_CHECKING:
    import jsonschema
    from jsonschema.exceptions import ValidationError


def schema_location() -> Traversable:
    """Where the committed schema is: package data when installed, else the repository copy."""
    packaged = resources.files("reconciler") / "schemas" / SCHEMA_FILENAME
    if packaged.is_file():
        return packaged
    return Path(__file__).resolve().parents[2] / "schemas" / SCHEMA_FILENAME


@lru_cache(maxsize=1)
def load_schema() -> dict[str, Any]:
    """The committed schema, parsed (once)."""
    location = schema_location()
    try:
        schema = json.loads(location.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ManifestError(
            f"cannot load the manifest schema {location}: {exc}",
            hint="the installation looks broken; reinstall ollama-reconciler",
        ) from exc
    if not isinstance(schema, dict):
        raise ManifestError(f"the manifest schema {location} is not a JSON object")
    return schema


@lru_cache(maxsize=1)
def _validator() -> jsonschema.Draft202012Validator:
    # imported on first use: a fleet the models accept never needs it (see loader._parse)
    import jsonschema

    return jsonschema.Draft202012Validator(load_schema())


def schema_diagnostics(document: YamlDocument) -> list[Diagnostic]:
    """Every schema error of one document, as diagnostics (empty when it conforms)."""
    validator = _validator()
    if validator.is_valid(document.data):
        return []
    found: list[Diagnostic] = []
    for error in validator.iter_errors(document.data):
        found.extend(_diagnostics(error, document))
    return list(dict.fromkeys(found))


def _diagnostics(error: ValidationError, doc: YamlDocument) -> Iterator[Diagnostic]:
    path: FieldPath = tuple(error.absolute_path)
    keyword = error.validator
    if keyword == "additionalProperties" and isinstance(error.instance, dict):
        allowed = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
        for key in error.instance:
            if key not in allowed:
                hint = unknown_field_hint(path, key, allowed)
                yield doc.error((*path, key), f"unknown field {key!r}", key=True, hint=hint)
    elif keyword == "required" and isinstance(error.instance, dict):
        required: Any = error.validator_value
        for name in required:
            if name not in error.instance:
                yield doc.error((*path, name), f"missing required field {name!r}", key=True)
    elif keyword in ("anyOf", "oneOf"):
        yield from _alternatives(error, doc)
    else:
        message, hint = _message(error, path)
        yield doc.error(path, message, hint=hint)


def _alternatives(error: ValidationError, doc: YamlDocument) -> Iterator[Diagnostic]:
    """Report the errors of the one branch whose type fits, else what was expected."""
    by_branch: dict[Any, list[ValidationError]] = defaultdict(list)
    for sub in error.context or ():
        by_branch[sub.relative_schema_path[0]].append(sub)
    fitting = [
        errors
        for errors in by_branch.values()
        if not any(e.validator == "type" and not e.relative_path for e in errors)
    ]
    if len(fitting) == 1:
        for sub in fitting[0]:
            yield from _diagnostics(sub, doc)
        return
    branches = error.validator_value if isinstance(error.validator_value, list) else []
    expected = " or ".join(_describe_branch(branch) for branch in branches)
    path: FieldPath = tuple(error.absolute_path)
    yield doc.error(path, f"expected {expected}, got {describe_value(error.instance)}")


def _describe_branch(branch: Any) -> str:
    if isinstance(branch, dict) and "$ref" in branch:
        name = str(branch["$ref"]).rsplit("/", 1)[-1]
        if name == "SecretRef":
            return "a SecretRef ({env: NAME}, {file: PATH} or {value: ...})"
        return f"a {name} mapping"
    if isinstance(branch, dict):
        return expected_types(branch.get("type", "value"))
    return "a value"


def _message(error: ValidationError, path: FieldPath) -> tuple[str, str]:
    """A readable message (and a hint) for one validation error."""
    keyword, schema, value = error.validator, error.schema, error.instance
    rule: Any = error.validator_value
    schema = schema if isinstance(schema, dict) else {}
    if keyword == "type":
        return f"expected {expected_types(rule)}, got {describe_value(value)}", ""
    if keyword == "const" and path == ("apiVersion",):
        return f"apiVersion must be {rule!r}, got {describe_value(value, echo=True)}", ""
    if keyword == "enum" and path == ("kind",):
        close = suggest(value, rule) if isinstance(value, str) else None
        hint = f"did you mean {close!r}?" if close else ""
        got = describe_value(value, echo=True)
        return f"unknown kind {got}: expected one of {', '.join(rule)}", hint
    if keyword == "enum":
        choices = ", ".join(repr(choice) for choice in rule)
        return f"must be one of {choices}, got {describe_value(value, echo=True)}", ""
    if keyword in ("minimum", "maximum", "exclusiveMinimum"):
        return range_message(schema, value), ""
    if keyword == "pattern":
        return pattern_message(rule, value), ""
    if keyword == "minLength":
        return "must not be empty", ""
    if keyword in ("minProperties", "maxProperties"):
        return _exactly_one_message(schema, value), ""
    return error.message, ""


def _exactly_one_message(schema: dict[str, Any], value: Any) -> str:
    names = list(schema.get("properties", {}))
    choices = f"{', '.join(names[:-1])} or {names[-1]}" if len(names) > 1 else "".join(names)
    what = "a SecretRef" if schema.get("title") == "SecretRef" else "this mapping"
    found = " and ".join(value) if isinstance(value, dict) and value else "none"
    return f"{what} needs exactly one of {choices}, found {found}"
