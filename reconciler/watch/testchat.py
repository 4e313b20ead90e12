"""The dashboard's Test chat: one chat with the daemon's desired fleet, streamed as NDJSON.

The instance is chosen as `orc chat-test` chooses it (`reconciler.chat.Fleet`: enabled, healthy,
has the model, best priority, failover before the first token). Each chat gets a fresh `Fleet`
over the last valid desired state, so a manifest change applies to the next chat and nothing is
left open between chats. Who may chat at all is http.py's decision; here the requests are
bounded: a small body, a prompt of at most `MAX_PROMPT` characters, one chat at a time per client
address and `MAX_RUNNING` in all.

The stream is one JSON object per line: `{"type": "chunk", "instance", "content"}` as the reply
arrives, then `{"type": "done", ...}` with the instance, timings and failovers (the same fields
as `orc chat-test --format json`, without the text already sent), or `{"type": "error", "error"}`.
Error texts come from the client, which masks every secret.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from reconciler import names
from reconciler.chat import Fleet
from reconciler.desired import DesiredFleet
from reconciler.errors import ReconcilerError
from reconciler.report.chat import chat_json
from reconciler.report.html import MAX_PROMPT
from reconciler.watch.logs import EventLog

MAX_BODY = 16 * 1024  # bytes of a POST /chat body
MAX_RUNNING = 2  # chats at once over all clients
CHAT_TIMEOUT = 120.0  # seconds for each instance's whole reply
NDJSON = "application/x-ndjson"

FleetFactory = Callable[[DesiredFleet], Fleet]


class ChatRequestError(ValueError):
    """A POST /chat body that cannot be served; the message says what is wrong."""


class ChatBodyTooLarge(ChatRequestError):
    """A POST /chat body over `MAX_BODY` bytes (the rest is not read)."""


@dataclass(frozen=True, slots=True)
class ChatAsk:
    """What the form sent: a model name (already checked) and a prompt."""

    model: str
    prompt: str


def parse_ask(body: bytes) -> ChatAsk:
    """The body `{"model": ..., "prompt": ...}` checked; ChatRequestError when it is not usable."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ChatRequestError("the body is not JSON") from exc
    if not isinstance(data, dict):
        raise ChatRequestError('the body must be a JSON object {"model": ..., "prompt": ...}')
    model, prompt = data.get("model"), data.get("prompt")
    if not isinstance(model, str) or not model.strip():
        raise ChatRequestError("model is missing")
    if not isinstance(prompt, str) or not prompt.strip():
        raise ChatRequestError("prompt is missing")
    if len(prompt) > MAX_PROMPT:
        raise ChatRequestError(f"the prompt is longer than {MAX_PROMPT} characters")
    try:
        names.parse(model.strip())
    except ReconcilerError as exc:
        raise ChatRequestError(f"model: {exc}") from exc
    return ChatAsk(model.strip(), prompt)


class TestChats:
    """Runs Test chats for the dashboard, a bounded number at once."""

    __test__ = False  # not a pytest class, whatever its name

    def __init__(
        self,
        desired: Callable[[], DesiredFleet | None],
        fleet: FleetFactory,
        *,
        max_running: int = MAX_RUNNING,
        timeout: float = CHAT_TIMEOUT,
        log: EventLog | None = None,
    ) -> None:
        self._desired = desired
        self._fleet = fleet
        self._max_running = max_running
        self._timeout = timeout
        self._log = log or EventLog()
        self._running: Counter[str] = Counter()

    @property
    def running(self) -> int:
        """Chats in progress."""
        return sum(self._running.values())

    def desired(self) -> DesiredFleet | None:
        """The fleet a chat would use now (None until valid manifests have been read)."""
        return self._desired()

    def admit(self, client: str) -> str | None:
        """Take a place for `client`; None when admitted, else why not (call `release` after)."""
        if self._running[client]:
            return "a Test chat from this address is still running: wait for it to finish"
        if self.running >= self._max_running:
            return f"{self._max_running} Test chats are running: try again in a moment"
        self._running[client] += 1
        return None

    def release(self, client: str) -> None:
        """Give back the place `admit` took."""
        self._running[client] -= 1
        if self._running[client] <= 0:
            del self._running[client]

    async def events(self, ask: ChatAsk, desired: DesiredFleet) -> AsyncIterator[bytes]:
        """The NDJSON lines of one chat; failures end the stream with an error line."""
        self._log.info("chat.started", model=ask.model)
        try:
            async with self._fleet(desired) as fleet:
                stream = fleet.chat_stream(
                    model=ask.model,
                    messages=[{"role": "user", "content": ask.prompt}],
                    timeout=self._timeout,
                )
                try:
                    async for chunk in stream:
                        if chunk.content:
                            part = {"instance": stream.instance, "content": chunk.content}
                            yield _line({"type": "chunk", **part})
                finally:
                    await stream.aclose()
                done = chat_json(stream.result)
                del done["content"], done["thinking"]
                self._log.info("chat.finished", model=ask.model, instance=done["instance"])
                yield _line({"type": "done", **done})
        except ReconcilerError as exc:
            self._log.warning("chat.failed", model=ask.model, error=str(exc))
            yield _line({"type": "error", "error": str(exc)})
        except Exception as exc:  # the daemon stays up; the page and the log say what broke
            self._log.error("chat.failed", model=ask.model, error=f"{type(exc).__name__}: {exc}")
            yield _line({"type": "error", "error": f"unexpected {type(exc).__name__}"})


def _line(event: dict[str, Any]) -> bytes:
    return (json.dumps(event, ensure_ascii=False) + "\n").encode()
