"""Go-compatible text: the exact spellings a real Ollama server (written in Go) produces.

The simulator must be byte-compatible where clients look closely: `%#v` values in show's
`parameters`, `time.ParseDuration` errors for `keep_alive`, RFC 3339 timestamps with nanoseconds
and a `Z` or `±hh:mm` offset. Each function here mirrors one Go routine, named in its docstring.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

MAX_DURATION_NS = 2**63 - 1
_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    "\\": "\\\\",
    '"': '\\"',
}
_UNITS_NS = {
    "ns": 1,
    "us": 1_000,
    "µs": 1_000,  # U+00B5 micro sign
    "μs": 1_000,  # U+03BC Greek mu
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}
_DIGITS = "0123456789"


class GoDurationError(ValueError):
    """A string `time.ParseDuration` rejects; `str()` is Go's exact message."""


def go_quote(text: str) -> str:
    """`strconv.Quote`: double-quoted, with Go's escapes for control characters."""
    out = []
    for char in text:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif char.isprintable():
            out.append(char)
        elif ord(char) < 0x80:
            out.append(f"\\x{ord(char):02x}")
        elif ord(char) < 0x10000:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(f"\\U{ord(char):08x}")
    return '"' + "".join(out) + '"'


def go_float(value: float) -> str:
    """`%v` of a float64: shortest digits, exponent form when the exponent is < -4 or >= 6."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if math.copysign(1.0, value) < 0 else "0"
    sign, digits_tuple, exponent = Decimal(repr(float(value))).normalize().as_tuple()
    assert isinstance(exponent, int)
    digits = "".join(str(d) for d in digits_tuple)
    point = len(digits) + exponent  # position of the decimal point within `digits`
    prefix = "-" if sign else ""
    exp = point - 1
    if exp < -4 or exp >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{prefix}{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if point <= 0:
        return f"{prefix}0.{'0' * -point}{digits}"
    if point >= len(digits):
        return prefix + digits + "0" * (point - len(digits))
    return f"{prefix}{digits[:point]}.{digits[point:]}"


def go_value(value: Any) -> str:
    """`%#v` of a value decoded from JSON by Go (numbers are float64)."""
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return go_float(float(value))
    if isinstance(value, str):
        return go_quote(value)
    return str(value)


def format_parameters(parameters: Iterable[tuple[str, Any]]) -> str:
    """Show's `parameters` text: `%-30s %#v` per line, one line per element of a list."""
    lines: list[str] = []
    for key, value in parameters:
        values = value if isinstance(value, list | tuple) else [value]
        lines.extend(f"{key:<30} {go_value(item)}" for item in values)
    return "\n".join(lines)


def parse_go_duration(text: str) -> int:
    """`time.ParseDuration`: nanoseconds of `text`, or `GoDurationError` with Go's message."""
    quoted = go_quote(text)
    rest, negative = text, False
    if rest[:1] in ("-", "+"):
        negative, rest = rest[0] == "-", rest[1:]
    if rest == "0":
        return 0
    if not rest:
        raise GoDurationError(f"time: invalid duration {quoted}")
    total = Decimal(0)
    while rest:
        number, rest = _leading_number(rest, quoted)
        unit_end = next((i for i, c in enumerate(rest) if c == "." or c in _DIGITS), len(rest))
        unit, rest = rest[:unit_end], rest[unit_end:]
        if not unit:
            raise GoDurationError(f"time: missing unit in duration {quoted}")
        if unit not in _UNITS_NS:
            raise GoDurationError(f"time: unknown unit {go_quote(unit)} in duration {quoted}")
        total += number * _UNITS_NS[unit]
    if total > MAX_DURATION_NS + (1 if negative else 0):
        raise GoDurationError(f"time: invalid duration {quoted}")
    nanos = int(total)
    return -nanos if negative else nanos


def _leading_number(rest: str, quoted: str) -> tuple[Decimal, str]:
    if not rest or (rest[0] != "." and rest[0] not in _DIGITS):
        raise GoDurationError(f"time: invalid duration {quoted}")
    end = 0
    while end < len(rest) and rest[end] in _DIGITS:
        end += 1
    whole, rest = rest[:end], rest[end:]
    fraction = ""
    if rest.startswith("."):
        rest = rest[1:]
        end = 0
        while end < len(rest) and rest[end] in _DIGITS:
            end += 1
        fraction, rest = rest[:end], rest[end:]
    if not whole and not fraction:
        raise GoDurationError(f"time: invalid duration {quoted}")
    return Decimal(f"{whole or '0'}.{fraction or '0'}"), rest


def local_zone(offset_minutes: int | None) -> timezone:
    """The server's zone: a fixed offset, or the machine's current one when None."""
    if offset_minutes is not None:
        return timezone(timedelta(minutes=offset_minutes))
    offset = datetime.now().astimezone().utcoffset() or timedelta(0)
    return timezone(offset)


def rfc3339(ns: int, zone: timezone = UTC) -> str:
    """Go's `RFC3339Nano` of a Unix time in nanoseconds: `Z` for a zero offset, trimmed fraction."""
    seconds, fraction = divmod(ns, 1_000_000_000)
    moment = datetime.fromtimestamp(seconds, tz=zone)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if fraction:
        text += "." + f"{fraction:09d}".rstrip("0")
    offset = moment.utcoffset() or timedelta(0)
    if not offset:
        return text + "Z"
    minutes = int(offset.total_seconds()) // 60
    sign = "-" if minutes < 0 else "+"
    return f"{text}{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"
