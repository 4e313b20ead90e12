"""Deterministic model output for the simulator: what a model "says", and how fast it says it.

Replies are canned but sensible: a prompt asking to reply with a word gets that word ("Reply with
the single word OK." → "OK"); `format: json` gets a JSON object; a tool whose name the user
mentions is called; thinking models think first. Text is split into tokens losslessly, and tokens
are released on a schedule set by the instance's `first_token_delay` and `token_rate`, so metrics
(`eval_count / eval_duration`) and wall-clock timing agree.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler.testing.spec import ModelSpec

_TOKEN = re.compile(r"\s*(?:[A-Za-z0-9_']+|[^\sA-Za-z0-9_'])|\s+")
_WORD_REQUEST = re.compile(
    r"(?i)\b(?:reply|respond|answer)\s+(?:only\s+|just\s+)?with\s+(?:only\s+|just\s+|exactly\s+)?"
    r"(?:the\s+|a\s+)?(?:single\s+|one\s+)?(?:word\s+)?[\"'“‘`]?([A-Za-z0-9_-]+)"
)
_SAY = re.compile(r"(?i)^\s*say\s+[\"'“‘`]?([A-Za-z0-9_-]+)")
_PROSE = (
    "This is a simulated reply from {model}. The simulator streams canned text token by token, "
    "so timing and metrics behave like a real server while the words stay predictable.",
    "Hello! I am {model}, running on a simulated Ollama server. I can answer questions, "
    "summarise text and help with code, although every answer here is a deterministic stand-in.",
    "Here is a short answer from {model}: the request was received, the model was loaded, and "
    "this response was generated at the configured token rate for testing purposes.",
)
_CODE = (
    "Here is an example in Python:\n\n```python\ndef greet(name: str) -> str:\n"
    '    return f"Hello, {{name}}!"\n```\n\nThis function returns a greeting ({model}).'
)
_THINKING = "The user asked something; a short, direct answer is best. Let me answer clearly."


def tokenize(text: str) -> list[str]:
    """Split `text` into tokens (words with their leading space, punctuation); lossless."""
    return _TOKEN.findall(text)


@dataclass(frozen=True)
class Reply:
    """What the model produces for one request: thinking and content tokens, tool calls."""

    content: tuple[str, ...]
    thinking: tuple[str, ...] = ()
    tool_calls: tuple[dict[str, Any], ...] = ()
    done_reason: str = "stop"
    prompt_tokens: int = 1

    @property
    def eval_count(self) -> int:
        """Tokens generated (thinking included), at least one."""
        return max(1, len(self.content) + len(self.thinking))


@dataclass(frozen=True)
class Ask:
    """The parts of a generate/chat request that decide the reply."""

    model: str
    spec: ModelSpec
    user_text: str
    prompt_text: str
    think: bool = False
    options: Mapping[str, Any] = field(default_factory=dict)
    format: Any = None
    tools: Sequence[Any] = ()


def compose(ask: Ask) -> Reply:
    """The deterministic reply to `ask`, limits (`num_predict`, `stop`) applied."""
    prompt_tokens = max(1, len(tokenize(ask.prompt_text)) + 4)
    call = _tool_call(ask)
    thinking = tuple(tokenize(_THINKING)) if ask.think else ()
    if call is not None:
        return Reply((), thinking, (call,), "stop", prompt_tokens)
    text, reason = _apply_stop(_answer(ask), ask.options.get("stop"))
    content = tuple(tokenize(text))
    limit = ask.options.get("num_predict")
    if isinstance(limit, int | float) and 0 < limit < len(thinking) + len(content):
        budget = int(limit)
        thinking, content = thinking[:budget], content[: max(0, budget - len(thinking))]
        reason = "length"
    return Reply(content, thinking, (), reason, prompt_tokens)


def _answer(ask: Ask) -> str:
    word = _WORD_REQUEST.search(ask.user_text) or _SAY.search(ask.user_text)
    if ask.format is not None and ask.format != "":
        value = word.group(1) if word else f"simulated reply from {ask.model}"
        return json.dumps({"reply": value})
    if word:
        return word.group(1)
    if "insert" in ask.spec.capabilities and re.search(
        r"(?i)\b(code|function|python)\b", ask.user_text
    ):
        return _CODE.format(model=ask.model)
    choice = int(hashlib.sha256(f"{ask.model}\n{ask.user_text}".encode()).hexdigest(), 16)
    return _PROSE[choice % len(_PROSE)].format(model=ask.model)


def _apply_stop(text: str, stop: Any) -> tuple[str, str]:
    stops = [stop] if isinstance(stop, str) else [s for s in stop or [] if isinstance(s, str) and s]
    cut = min((text.find(s) for s in stops if s in text), default=-1)
    return (text[:cut], "stop") if cut >= 0 else (text, "stop")


def _tool_call(ask: Ask) -> dict[str, Any] | None:
    lowered = ask.user_text.lower()
    for index, tool in enumerate(ask.tools):
        function = tool.get("function", {}) if isinstance(tool, dict) else {}
        name = function.get("name")
        if not isinstance(name, str) or not name:
            continue
        if name.lower() in lowered or name.replace("_", " ").lower() in lowered:
            digest = hashlib.sha256(f"{ask.user_text}\n{name}".encode()).hexdigest()
            arguments = _placeholder_arguments(function.get("parameters"))
            return {
                "id": f"call_{digest[:8]}",
                "function": {"index": index, "name": name, "arguments": arguments},
            }
    return None


def _placeholder_arguments(parameters: Any) -> dict[str, Any]:
    if not isinstance(parameters, dict):
        return {}
    properties = parameters.get("properties") or {}
    required = parameters.get("required") or list(properties)
    samples = {"integer": 1, "number": 1.0, "boolean": True, "array": [], "object": {}}
    out: dict[str, Any] = {}
    for key in required:
        kind = (properties.get(key) or {}).get("type", "string")
        out[key] = samples.get(kind, "example") if isinstance(kind, str) else "example"
    return out


@dataclass(frozen=True)
class Pace:
    """Token timing: the first token after `first_token_delay`, then `token_rate` per second."""

    token_rate: float
    first_token_delay: float

    def eval_duration_ns(self, count: int) -> int:
        """Nanoseconds to generate `count` tokens: `count / token_rate`."""
        return int(count / self.token_rate * 1e9)

    @property
    def prompt_eval_ns(self) -> int:
        """Nanoseconds of prompt evaluation (the time to the first token)."""
        return max(1, int(self.first_token_delay * 1e9))


async def paced(reply: Reply, pace: Pace) -> AsyncIterator[tuple[str, str]]:
    """Yield `("thinking"|"content", token)` at the pace's schedule (no drift accumulates)."""
    loop = asyncio.get_running_loop()
    start = loop.time() + pace.first_token_delay
    tokens = [("thinking", t) for t in reply.thinking] + [("content", t) for t in reply.content]
    for index, item in enumerate(tokens):
        delay = start + index / pace.token_rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        yield item
    if not tokens:
        await asyncio.sleep(max(0.0, start - loop.time()))


def embedding(text: str, dimensions: int) -> list[float]:
    """A deterministic, L2-normalised vector for `text`."""
    values: list[float] = []
    counter = 0
    while len(values) < dimensions:
        block = hashlib.sha256(f"{counter}:{text}".encode()).digest()
        values.extend((byte - 127.5) / 127.5 for byte in block)
        counter += 1
    vector = values[:dimensions]
    norm = sum(v * v for v in vector) ** 0.5 or 1.0
    return [round(v / norm, 7) for v in vector]


def context_tokens(tokens: Sequence[str]) -> list[int]:
    """Token ids for generate's `context` (stable per token text)."""
    return [int(hashlib.sha256(t.encode()).hexdigest()[:8], 16) % 128000 for t in tokens]
