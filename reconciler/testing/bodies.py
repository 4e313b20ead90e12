"""Decode request bodies the way Ollama's Go handlers do, with the same error texts.

Ollama binds each body to a Go struct with `encoding/json`: an empty body is `missing request
body`, a wrong type is `json: cannot unmarshal number into Go struct field PullRequest.model of
type string`, `keep_alive` goes through `time.ParseDuration`. Each request kind is described here
by a table of its fields, so every handler validates in one line.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from reconciler.testing.goformat import MAX_DURATION_NS, GoDurationError, parse_go_duration

THINK_LEVELS = ("high", "medium", "low", "max")

# field kinds: (accepted JSON kinds, Go type shown in the error)
_STRING = ("string", "string")
_BOOL = ("bool", "bool")
_INT = ("int", "int")
_OBJECT = ("object", "map[string]interface {}")
_ANY = ("any", "interface {}")
_DURATION = ("duration", "api.Duration")
_THINK = ("think", "api.ThinkValue")

FIELDS: dict[str, dict[str, tuple[str, str]]] = {
    "PullRequest": {
        "model": _STRING,
        "name": _STRING,
        "insecure": _BOOL,
        "stream": _BOOL,
        "username": _STRING,
        "password": _STRING,
    },
    "ShowRequest": {
        "model": _STRING,
        "name": _STRING,
        "system": _STRING,
        "template": _STRING,
        "verbose": _BOOL,
        "options": _OBJECT,
    },
    "DeleteRequest": {"model": _STRING, "name": _STRING},
    "CopyRequest": {"source": _STRING, "destination": _STRING},
    "CreateRequest": {
        "model": _STRING,
        "name": _STRING,
        "from": _STRING,
        "files": ("object", "map[string]string"),
        "adapters": ("object", "map[string]string"),
        "template": _STRING,
        "system": _STRING,
        "license": _ANY,
        "parameters": _OBJECT,
        "messages": ("array", "[]api.Message"),
        "quantize": _STRING,
        "quantization": _STRING,
        "stream": _BOOL,
    },
    "GenerateRequest": {
        "model": _STRING,
        "prompt": _STRING,
        "suffix": _STRING,
        "system": _STRING,
        "template": _STRING,
        "context": ("array", "[]int"),
        "stream": _BOOL,
        "raw": _BOOL,
        "format": _ANY,
        "keep_alive": _DURATION,
        "images": ("array", "[]api.ImageData"),
        "options": _OBJECT,
        "think": _THINK,
        "truncate": _BOOL,
        "shift": _BOOL,
        "logprobs": _BOOL,
        "top_logprobs": _INT,
    },
    "ChatRequest": {
        "model": _STRING,
        "messages": ("array", "[]api.Message"),
        "tools": ("array", "api.Tools"),
        "stream": _BOOL,
        "format": _ANY,
        "keep_alive": _DURATION,
        "options": _OBJECT,
        "think": _THINK,
        "truncate": _BOOL,
        "shift": _BOOL,
        "logprobs": _BOOL,
        "top_logprobs": _INT,
    },
    "EmbedRequest": {
        "model": _STRING,
        "input": _ANY,
        "keep_alive": _DURATION,
        "truncate": _BOOL,
        "dimensions": _INT,
        "options": _OBJECT,
    },
    "EmbeddingRequest": {
        "model": _STRING,
        "prompt": _STRING,
        "keep_alive": _DURATION,
        "options": _OBJECT,
    },
}
_MESSAGE_FIELDS = {"role": _STRING, "content": _STRING, "thinking": _STRING, "tool_name": _STRING}


class BadRequest(Exception):
    """A request the server answers with 400 and `{"error": message}`."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


