"""Generate the published JSON Schema (schemas/manifest.v1.schema.json) from the pydantic models.

One document of any kind is valid against the schema when its `apiVersion` and `kind` are right
and, through an `if kind == X then X` branch per kind, its fields are those of that kind. The
branches (rather than `oneOf`) let validators report each field's error directly. Optional fields
are simply absent: the schema never allows `null` where pydantic's `X | None` would.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue, models_json_schema
from pydantic_core import core_schema

from reconciler.manifest.models import (
    API_VERSION,
    EMPTY_FACTORIES,
    KINDS,
    MODEL_BY_KIND,
    SCHEMA_NAMES,
)

SCHEMA_FILENAME = "manifest.v1.schema.json"
SCHEMA_ID = (
    "https://raw.githubusercontent.com/ollama-reconciler/ollama-reconciler/main/schemas/"
    + SCHEMA_FILENAME
)


class _ManifestSchemaGenerator(GenerateJsonSchema):
    """Pydantic's generator without `null` branches, `default: null` and per-field titles."""

    def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
        return self.generate_inner(schema["schema"])

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        factory = schema.get("default_factory")
        if "default" not in schema and factory in EMPTY_FACTORIES:
            # an empty list or mapping, made anew for each document (a plain default would be
            # deep-copied for each): the schema shows it as the default all the same
            schema = core_schema.WithDefaultSchema(**{**schema, "default": factory()})
        generated = super().default_schema(schema)
        if "default" in generated and generated["default"] is None:
            del generated["default"]
        return generated

    def field_title_should_be_set(self, schema: Any) -> bool:
        return False

    def normalize_name(self, name: str) -> str:
        return super().normalize_name(SCHEMA_NAMES.get(name, name))


def build_schema() -> dict[str, Any]:
    """The manifest JSON Schema (draft 2020-12) as a dict."""
    models = [(MODEL_BY_KIND[kind], "validation") for kind in KINDS]
    _, definitions = models_json_schema(
        models,  # type: ignore[arg-type]
        ref_template="#/$defs/{model}",
        schema_generator=_ManifestSchemaGenerator,
    )
    branches = [
        {
            "if": {"properties": {"kind": {"const": kind}}, "required": ["kind"]},
            "then": {"$ref": f"#/$defs/{kind}"},
        }
        for kind in KINDS
    ]
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "ollama-reconciler manifest (v1)",
        "description": (
            "One YAML document of an ollama-reconciler manifest: an OllamaInstance, a ModelSet "
            "or the Fleet."
        ),
        "type": "object",
        "required": ["apiVersion", "kind"],
        "properties": {
            "apiVersion": {"const": API_VERSION, "description": "Always " + API_VERSION + "."},
            "kind": {"enum": list(KINDS), "description": "What the document describes."},
            "metadata": {"description": "Name and labels; see the kind's definition."},
            "spec": {"description": "The desired state; see the kind's definition."},
        },
        "additionalProperties": False,
        "allOf": branches,
        "$defs": definitions["$defs"],
    }


def schema_text() -> str:
    """The schema as committed: 2-space indented JSON with a final newline."""
    return json.dumps(build_schema(), indent=2, ensure_ascii=False) + "\n"
