"""Typed messages and replies of chat, generate and embed (docs/ollama-api.md), as pydantic
models, with the server's metrics; loaded only by the calls that send or read them (chat-test,
loading and unloading a model), never by a plan."""

from __future__ import annotations

from typing import Any

from pydantic import model_validator

from reconciler.ollama.types import Reply, Time

METRIC_FIELDS = (
    "total_duration",
    "load_duration",
    "prompt_eval_count",
    "prompt_eval_duration",
    "eval_count",
    "eval_duration",
)


class Metrics(Reply):
    """Timings (nanoseconds) and token counts of a finished generation."""

    total_duration: int | None = None
    load_duration: int | None = None
    prompt_eval_count: int | None = None
    prompt_eval_duration: int | None = None
    eval_count: int | None = None
    eval_duration: int | None = None

    @property
    def tokens_per_second(self) -> float | None:
        """Generation speed, `eval_count / eval_duration * 1e9` (None when not reported)."""
        if not self.eval_count or not self.eval_duration:
            return None
        return self.eval_count / self.eval_duration * 1e9


class ChatMessage(Reply):
    """One chat message, sent or received."""

    role: str
    content: str = ""
    thinking: str | None = None
    images: tuple[str, ...] | None = None
    tool_calls: tuple[dict[str, Any], ...] | None = None
    tool_name: str | None = None

    def to_request(self) -> dict[str, Any]:
        """The JSON form Ollama expects (unset fields left out)."""
        return self.model_dump(exclude_none=True, mode="json")


def _with_metrics(data: Any) -> Any:
    if isinstance(data, dict) and data.get("done"):
        return {**data, "metrics": {k: data.get(k) for k in METRIC_FIELDS}}
    return data


class ChatChunk(Reply):
    """One line of a chat stream; the last has `done=True`, `done_reason` and `metrics`."""

    model: str = ""
    created_at: Time = None
    message: ChatMessage = ChatMessage(role="assistant")
    done: bool = False
    done_reason: str | None = None
    metrics: Metrics | None = None

    @model_validator(mode="before")
    @classmethod
    def _final_metrics(cls, data: Any) -> Any:
        return _with_metrics(data)

    @property
    def content(self) -> str:
        """The text this chunk adds."""
        return self.message.content


class GenerateChunk(Reply):
    """One line of a generate stream; the last has `done=True`, `done_reason` and `metrics`."""

    model: str = ""
    created_at: Time = None
    response: str = ""
    thinking: str | None = None
    done: bool = False
    done_reason: str | None = None
    context: tuple[int, ...] | None = None
    metrics: Metrics | None = None

    @model_validator(mode="before")
    @classmethod
    def _final_metrics(cls, data: Any) -> Any:
        return _with_metrics(data)


class ChatResult(Reply):
    """A whole chat reply, with the server's metrics and client-side timings (seconds)."""

    model: str
    content: str
    thinking: str = ""
    tool_calls: tuple[dict[str, Any], ...] = ()
    done_reason: str | None = None
    metrics: Metrics
    time_to_first_token: float | None = None
    elapsed: float


class GenerateResult(Reply):
    """A whole generate reply, with the server's metrics and client-side timings (seconds)."""

    model: str
    content: str
    thinking: str = ""
    done_reason: str | None = None
    context: tuple[int, ...] | None = None
    metrics: Metrics
    time_to_first_token: float | None = None
    elapsed: float


class EmbedResult(Reply):
    """Embedding vectors (L2-normalised by the server), one per input."""

    model: str = ""
    embeddings: list[list[float]]
    metrics: Metrics = Metrics()

    @model_validator(mode="before")
    @classmethod
    def _collect_metrics(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {**data, "metrics": {k: data.get(k) for k in METRIC_FIELDS}}
        return data
