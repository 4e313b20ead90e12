"""Request bodies in the exact form Ollama accepts.

The one subtle field is `keep_alive`: Ollama takes a JSON number of seconds or a Go duration
string (`"5m"`, `"1h30m"`, `"-1m"`), and rejects a bare numeric string such as `"300"` with
`time: missing unit in duration`. Numbers therefore go out as JSON numbers, numeric strings are
turned into numbers, and anything else must be a valid Go duration.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reconciler.ollama.generation import ChatMessage

_GO_DURATION = re.compile(r"[-+]?(?:(?:\d+\.?\d*|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+|[-+]?0")
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)")

KeepAlive = float | str
"""Seconds (negative: forever, 0: unload) or a Go duration string."""


def keep_alive_value(value: KeepAlive) -> int | float | str:
    """The JSON value to send for `keep_alive`; raises ValueError for an unusable one."""
    if isinstance(value, bool):
        raise ValueError("keep_alive must be a number of seconds or a duration, not a boolean")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError("keep_alive must be a finite number of seconds")
        return int(value) if float(value).is_integer() else float(value)
    text = value.strip()
    if _NUMBER.fullmatch(text):
        return keep_alive_value(float(text))
    if _GO_DURATION.fullmatch(text):
        return text
    raise ValueError(
        f"keep_alive {value!r} is neither a number of seconds nor a duration like '5m' or '1h30m'"
    )


def with_optional(body: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """`body` plus every field of `fields` that is not None."""
    return {**body, **{k: v for k, v in fields.items() if v is not None}}


def chat_messages(
    messages: Sequence[ChatMessage | Mapping[str, Any]], system: str | None
) -> list[dict[str, Any]]:
    """The `messages` array, with `system` (if given) as a leading system message."""
    from reconciler.ollama.generation import ChatMessage  # only chats need the chat models

    out = [m.to_request() if isinstance(m, ChatMessage) else dict(m) for m in messages]
    if system is not None:
        out.insert(0, {"role": "system", "content": system})
    return out
