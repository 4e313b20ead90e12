"""The options of one chat or generate request, as one value: `ChatOptions`.

The same five settings (Ollama's model `options`, a `system` message, `keep_alive`, `think` and
`format`) travel from `Fleet.chat` through the failover loop to `OllamaClient.chat`; they are
declared here once. `ChatOptionArgs` is the same set as keyword arguments, so that the public
methods keep their keyword form (`client.chat(model, messages, system="...")`) and type-check.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypedDict

from reconciler.ollama.payloads import KeepAlive


class ChatOptionArgs(TypedDict, total=False):
    """`ChatOptions` as keyword arguments (every one optional)."""

    options: Mapping[str, Any] | None
    system: str | None
    keep_alive: KeepAlive | None
    think: bool | str | None
    format: str | Mapping[str, Any] | None


@dataclass(frozen=True, slots=True)
class ChatOptions:
    """How to answer, besides the model and the messages; None leaves the server's default.

    `options`: model parameters (`temperature`, `num_ctx`...); `system`: a leading system message
    (a system prompt for generate); `keep_alive`: seconds or a Go duration; `think`: thinking on,
    off or a level; `format`: `"json"` or a JSON Schema.
    """

    options: Mapping[str, Any] | None = None
    system: str | None = None
    keep_alive: KeepAlive | None = None
    think: bool | str | None = None
    format: str | Mapping[str, Any] | None = None

    def args(self) -> ChatOptionArgs:
        """The options as keyword arguments of `OllamaClient.chat` or `generate`."""
        return ChatOptionArgs(
            options=self.options,
            system=self.system,
            keep_alive=self.keep_alive,
            think=self.think,
            format=self.format,
        )
