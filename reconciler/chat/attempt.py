"""One chat on one instance: stream it, time it on the client, bound the whole reply.

The time to first token is measured here, as the chunks arrive (the first chunk that carries text
or thinking); the deadline bounds the whole reply, each read waiting at most what is left of it,
so a model that streams slowly forever still ends as a (transient) `OllamaTimeout`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler.chat.result import Failover, FleetChatResult
from reconciler.desired import DesiredInstance
from reconciler.names import ModelName
from reconciler.ollama import (
    ChatChunk,
    ChatMessage,
    ChatOptions,
    Metrics,
    OllamaClient,
    OllamaTimeout,
)


@dataclass(frozen=True)
class ChatRequest:
    """What to ask: the model, the messages and the options of Ollama's /api/chat.

    `timeout` (seconds) bounds the whole reply of each instance tried; None leaves only the
    instance's own inactivity timeout.
    """

    model: ModelName
    messages: Sequence[ChatMessage | Mapping[str, Any]]
    settings: ChatOptions = field(default_factory=ChatOptions)
    timeout: float | None = None


@dataclass
class Attempt:
    """The chat of `request` on `instance`; iterate `run()`, then read `result()`."""

    instance: DesiredInstance
    client: OllamaClient
    request: ChatRequest
    clock: Callable[[], float]
    delivered: bool = False
    _content: list[str] = field(default_factory=list)
    _thinking: list[str] = field(default_factory=list)
    _tool_calls: list[dict[str, Any]] = field(default_factory=list)
    _final: ChatChunk | None = None
    _started: float = 0.0
    _first: float | None = None
    _ended: float | None = None

    async def run(self) -> AsyncGenerator[ChatChunk, None]:
        """Yield the chunks of the reply; raise an OllamaError when it fails or is too slow."""
        request = self.request
        deadline = None
        if request.timeout is not None:
            deadline = asyncio.get_running_loop().time() + request.timeout
        self._started = self.clock()
        stream = self.client.chat(request.model, request.messages, **request.settings.args())
        try:
            while True:
                try:
                    async with asyncio.timeout_at(deadline):
                        chunk = await anext(stream)
                except StopAsyncIteration:
                    break
                except TimeoutError as exc:
                    raise self._too_slow() from exc
                self._add(chunk)
                yield chunk
                self.delivered = True
        finally:
            if isinstance(stream, AsyncGenerator):  # release the connection when stopped early
                await stream.aclose()
        self._ended = self.clock()

    @property
    def waited(self) -> float:
        """Seconds since the request went out (until now, or until the reply ended)."""
        return (self._ended if self._ended is not None else self.clock()) - self._started

    def result(self, failovers: Sequence[Failover]) -> FleetChatResult:
        """The whole reply, once `run()` has ended."""
        final = self._final
        ended = self._ended if self._ended is not None else self.clock()
        return FleetChatResult(
            content="".join(self._content),
            instance=self.instance.name,
            priority=self.instance.priority,
            model=(final.model if final else "") or str(self.request.model),
            metrics=(final.metrics if final else None) or Metrics(),
            elapsed=ended - self._started,
            time_to_first_token=self._first,
            failovers=tuple(failovers),
            thinking="".join(self._thinking),
            done_reason=final.done_reason if final else None,
            tool_calls=tuple(self._tool_calls),
        )

    def _add(self, chunk: ChatChunk) -> None:
        message = chunk.message
        if self._first is None and (message.content or message.thinking):
            self._first = self.clock() - self._started
        self._content.append(message.content)
        self._thinking.append(message.thinking or "")
        self._tool_calls.extend(message.tool_calls or ())
        if chunk.done:
            self._final = chunk

    def _too_slow(self) -> OllamaTimeout:
        seconds = self.request.timeout
        return OllamaTimeout(
            f"chat failed: no complete reply within {seconds:g}s",
            instance=self.instance.name,
            model=str(self.request.model),
            hint="allow more time (--timeout, or the smoke test's timeout)",
        )
