"""How a simulated server answers: Go-style JSON, NDJSON streams, and errors before or mid-stream.

Ollama's rules (docs/ollama-api.md, Errors and streams): an error before any output is a JSON error
with a real status; after output started it is one more line `{"error": ...}` and the status stays
200; `stream: false` collapses a stream into one object. Handlers produce an async iterator of
events (objects, or a `StreamError`) and `respond()` applies these rules. JSON is encoded as Go's
`json.Marshal` does (compact, `<`, `>` and `&` escaped), one object per line, never a blank line.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope, Send

from reconciler.testing.faults import SimulatedConnectionDrop

JSON_TYPE = "application/json; charset=utf-8"
NDJSON_TYPE = "application/x-ndjson"
_GO_ESCAPES = {
    "<": "\\u003c",
    ">": "\\u003e",
    "&": "\\u0026",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


@dataclass(frozen=True)
class StreamError:
    """An error event: before any output it becomes the reply's status; after, an error line."""

    message: str
    status: int = 500


Event = dict[str, Any] | StreamError
Combine = Callable[[Sequence[dict[str, Any]]], dict[str, Any]]


def go_json(value: Any) -> bytes:
    """`json.Marshal`: compact, UTF-8, HTML-sensitive characters escaped."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for char, escape in _GO_ESCAPES.items():
        text = text.replace(char, escape)
    return text.encode()


def json_response(value: Any, status: int = 200) -> Response:
    """A `c.JSON` reply."""
    return Response(go_json(value), status_code=status, media_type=JSON_TYPE)


def error_response(message: str, status: int) -> Response:
    """`{"error": message}` with `status`."""
    return json_response({"error": message}, status)


def text_response(text: str, status: int = 200) -> Response:
    """A plain-text reply (`Ollama is running`, `404 page not found`)."""
    return Response(text.encode(), status_code=status, media_type="text/plain; charset=utf-8")


async def respond(
    events: AsyncGenerator[Event, None], *, stream: bool, combine: Combine | None = None
) -> Response:
    """Turn handler events into Ollama's reply: a stream, or one object (`combine` of all events,
    by default the last one), or an error with its status."""
    first = await anext(events, None)
    if isinstance(first, StreamError):
        await events.aclose()
        return error_response(first.message, first.status)
    if stream:
        return StreamingResponse(_ndjson(first, events), media_type=NDJSON_TYPE)
    collected = [first] if first is not None else []
    try:
        async for event in events:
            if isinstance(event, StreamError):
                return error_response(event.message, event.status)
            collected.append(event)
    except SimulatedConnectionDrop:
        return DroppedResponse()
    finally:
        await events.aclose()
    return json_response(combine(collected) if combine else collected[-1])


async def _ndjson(first: dict[str, Any] | None, rest: AsyncIterator[Event]) -> AsyncIterator[bytes]:
    if first is not None:
        yield go_json(first) + b"\n"
    async for event in rest:
        if isinstance(event, StreamError):
            yield go_json({"error": event.message}) + b"\n"
            return
        yield go_json(event) + b"\n"


class DroppedResponse(Response):
    """Starts a 200 reply, then aborts the connection before any body."""

    def __init__(self) -> None:
        super().__init__(b"", media_type=JSON_TYPE)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = [(b"content-type", JSON_TYPE.encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        raise SimulatedConnectionDrop("simulated connection drop")
