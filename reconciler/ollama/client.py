"""`OllamaClient`: the async client for one Ollama server, the only way the project talks to one.

Each method is one endpoint of docs/ollama-api.md, returns typed results, and raises
only `OllamaError`s. Streams (pull, create, chat, generate) are async iterators that end only
after the server's final line (`success`, or `done: true`); anything short of that is a
transient `ProtocolError`, so a cut connection is never mistaken for a finished pull.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import aclosing
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

import httpx

from reconciler.names import ModelName
from reconciler.ollama.config import ClientConfig, display_url
from reconciler.ollama.diagnosis import Call, protocol_error
from reconciler.ollama.errors import ModelNameRejected, RequestRejected
from reconciler.ollama.payloads import KeepAlive, keep_alive_value, with_optional
from reconciler.ollama.replies import (
    model_list,
    parse_replies,
    parse_reply,
    until_created,
    until_done,
    until_success,
)
from reconciler.ollama.session import Session
from reconciler.ollama.streaming import Limits
from reconciler.ollama.types import ModelEntry, RunningModel, ShowResponse

# The chat, generate and progress models and options are imported by the calls that use them:
# a plan makes none of those calls (see docs/architecture.md, Performance).
if TYPE_CHECKING:
    from typing import Unpack

    from reconciler.ollama.chat_options import ChatOptionArgs, ChatOptions
    from reconciler.ollama.generation import (
        ChatChunk,
        ChatMessage,
        ChatResult,
        EmbedResult,
        GenerateChunk,
        GenerateResult,
    )
    from reconciler.ollama.progress import CreateProgress, PullProgress

    Messages = Sequence[ChatMessage | Mapping[str, Any]]

Model = str | ModelName


class OllamaClient:
    """Async client for one Ollama server; use as `async with OllamaClient(config) as client`.

    One pooled connection set is reused by every call. `transport` replaces the network (respx,
    an ASGI app, a test stream); then the TLS settings of the config are not used. `clock`
    measures latencies (seconds, monotonic).
    """

    def __init__(
        self,
        config: ClientConfig,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.perf_counter,
    ) -> None:
        self.config = config
        self._session = Session(config, transport)
        self._clock = clock

    def __repr__(self) -> str:
        return f"OllamaClient({self.config.instance!r}, {display_url(self.config.base_url)!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the pooled connections."""
        await self._session.aclose()

    async def health(self) -> float:
        """Probe the liveness endpoint; return the round-trip latency in seconds."""
        call = self._session.call("health", "health check")
        start = self._clock()
        await self._session.fetch(call)
        return self._clock() - start

    async def version(self) -> str:
        """The server's version string, e.g. `0.33.0` (`0.0.0` for source builds)."""
        call = self._session.call("version", "version")
        data = await self._session.fetch_json(call)
        version = data.get("version") if isinstance(data, dict) else None
        if not isinstance(version, str):
            raise protocol_error(call, "the reply has no 'version' string")
        return version

    async def list_models(self) -> list[ModelEntry]:
        """The installed models (`/api/tags`), newest first as the server sorts them."""
        call = self._session.call("listModels", "list models")
        data = await self._session.fetch_json(call)
        return parse_replies(call, ModelEntry, model_list(call, data))

    async def running(self) -> list[RunningModel]:
        """The models loaded in memory (`/api/ps`)."""
        call = self._session.call("ps", "list running models")
        data = await self._session.fetch_json(call)
        return parse_replies(call, RunningModel, model_list(call, data))

    async def show(self, model: Model) -> ShowResponse:
        """Details, capabilities, model_info and parameters of one installed model."""
        name = self._name(model, "show")
        call = self._session.call("show", "show", model=name)
        data = await self._session.fetch_json(call, {"model": name})
        return parse_reply(call, ShowResponse, data)

    async def pull(self, model: Model, *, insecure: bool = False) -> AsyncIterator[PullProgress]:
        """Pull a model, yielding progress; ends after `success` (ProtocolError otherwise)."""
        from reconciler.ollama.progress import PullProgress

        name = self._name(model, "pull")
        call = self._session.call("pull", "pull", model=name)
        body = {"model": name, "insecure": insecure, "stream": True}
        limits = Limits(self.config.stream_inactivity, self.config.pull_timeout)
        async with aclosing(self._session.stream(call, body, limits=limits)) as items:
            async for progress in until_success(call, items, PullProgress):
                yield progress

    async def has_blob(self, digest: str) -> bool:
        """Whether the server holds the blob `sha256:<hex>` (`HEAD /api/blobs/<digest>`)."""
        checked = _blob_digest(digest, self.config.instance)
        call, url = self._session.blob_call("check blob", "HEAD", checked)
        status = await self._session.send_raw(call, url, accept=(404,))
        return status != 404

    async def push_blob(
        self,
        digest: str,
        path: Path,
        *,
        progress: Callable[[int, int], None] | None = None,
        chunk_size: int = 1024 * 1024,
    ) -> None:
        """Upload a file as the blob `digest`, streamed from disk in chunks (never whole in
        memory); `progress(sent, total)` after each chunk. The server checks the digest and
        refuses a mismatch (400): the file changed since its digest was taken."""
        checked = _blob_digest(digest, self.config.instance)
        call, url = self._session.blob_call("upload blob", "POST", checked)
        try:
            total = (await asyncio.to_thread(path.stat)).st_size
        except OSError as exc:
            raise call.fail(RequestRejected, f"cannot read {path}: {exc.strerror or exc}") from exc

        async def chunks() -> AsyncIterator[bytes]:
            sent = 0
            with path.open("rb") as handle:
                while chunk := await asyncio.to_thread(handle.read, chunk_size):
                    sent += len(chunk)
                    yield chunk
                    if progress is not None:
                        progress(sent, total)

        await self._session.send_raw(call, url, content=chunks(), limit=self.config.pull_timeout)

    async def create(
        self,
        model: Model,
        *,
        from_: Model | None = None,
        files: Mapping[str, str] | None = None,
        system: str | None = None,
        template: str | None = None,
        parameters: Mapping[str, Any] | None = None,
        quantize: str | None = None,
    ) -> AsyncIterator[CreateProgress]:
        """Build a model on the server from `from_` (it may pull it) or from uploaded blobs
        (`files`: file name → `sha256:<hex>`, each pushed with `push_blob` first)."""
        from reconciler.ollama.progress import CreateProgress

        name = self._name(model, "create")
        base = self._name(from_, "create") if from_ is not None else None
        call = self._session.call("create", "create", model=name, base=base)
        head: dict[str, Any] = {"model": name}
        if base is not None:
            head["from"] = base
        if files:
            head["files"] = dict(files)
        if base is None and not files:
            raise call.fail(RequestRejected, "neither a base model nor files were given")
        head["stream"] = True
        body = with_optional(
            head,
            system=system,
            template=template,
            parameters=dict(parameters) if parameters is not None else None,
            quantize=quantize,
        )
        limits = Limits(self.config.stream_inactivity, self.config.pull_timeout)
        async with aclosing(self._session.stream(call, body, limits=limits)) as items:
            async for progress in until_created(call, items, CreateProgress):
                yield progress

    async def delete(self, model: Model) -> None:
        """Remove a model from the server (its blobs go when no other model uses them)."""
        name = self._name(model, "delete")
        call = self._session.call("delete", "delete", model=name)
        await self._session.fetch(call, {"model": name})

    async def copy(self, source: Model, destination: Model) -> None:
        """Copy a model under a new name (an existing destination is overwritten)."""
        src, dst = self._name(source, "copy"), self._name(destination, "copy")
        call = self._session.call("copy", "copy", model=src)
        await self._session.fetch(call, {"source": src, "destination": dst})

    async def load(
        self, model: Model, *, keep_alive: KeepAlive = -1, embedding: bool = False
    ) -> None:
        """Load a model into memory and keep it there for `keep_alive` (default: forever).

        Embedding models cannot be preloaded through generate, so they go through /api/embed
        with no input.
        """
        from reconciler.ollama.generation import EmbedResult, GenerateChunk

        name = self._name(model, "load")
        call = self._session.call("embed" if embedding else "generate", "load", model=name)
        body = {"model": name, "keep_alive": self._keep_alive(call, keep_alive)}
        data = await self._session.fetch_json(call, body, limit=self.config.load_timeout)
        parse_reply(call, EmbedResult if embedding else GenerateChunk, data)

    async def unload(self, model: Model) -> None:
        """Unload a model from memory (the model must exist; unloaded already is fine).

        /api/generate with keep_alive 0, for every kind of model: the unload runs before the
        capability checks, so embedding models go this way too (/api/embed would load the model
        first). Ollama evicts asynchronously, so /api/ps may list it briefly.
        """
        from reconciler.ollama.generation import GenerateChunk

        name = self._name(model, "unload")
        call = self._session.call("generate", "unload", model=name)
        data = await self._session.fetch_json(call, {"model": name, "keep_alive": 0})
        parse_reply(call, GenerateChunk, data)

    async def chat(
        self, model: Model, messages: Messages, **settings: Unpack[ChatOptionArgs]
    ) -> AsyncIterator[ChatChunk]:
        """Stream a chat reply chunk by chunk; the last chunk has `done=True` and the metrics.

        `settings` are those of `ChatOptions`; `system` comes first among the messages.
        """
        from reconciler.ollama.chat_options import ChatOptions
        from reconciler.ollama.generation import ChatChunk
        from reconciler.ollama.payloads import chat_messages

        name = self._name(model, "chat")
        call = self._session.call("chat", "chat", model=name)
        given = ChatOptions(**settings)
        body = self._body(
            call,
            {"model": name, "messages": chat_messages(messages, given.system), "stream": True},
            replace(given, system=None),
        )
        limits = Limits(self.config.timeout)
        async with aclosing(self._session.stream(call, body, limits=limits)) as items:
            async for chunk in until_done(call, items, ChatChunk):
                yield chunk

    async def chat_complete(
        self, model: Model, messages: Messages, **settings: Unpack[ChatOptionArgs]
    ) -> ChatResult:
        """The whole chat reply, with metrics and client-side time to first token."""
        from reconciler.ollama.completion import collect_chat

        chunks = self.chat(model, messages, **settings)
        return await collect_chat(chunks, self._clock, str(model))

    async def generate(
        self, model: Model, prompt: str, **settings: Unpack[ChatOptionArgs]
    ) -> AsyncIterator[GenerateChunk]:
        """Stream a completion of `prompt`; the last chunk has `done=True` and the metrics."""
        from reconciler.ollama.chat_options import ChatOptions
        from reconciler.ollama.generation import GenerateChunk

        name = self._name(model, "generate")
        call = self._session.call("generate", "generate", model=name)
        body = self._body(
            call, {"model": name, "prompt": prompt, "stream": True}, ChatOptions(**settings)
        )
        limits = Limits(self.config.timeout)
        async with aclosing(self._session.stream(call, body, limits=limits)) as items:
            async for chunk in until_done(call, items, GenerateChunk):
                yield chunk

    async def generate_complete(
        self, model: Model, prompt: str, **settings: Unpack[ChatOptionArgs]
    ) -> GenerateResult:
        """The whole completion, with metrics and client-side time to first token."""
        from reconciler.ollama.completion import collect_generate

        chunks = self.generate(model, prompt, **settings)
        return await collect_generate(chunks, self._clock, str(model))

    async def embed(
        self,
        model: Model,
        input: str | Sequence[str],
        *,
        truncate: bool | None = None,
        dimensions: int | None = None,
        keep_alive: KeepAlive | None = None,
    ) -> EmbedResult:
        """Embedding vectors of one text or of several."""
        from reconciler.ollama.generation import EmbedResult

        name = self._name(model, "embed")
        call = self._session.call("embed", "embed", model=name)
        body = with_optional(
            {"model": name, "input": input if isinstance(input, str) else list(input)},
            truncate=truncate,
            dimensions=dimensions,
            keep_alive=None if keep_alive is None else self._keep_alive(call, keep_alive),
        )
        return parse_reply(call, EmbedResult, await self._session.fetch_json(call, body))

    def _name(self, model: Model, operation: str) -> str:
        name = str(model).strip()
        if not name:
            raise ModelNameRejected(
                f"{operation} failed: the model name is empty", instance=self.config.instance
            )
        return name

    def _body(self, call: Call, body: dict[str, Any], given: ChatOptions) -> dict[str, Any]:
        """`body` with the options that are set, in the field order Ollama documents."""
        keep_alive = given.keep_alive
        return with_optional(
            body,
            system=given.system,
            options=dict(given.options) if given.options is not None else None,
            keep_alive=None if keep_alive is None else self._keep_alive(call, keep_alive),
            think=given.think,
            format=given.format,
        )

    def _keep_alive(self, call: Call, value: KeepAlive) -> int | float | str:
        try:
            return keep_alive_value(value)
        except ValueError as exc:
            hint = "use seconds (-1: forever) or a duration like '5m' or '1h30m'"
            raise call.fail(RequestRejected, str(exc), hint=hint) from exc


_BLOB_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def _blob_digest(digest: str, instance: str) -> str:
    """A blob digest as Ollama's blob endpoints take it, `sha256:<64 lowercase hex>`."""
    if not _BLOB_DIGEST.match(digest):
        raise RequestRejected(f"not a sha256 blob digest: {digest[:80]!r}", instance=instance)
    return digest
