"""The objects generate and chat stream: chunks, the final object with metrics, preload replies.

Shapes follow docs/ollama-api.md, Inference: a chunk per token (`response` or `message.content`,
`thinking` for thinking models), then a final object with `done_reason` and the metrics, which are
omitted when zero and consistent with the instance's pace (`eval_count / eval_duration` =
`token_rate`). With `stream: false` the chunks are concatenated into the final object.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Sequence
from typing import Any

from reconciler.testing.config import SimContext
from reconciler.testing.generation import Ask, Pace, Reply, compose, context_tokens, paced, tokenize
from reconciler.testing.goformat import rfc3339
from reconciler.testing.responses import Event
from reconciler.testing.state import InstalledModel


def created_at() -> str:
    """Now in UTC with nanoseconds, as Ollama stamps `created_at`."""
    return rfc3339(time.time_ns())


def preload_reply(model: str, reason: str, *, chat: bool) -> dict[str, Any]:
    """The one-object reply of a preload (`load`) or unload (`unload`) request."""
    if chat:
        message = {"role": "assistant", "content": ""}
        return {
            "model": model,
            "created_at": created_at(),
            "message": message,
            "done": True,
            "done_reason": reason,
        }
    return {
        "model": model,
        "created_at": created_at(),
        "response": "",
        "done": True,
        "done_reason": reason,
    }


class Run:
    """One generation: yields its chunks on the instance's schedule, then the final object."""

    def __init__(
        self,
        ctx: SimContext,
        model: InstalledModel,
        label: str,
        *,
        started_ns: int,
        load_ns: int,
        keep_alive: int | None,
        chat: bool,
    ) -> None:
        self.ctx = ctx
        self.model = model
        self.label = label
        self.started_ns = started_ns
        self.load_ns = load_ns
        self.keep_alive = keep_alive
        self.chat = chat
        self.pace = Pace(ctx.config.token_rate, ctx.config.first_token_delay)

    async def events(self, ask: Ask) -> AsyncGenerator[Event, None]:
        """Chunks, then the final object; the runner's keep-alive timer restarts at the end."""
        reply = compose(ask)
        async for kind, token in paced(reply, self.pace):
            yield self._chunk(
                token if kind == "content" else "", token if kind == "thinking" else ""
            )
        if reply.tool_calls and self.chat:
            chunk = self._chunk("", "")
            chunk["message"]["tool_calls"] = list(reply.tool_calls)
            yield chunk
        self.ctx.state.load(self.model, self.keep_alive, None)
        yield self._final(reply, ask)

    def combine(self, events: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """`stream: false`: the final object with every chunk's text concatenated."""
        final = dict(events[-1])
        if self.chat:
            messages = [e["message"] for e in events]
            merged: dict[str, Any] = {
                "role": "assistant",
                "content": "".join(m["content"] for m in messages),
            }
            thinking = "".join(m.get("thinking", "") for m in messages)
            calls = [call for m in messages for call in m.get("tool_calls", [])]
            if thinking:
                merged["thinking"] = thinking
            if calls:
                merged["tool_calls"] = calls
            final["message"] = merged
            return final
        final["response"] = "".join(e.get("response", "") for e in events)
        thinking = "".join(e.get("thinking", "") for e in events)
        return _ordered(final, thinking)

    def _chunk(self, content: str, thinking: str) -> dict[str, Any]:
        head: dict[str, Any] = {"model": self.label, "created_at": created_at()}
        if self.chat:
            message: dict[str, Any] = {"role": "assistant", "content": content}
            if thinking:
                message["thinking"] = thinking
            return {**head, "message": message, "done": False}
        return _ordered({**head, "response": content, "done": False}, thinking)

    def _final(self, reply: Reply, ask: Ask) -> dict[str, Any]:
        final = self._chunk("", "")
        final["done"] = True
        final["done_reason"] = reply.done_reason
        if not self.chat:
            final["context"] = context_tokens(tokenize(ask.prompt_text) + list(reply.content))
        final.update(
            total_duration=max(1, time.monotonic_ns() - self.started_ns),
            load_duration=self.load_ns,
            prompt_eval_count=reply.prompt_tokens,
            prompt_eval_duration=self.pace.prompt_eval_ns,
            eval_count=reply.eval_count,
            eval_duration=self.pace.eval_duration_ns(reply.eval_count),
        )
        return final


def _ordered(obj: dict[str, Any], thinking: str) -> dict[str, Any]:
    """Insert `thinking` right after `response`, where Go's struct order puts it."""
    if not thinking:
        return obj
    out: dict[str, Any] = {}
    for key, value in obj.items():
        out[key] = value
        if key == "response":
            out["thinking"] = thinking
    return out
