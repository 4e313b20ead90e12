"""Reading the status document for the HTML page: typed, escaped, and a dash for anything else.

The document is JSON that came, in part, from servers (model names, versions, error texts) and
from history figures that may or may not be there. Every value is taken only when it has the
expected type, and every text leaves here escaped: the sections never see raw input.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from reconciler.report import units

DASH = "—"


def esc(value: object) -> str:
    """`value` as text safe inside an element or a double-quoted attribute."""
    return html.escape(str(value), quote=True)


def text(value: object) -> str | None:
    """A non-empty string, else None."""
    return value if isinstance(value, str) and value else None


def shown(value: object) -> str:
    """A non-empty string escaped, else a dash."""
    found = text(value)
    return DASH if found is None else esc(found)


def number(value: object) -> float | None:
    """A finite int or float (never a bool), else None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def mapping(value: object) -> Mapping[str, Any]:
    """A JSON object, else an empty one."""
    return value if isinstance(value, Mapping) else {}


def items(value: object) -> list[Mapping[str, Any]]:
    """The objects of a JSON array (other entries left out), else an empty list."""
    if not isinstance(value, Sequence) or isinstance(value, str):
        return []
    return [v for v in value if isinstance(v, Mapping)]


def strings(value: object) -> list[str]:
    """The non-empty strings of a JSON array, else an empty list."""
    if not isinstance(value, Sequence) or isinstance(value, str):
        return []
    return [v for v in value if isinstance(v, str) and v]


def moment(value: object) -> datetime | None:
    """An ISO 8601 time with its zone, else None."""
    found = text(value)
    if found is None:
        return None
    try:
        parsed = datetime.fromisoformat(found)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def ago(value: object, now: datetime | None) -> str:
    """`<time>` with `3m ago` (the exact time on hover), or a dash."""
    when = moment(value)
    if when is None:
        return DASH
    iso = esc(when.isoformat())
    label = units.age(when, now) if now is not None else iso
    return f'<time datetime="{iso}" title="{iso}">{esc(label)}</time>'


def stamp(value: object) -> str:
    """`<time>` with the moment in UTC to the second (`2025-06-01 12:00:00 UTC`), or a dash."""
    when = moment(value)
    if when is None:
        return DASH
    iso = esc(when.isoformat())
    return f'<time datetime="{iso}">{when.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC</time>'


def milliseconds(value: object) -> str | None:
    """`42.3` → `42 ms`, else None."""
    found = number(value)
    return None if found is None else units.latency(found)


def percent(value: object) -> str | None:
    """A share 0..1 → `98.7 %`, else None."""
    found = number(value)
    if found is None or not 0.0 <= found <= 1.0:
        return None
    return f"{found * 100:.1f} %".replace(".0 %", " %")


def seconds(value: object) -> str:
    """`1.234` → `1.23 s`, else a dash."""
    found = number(value)
    return DASH if found is None else f"{found:.2f} s"
