"""Checking what the server sent: the shape of each reply, and that streams really finished.

A reply of the wrong shape is a `ProtocolError` naming the first bad field. A progress stream
(pull, create) is complete only once it said `success`, a generation stream (chat, generate)
only once a chunk said `done`; a stream that stops earlier was cut off and the error is transient.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from reconciler.ollama.diagnosis import Call, protocol_error

if TYPE_CHECKING:  # the stream models are loaded by the calls that stream: a plan makes none
    from reconciler.ollama.generation import ChatChunk, GenerateChunk
    from reconciler.ollama.progress import PullProgress

R = TypeVar("R", bound=BaseModel)
P = TypeVar("P", bound="PullProgress")
G = TypeVar("G", "ChatChunk", "GenerateChunk")


def parse_reply(call: Call, kind: type[R], data: Any) -> R:
    """`data` validated as `kind`; ProtocolError when it does not fit."""
    try:
        return kind.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "reply"
        raise protocol_error(
            call, f"unexpected reply shape for {kind.__name__}: {where}: {first['msg']}"
        ) from exc


def parse_replies(call: Call, kind: type[R], items: list[Any]) -> list[R]:
    """Each of `items` validated as `kind`, in one call (a tenth of the cost of one call per
    item on a 1,000-model inventory); ProtocolError naming the first bad field of the first bad
    item, worded as `parse_reply` words it."""
    try:
        parsed: list[R] = _list_of(kind).validate_python(items)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"][1:]) or "reply"
        raise protocol_error(
            call, f"unexpected reply shape for {kind.__name__}: {where}: {first['msg']}"
        ) from exc
    return parsed


@functools.cache
def _list_of(kind: type[BaseModel]) -> TypeAdapter[list[Any]]:
    adapter: TypeAdapter[list[Any]] = TypeAdapter(list[kind])  # type: ignore[valid-type]
    return adapter


def model_list(call: Call, data: Any) -> list[Any]:
    """The `models` array of /api/tags or /api/ps (`null` counts as empty)."""
    if isinstance(data, dict) and data.get("models", ()) is None:
        return []
    models = data.get("models") if isinstance(data, dict) else None
    if not isinstance(models, list):
        raise protocol_error(call, "the reply has no 'models' list")
    return models


async def until_success(
    call: Call, items: AsyncIterator[dict[str, Any]], kind: type[P]
) -> AsyncIterator[P]:
    """Typed progress lines, read to the end; the last one must say `success`.

    The last, not any: a create whose base is pulled first passes the pull's own `success` on
    before its own layers, so a stream cut after the pull has said `success` once already.
    """
    succeeded = False
    async for item in items:
        progress = parse_reply(call, kind, item)
        succeeded = progress.done
        yield progress
    if not succeeded:
        raise protocol_error(call, "the progress stream ended before 'success'", transient=True)


async def until_created(
    call: Call, items: AsyncIterator[dict[str, Any]], kind: type[P]
) -> AsyncIterator[P]:
    """Create progress, read to the end: `success` last, and after a base pull a second one.

    A create whose `from` is not local pulls it first and passes the pull's own lines on,
    its `success` included; the create's layers, manifest and `success` come after.
    """
    pulled, successes = False, 0
    async for progress in until_success(call, items, kind):
        pulled = pulled or progress.status == "pulling manifest"
        successes += progress.done
        yield progress
    if pulled and successes < 2:
        raise protocol_error(
            call,
            "the stream ended after the base model's pull, before the create's 'success'",
            transient=True,
        )


async def until_done(
    call: Call, items: AsyncIterator[dict[str, Any]], kind: type[G]
) -> AsyncIterator[G]:
    """Typed generation chunks, read to the end; one of them must have said `done`."""
    finished = False
    async for item in items:
        chunk = parse_reply(call, kind, item)
        finished = finished or chunk.done
        yield chunk
    if not finished:
        raise protocol_error(call, "the reply stream ended before 'done'", transient=True)
