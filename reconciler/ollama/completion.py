"""Collecting a streamed chat or generate reply into one result, timed on the client side.

`orc chat-test` reports latency, time to first token and tokens per second; the first two can
only be measured here, as the stream arrives. The first token is the first chunk that carries
text or thinking.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

from reconciler.ollama.generation import (
    ChatChunk,
    ChatResult,
    GenerateChunk,
    GenerateResult,
    Metrics,
)


async def collect_chat(
    chunks: AsyncIterator[ChatChunk], clock: Callable[[], float], model: str
) -> ChatResult:
    """Read a chat stream to its end; the stream itself guarantees a final `done` chunk."""
    start = clock()
    first: float | None = None
    content: list[str] = []
    thinking: list[str] = []
    tool_calls: list[dict[str, Any]] = []
    final: ChatChunk | None = None
    async for chunk in chunks:
        message = chunk.message
        if first is None and (message.content or message.thinking):
            first = clock() - start
        content.append(message.content)
        thinking.append(message.thinking or "")
        tool_calls.extend(message.tool_calls or ())
        final = chunk if chunk.done else final
    return ChatResult(
        model=(final.model if final else "") or model,
        content="".join(content),
        thinking="".join(thinking),
        tool_calls=tuple(tool_calls),
        done_reason=final.done_reason if final else None,
        metrics=(final.metrics if final else None) or Metrics(),
        time_to_first_token=first,
        elapsed=clock() - start,
    )


async def collect_generate(
    chunks: AsyncIterator[GenerateChunk], clock: Callable[[], float], model: str
) -> GenerateResult:
    """Read a generate stream to its end; the stream itself guarantees a final `done` chunk."""
    start = clock()
    first: float | None = None
    content: list[str] = []
    thinking: list[str] = []
    final: GenerateChunk | None = None
    async for chunk in chunks:
        if first is None and (chunk.response or chunk.thinking):
            first = clock() - start
        content.append(chunk.response)
        thinking.append(chunk.thinking or "")
        final = chunk if chunk.done else final
    return GenerateResult(
        model=(final.model if final else "") or model,
        content="".join(content),
        thinking="".join(thinking),
        done_reason=final.done_reason if final else None,
        context=final.context if final else None,
        metrics=(final.metrics if final else None) or Metrics(),
        time_to_first_token=first,
        elapsed=clock() - start,
    )
