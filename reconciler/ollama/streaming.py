"""Reading Ollama's NDJSON streams with an inactivity limit and an overall deadline.

A pull of a big model may stream for an hour and is fine as long as data keeps arriving; one that
stays silent for `inactivity` seconds is a timeout, and one that runs past its `deadline` too.
Both are enforced here around every read, so they hold whatever httpx transport is underneath
(a socket, ASGI, a test stream). An `{"error": ...}` line after HTTP 200 is Ollama's way to
report a failure mid-stream and becomes the matching `OllamaError`; a stream that stops in the
middle of a line was cut off (transient).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator, Awaitable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from reconciler.ollama.diagnosis import (
    Call,
    overdue,
    preview,
    protocol_error,
    stalled,
    stream_error,
)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Limits:
    """Time limits of one stream: `inactivity` between reads, `deadline` for the whole run."""

    inactivity: float
    deadline: float | None = None
    started: float = field(default_factory=lambda: asyncio.get_running_loop().time())

    def next_wait(self) -> tuple[float, bool]:
        """How long the next read may take, and whether that is bounded by the deadline."""
        if self.deadline is None:
            return self.inactivity, False
        remaining = self.deadline - (asyncio.get_running_loop().time() - self.started)
        if remaining < self.inactivity:
            return max(remaining, 0.0), True
        return self.inactivity, False


async def within(call: Call, limits: Limits, step: Awaitable[T]) -> T:
    """Await one read of a stream under `limits`; too slow becomes OllamaTimeout."""
    wait, by_deadline = limits.next_wait()
    try:
        async with asyncio.timeout(wait):
            return await step
    except TimeoutError as exc:
        if by_deadline and limits.deadline is not None:
            raise overdue(call, limits.deadline) from exc
        raise stalled(call, limits.inactivity) from exc


async def read_objects(
    call: Call, response: httpx.Response, limits: Limits
) -> AsyncGenerator[dict[str, Any], None]:
    """Yield each JSON object of a reply: one per line, or one in all for `application/json`."""
    whole = response.headers.get("content-type", "").startswith("application/json")
    chunks = response.aiter_bytes()
    buffer = b""
    seen = 0
    while True:
        try:
            chunk = await within(call, limits, anext(chunks))
        except StopAsyncIteration:
            break
        buffer += chunk
        if whole:
            continue
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            if line.strip():
                seen += 1
                yield decode_line(call, line, first=seen == 1)
    if buffer.strip():
        # A partial last line is a cut stream only after good lines; alone it is not JSON at all.
        yield decode_line(call, buffer, last=not whole and seen > 0, first=seen == 0)


def decode_line(
    call: Call, line: bytes, *, last: bool = False, first: bool = False
) -> dict[str, Any]:
    """One JSON object of a stream; `last` marks a final line that had no newline."""
    try:
        item = json.loads(line)
    except ValueError as exc:
        if last:
            raise protocol_error(
                call, "the reply stream was cut off in the middle of a line", transient=True
            ) from exc
        what = "the reply" if first else "a line of the reply"
        raise protocol_error(call, f"{what} is not JSON: {preview(call, line)!r}") from exc
    if not isinstance(item, dict):
        raise protocol_error(
            call, f"a line of the reply is not a JSON object: {type(item).__name__}"
        )
    if "error" in item:
        raise stream_error(call, item["error"])
    return item
