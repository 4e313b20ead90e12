"""`Fleet`: the Python API for chatting with the best available instance of a fleet.

It keeps the last observation of each instance with the time it was made and probes again only
what is older than `max_age` seconds, so a program that chats in a loop costs one probe every few
seconds, not one per chat. One pooled client per instance is reused by every chat and closed with
the fleet. An instance found unreachable during a chat is marked so until its next probe, and the
next chats go straight to the others.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from reconciler import names
from reconciler.chat.attempt import ChatRequest
from reconciler.chat.result import FleetChatResult
from reconciler.chat.selection import Selection, select_candidates
from reconciler.chat.stream import ChatStream
from reconciler.desired import DesiredFleet, DesiredInstance
from reconciler.errors import ManifestError, UsageError
from reconciler.manifest import load_fleet
from reconciler.names import ModelName
from reconciler.observed import Health, ObservedFleet, ObservedInstance
from reconciler.ollama import ChatMessage, OllamaClient, OllamaError, OllamaUnreachable
from reconciler.probe import ClientFactory, Observer, client_config
from reconciler.state import StateDir

DEFAULT_MAX_AGE = 5.0
"""Seconds an observation is trusted before an instance is probed again."""

Messages = Sequence[ChatMessage | Mapping[str, Any]]


class Fleet:
    """The instances of a manifest fleet, chosen by priority and health for each chat.

    `client_factory` builds the client of an instance from its resolved settings (tests pass
    one with a fake transport); `env` is where SecretRefs `{env: NAME}` are looked up (default
    `os.environ`); `clock` gives monotonic seconds, for the age of observations and the timings
    of chats. Use `async with Fleet(...) as fleet` (or call `aclose()`) to close the clients.
    """

    def __init__(
        self,
        desired: DesiredFleet,
        *,
        client_factory: ClientFactory = OllamaClient,
        env: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_age: float = DEFAULT_MAX_AGE,
        state: StateDir | None = None,
    ) -> None:
        self.desired = desired
        self.max_age = max_age
        self._client_factory = client_factory
        self._env = env
        self._clock = clock
        self._observer = Observer(state=state, client_factory=client_factory, env=env)
        self._seen: dict[str, tuple[ObservedInstance, float]] = {}
        self._clients: dict[str, OllamaClient] = {}

    @classmethod
    def from_paths(
        cls,
        paths: Iterable[str | os.PathLike[str]],
        *,
        client_factory: ClientFactory = OllamaClient,
        env: Mapping[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        max_age: float = DEFAULT_MAX_AGE,
        state: StateDir | None = None,
    ) -> Fleet:
        """Load the manifests under `paths` (files or folders); raise ManifestError if invalid."""
        loaded = load_fleet([Path(p) for p in paths])
        loaded.raise_for_errors()
        if loaded.fleet is None:
            raise ManifestError("the manifests describe no fleet")
        return cls(
            loaded.fleet,
            client_factory=client_factory,
            env=env,
            clock=clock,
            max_age=max_age,
            state=state,
        )

    def __repr__(self) -> str:
        return f"Fleet({[i.name for i in self.instances]!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the clients of every instance chatted with."""
        clients, self._clients = list(self._clients.values()), {}
        await asyncio.gather(*(client.aclose() for client in clients))

    @property
    def instances(self) -> tuple[DesiredInstance, ...]:
        """The declared instances, by priority (lower first), then in declaration order."""
        return tuple(sorted(self.desired.instances, key=lambda i: i.priority))

    def instance(self, name: str) -> DesiredInstance:
        """The declared instance `name`; UsageError naming the declared ones if there is none."""
        found = self.desired.instance(name)
        if found is None:
            declared = ", ".join(i.name for i in self.instances) or "none"
            raise UsageError(f"no instance named {name!r} in the manifests (declared: {declared})")
        return found

    async def status(self) -> ObservedFleet:
        """Probe every instance now and return what was found."""
        seen = await self._observe(self.desired.instances, refresh=True)
        return ObservedFleet({i.name: seen[i.name] for i in self.desired.instances})

    async def select(self, model: str | ModelName, *, instance: str | None = None) -> Selection:
        """The instances a chat with `model` would try, best first, and those passed over."""
        wanted = model if isinstance(model, ModelName) else names.parse(model)
        if instance is not None:
            pool: tuple[DesiredInstance, ...] = (self.instance(instance),)
        else:
            pool = tuple(i for i in self.desired.instances if i.enabled)
        seen = await self._observe(pool)
        return select_candidates(self.desired.instances, seen, wanted, forced=instance)

    def chat_stream(
        self,
        *,
        model: str | ModelName,
        messages: Messages,
        instance: str | None = None,
        system: str | None = None,
        options: Mapping[str, Any] | None = None,
        timeout: float | None = None,
        think: bool | str | None = None,
        format: str | Mapping[str, Any] | None = None,
        keep_alive: int | float | str | None = None,
    ) -> ChatStream:
        """Chat on the best available instance, chunk by chunk: `async for chunk in stream`.

        Fails over to the next instance only before the first chunk; `stream.result` has the
        instance, timings and failovers at the end. `instance` forces one instance; `timeout`
        bounds each instance's whole reply, in seconds.
        """
        request = _request(
            model,
            messages,
            system=system,
            options=options,
            timeout=timeout,
            think=think,
            format=format,
            keep_alive=keep_alive,
        )
        return self._stream(request, instance, restart=False)

    async def chat(
        self,
        *,
        model: str | ModelName,
        messages: Messages,
        instance: str | None = None,
        system: str | None = None,
        options: Mapping[str, Any] | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - per instance, so failover goes on
        think: bool | str | None = None,
        format: str | Mapping[str, Any] | None = None,
        keep_alive: int | float | str | None = None,
    ) -> FleetChatResult:
        """Chat on the best available instance and return the whole reply.

        Raises `NoInstanceAvailable` (every instance passed over or failed, each with its reason)
        or `ChatFailed` (the request was refused, e.g. 400). Other arguments as `chat_stream`.
        """
        request = _request(
            model,
            messages,
            system=system,
            options=options,
            timeout=timeout,
            think=think,
            format=format,
            keep_alive=keep_alive,
        )
        stream = self._stream(request, instance, restart=True)
        async for _ in stream:
            pass
        return stream.result

    def _stream(self, request: ChatRequest, instance: str | None, *, restart: bool) -> ChatStream:
        if instance is not None:
            self.instance(instance)  # an unknown name is a usage error, raised at once

        async def select() -> Selection:
            return await self.select(request.model, instance=instance)

        return ChatStream(
            request,
            select=select,
            client_for=self._client,
            clock=self._clock,
            on_failure=self._demote,
            restart_after_output=restart,
        )

    def _client(self, instance: DesiredInstance) -> OllamaClient:
        client = self._clients.get(instance.name)
        if client is None:
            client = self._client_factory(client_config(instance, self._env))
            self._clients[instance.name] = client
        return client

    async def _observe(
        self, instances: Iterable[DesiredInstance], *, refresh: bool = False
    ) -> dict[str, ObservedInstance]:
        wanted = list(instances)
        now = self._clock()
        stale = [i for i in wanted if refresh or self._stale(i.name, now)]
        found = await asyncio.gather(*(self._observer.instance(i) for i in stale))
        self._observer.cache.save()
        for observed in found:
            self._seen[observed.name] = (observed, self._clock())
        return {i.name: self._seen[i.name][0] for i in wanted}

    def _stale(self, name: str, now: float) -> bool:
        known = self._seen.get(name)
        return known is None or now - known[1] > self.max_age

    def _demote(self, instance: DesiredInstance, error: OllamaError) -> None:
        """Remember until the next probe that an instance stopped answering."""
        known = self._seen.get(instance.name)
        if known is None or not isinstance(error, OllamaUnreachable):
            return
        message = error.message
        down = replace(known[0], health=Health.UNREACHABLE, reason="Unreachable", message=message)
        self._seen[instance.name] = (down, known[1])


def _request(
    model: str | ModelName,
    messages: Messages,
    *,
    system: str | None,
    options: Mapping[str, Any] | None,
    timeout: float | None,
    think: bool | str | None,
    format: str | Mapping[str, Any] | None,
    keep_alive: int | float | str | None,
) -> ChatRequest:
    """The request `chat` and `chat_stream` send, the model name parsed once."""
    return ChatRequest(
        model if isinstance(model, ModelName) else names.parse(model),
        messages,
        system=system,
        options=options,
        think=think,
        format=format,
        keep_alive=keep_alive,
        timeout=timeout,
    )
