"""Reads the `parameters` text of `/api/show` back into values.

Ollama prints one line per parameter: the key padded to 30 characters, then the value in Go
syntax (`%#v`), so strings are quoted (`stop "<|eot_id|>"`), numbers bare (`num_ctx 4096`,
`1e+06`), booleans `true`/`false`, and a list gets one line per element. Servers before that
change printed strings unquoted; those are kept as they are. The plan compares these values with
the manifest's `parameters`, so they must come back as the same Python types.
"""

from __future__ import annotations

import json
import re
from typing import Any

LIST_PARAMETERS = frozenset({"stop"})
"""Parameters Ollama holds as lists: always a list here, even with a single line."""

_LINE = re.compile(r"(\S+)\s+(.*)")
_GO_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|.)", re.S)
_SIMPLE_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    '"': '"',
    "'": "'",
}


def parse_parameters(text: str) -> dict[str, Any]:
    """Parse show's `parameters` text into a dict; repeated keys (and `stop`) become lists."""
    values: dict[str, Any] = {}
    for line in text.splitlines():
        match = _LINE.fullmatch(line.strip())
        if match is None:
            continue
        key, value = match.group(1), parse_value(match.group(2).strip())
        if key in LIST_PARAMETERS or key in values:
            previous = values.get(key, [])
            values[key] = [*(previous if isinstance(previous, list) else [previous]), value]
        else:
            values[key] = value
    return values


def parse_value(raw: str) -> Any:
    """One Go-formatted value: a quoted string, a boolean, a number, or else the raw text."""
    if len(raw) >= 2 and raw[0] == raw[-1] == '"':
        return _unquote(raw)
    if raw in ("true", "false"):
        return raw == "true"
    try:
        return int(raw)
    except ValueError:
        pass
    try:
        number = float(raw)
    except ValueError:
        return raw
    if number.is_integer() and "." not in raw:
        return int(number)
    return number


def _unquote(raw: str) -> str:
    try:
        value = json.loads(raw)
    except ValueError:
        return _GO_ESCAPE.sub(_escape, raw[1:-1])
    return value if isinstance(value, str) else raw


def _escape(match: re.Match[str]) -> str:
    code = match.group(1)
    if code in _SIMPLE_ESCAPES:
        return _SIMPLE_ESCAPES[code]
    if code[0] in "xuU" and len(code) > 1:
        return chr(int(code[1:], 16))
    if len(code) == 3 and code.isdigit():
        return chr(int(code, 8))
    return "\\" + code