def decode(body: bytes, struct: str) -> dict[str, Any]:
    """Decode `body` into the fields of Go struct `struct`; raises `BadRequest` like Ollama.

    Absent and `null` fields are left out; `keep_alive` becomes nanoseconds (int).
    """
    text = body.decode("utf-8", errors="replace").lstrip()
    if not text.strip():
        raise BadRequest("missing request body")
    try:
        raw, _ = json.JSONDecoder().raw_decode(text)
    except json.JSONDecodeError as exc:
        raise BadRequest(_syntax_message(text, exc)) from exc
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise BadRequest(
            f"json: cannot unmarshal {json_kind(raw)} into Go value of type api.{struct}"
        )
    return _bind(raw, struct, FIELDS[struct])


def json_kind(value: Any) -> str:
    """Go's name for the JSON type of a decoded value, as used in unmarshal errors."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return "object"


def _bind(
    raw: Mapping[str, Any], struct: str, fields: Mapping[str, tuple[str, str]]
) -> dict[str, Any]:
    lowered = {name.lower(): name for name in fields}
    out: dict[str, Any] = {}
    for key, value in raw.items():
        name = key if key in fields else lowered.get(key.lower())
        if name is None or value is None:
            continue
        kind, go_type = fields[name]
        out[name] = _convert(value, kind, f"{struct}.{name}", go_type)
    if struct == "ChatRequest":
        _check_messages(out.get("messages", []))
    return out


def _convert(value: Any, kind: str, field: str, go_type: str) -> Any:
    if kind == "duration":
        return keep_alive_ns(value)
    if kind == "think":
        return _think(value)
    ok = {
        "string": isinstance(value, str),
        "bool": isinstance(value, bool),
        "int": isinstance(value, int | float) and not isinstance(value, bool),
        "object": isinstance(value, dict),
        "array": isinstance(value, list),
        "any": True,
    }[kind]
    if not ok:
        raise _type_error(value, field, go_type)
    if kind == "int":
        if value != int(value):
            raise BadRequest(
                f"json: cannot unmarshal number {value} into Go struct field {field} of type int"
            )
        return int(value)
    return value


def _type_error(value: Any, field: str, go_type: str) -> BadRequest:
    return BadRequest(
        f"json: cannot unmarshal {json_kind(value)} into Go struct field {field} of type {go_type}"
    )


def _check_messages(messages: list[Any]) -> None:
    for message in messages:
        if not isinstance(message, dict):
            raise _type_error(message, "ChatRequest.messages", "api.Message")
        for key, (_, go_type) in _MESSAGE_FIELDS.items():
            value = message.get(key)
            if value is not None and not isinstance(value, str):
                raise _type_error(value, f"ChatRequest.messages.{key}", go_type)


def keep_alive_ns(value: Any) -> int:
    """`api.Duration.UnmarshalJSON`: seconds as a number, or a Go duration; negative = forever."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        go_names = {bool: "bool", list: "[]interface {}", dict: "map[string]interface {}"}
        raise BadRequest(f"Unsupported type: '{go_names.get(type(value), type(value).__name__)}'")
    if isinstance(value, str):
        try:
            nanos = parse_go_duration(value)
        except GoDurationError as exc:
            raise BadRequest(str(exc)) from exc
        return MAX_DURATION_NS if nanos < 0 else nanos
    if value < 0:
        return MAX_DURATION_NS
    return int(value * 1_000_000_000)  # current api/types.go: fractions of a second count


def _think(value: Any) -> bool | str:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value in THINK_LEVELS:
        return value
    if isinstance(value, str) and value in ("true", "false"):
        return value == "true"
    raise BadRequest(
        f"invalid think value: {json.dumps(value)} "
        '(must be "high", "medium", "low", true, or false)'
    )


def think_enabled(value: bool | str | None) -> bool:
    """`ThinkValue.Bool()`: a level string counts as thinking on."""
    return bool(value)


def _syntax_message(text: str, exc: json.JSONDecodeError) -> str:
    if exc.pos >= len(text.rstrip()):
        return "unexpected EOF"
    char = text[exc.pos]
    return f"invalid character {char!r} looking for beginning of value"
