"""`Fleet`: the Python API for chatting with the best available instance of a fleet.

It keeps the last observation of each instance with the time it was made and probes again only
what is older than `max_age` seconds, so a program that chats in a loop costs one probe every few
seconds, not one per chat. Concurrent chats that need the same instance's observation share one
probe in flight, failed or not. One pooled client per instance is reused by every chat and closed
with the fleet; its pool holds the instance's `maxConcurrent` chats (default
`DEFAULT_MAX_CONCURRENT`) plus a few connections for probes. Which instance takes each chat is the
`Balancer`'s choice (see chat/balance.py): by default (`policy="adaptive"`) each instance's window
and pace are learned from its answers (chat/pacing.py) and the chats beyond the windows of the
best priority tier are held by the `Admission` until a place frees there; circuits keep every
chat away from an instance as soon as it is found down.

Given a state directory (`state_dir=` or `state=`), the fleet records every probe round and every
chat (one row per instance tried: answered, failed or refused) in its history, as `orc
chat-test` does; `orc status` shows the figures drawn from it.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from reconciler import names
from reconciler.chat.admission import Admission
from reconciler.chat.attempt import ChatRequest
from reconciler.chat.balance import Balancer, CircuitPolicy, InstanceLoad, Policy, limit
from reconciler.chat.failover import ChatStream
from reconciler.chat.result import (
    ChatFailed,
    FleetChatResult,
    NoInstanceAvailable,
    fails_over,
    failure_reason,
)
from reconciler.chat.selection import Selection, select_candidates
from reconciler.desired import DesiredFleet, DesiredInstance
from reconciler.errors import ManifestError, UsageError
from reconciler.manifest import load_fleet
from reconciler.manifest.secretpolicy import SecretPolicy
from reconciler.names import ModelName
from reconciler.observed import ObservedFleet, ObservedInstance
from reconciler.ollama import ChatMessage, ChatOptionArgs, ChatOptions, OllamaClient
from reconciler.probe import ClientFactory, Observer, client_config
from reconciler.state import ChatOutcome, ChatRecord, StateDir, to_ms

if TYPE_CHECKING:
    from typing import Unpack

DEFAULT_MAX_AGE = 5.0
"""Seconds an observation is trusted before an instance is probed again."""

DEFAULT_WAIT_LIMIT = 30.0
"""Seconds a chat waits for a free slot when every candidate is at its `maxConcurrent`."""

PROBE_CONNECTIONS = 4
"""Connections of an instance's pool kept beyond its chats, so that probes never wait for one."""

Messages = Sequence[ChatMessage | Mapping[str, Any]]


@dataclass(frozen=True, slots=True)
class FleetStatus(ObservedFleet):
    """What a probe found, plus the load and circuit of each instance as this `Fleet` sees them."""

    load: Mapping[str, InstanceLoad] = field(default_factory=dict)


class Fleet:
    """The instances of a manifest fleet, chosen by priority and health for each chat.

    `client_factory` builds the client of an instance from its resolved settings (tests pass
    one with a fake transport); `env` is where SecretRefs `{env: NAME}` are looked up (default
    `os.environ`); `secrets` is the runner's `SecretPolicy` (default: any variable, files
    anywhere, as for a fleet built in code; `from_paths` confines files to the manifests'
    folders); `clock` gives monotonic seconds, for the age of observations and the timings
    of chats. `state_dir` (a folder, created when needed) or `state` (an open `StateDir`) keeps
    the show cache there and records every probe and chat in its history. Use `async with
    Fleet(...) as fleet` (or call `aclose()`) to close the clients (and `state_dir`).
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
        policy: Policy = "adaptive",
        circuit: CircuitPolicy | None = None,
        wait_limit: float = DEFAULT_WAIT_LIMIT,
        secrets: SecretPolicy | None = None,
        state_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.desired = desired
        self.max_age = max_age
        self._client_factory = client_factory
        self._env = env
        self._secrets = secrets or SecretPolicy()
        self._clock = clock
        self._owned = StateDir(Path(state_dir)) if state is None and state_dir is not None else None
        self.state = state or self._owned
        self._observer = Observer(
            state=self.state, client_factory=client_factory, env=env, secrets=self._secrets
        )
        self._unrecorded: list[ObservedInstance] = []
        self._seen: dict[str, tuple[ObservedInstance, float]] = {}
        self._probes: dict[str, asyncio.Future[ObservedInstance]] = {}
        self._clients: dict[str, OllamaClient] = {}
        balancer = Balancer(clock, policy=policy, circuit_policy=circuit or CircuitPolicy())
        self.admission = Admission(balancer, wait_limit=wait_limit)

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
        policy: Policy = "adaptive",
        circuit: CircuitPolicy | None = None,
        wait_limit: float = DEFAULT_WAIT_LIMIT,
        secrets: SecretPolicy | None = None,
        state_dir: str | os.PathLike[str] | None = None,
    ) -> Fleet:
        """Load the manifests under `paths` (files or folders); raise ManifestError if invalid.

        Secret files must be inside `paths` unless `secrets` says otherwise.
        """
        manifests = [Path(p) for p in paths]
        loaded = load_fleet(manifests)
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
            policy=policy,
            circuit=circuit,
            wait_limit=wait_limit,
            secrets=secrets or SecretPolicy.for_manifests(manifests),
            state_dir=state_dir,
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
        """Close the clients of every instance chatted with (and the `state_dir` opened)."""
        clients, self._clients = list(self._clients.values()), {}
        await asyncio.gather(*(client.aclose() for client in clients))
        if self._owned is not None:
            self._owned.close()

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

    async def status(self) -> FleetStatus:
        """Probe every instance now; return what was found, with each one's load and circuit."""
        seen = await self._observe(self.desired.instances, refresh=True)
        return FleetStatus({i.name: seen[i.name] for i in self.desired.instances}, self.load())

    def load(self) -> dict[str, InstanceLoad]:
        """The chats in flight, the time-to-first-token average and the circuit of each instance."""
        return self.admission.balancer.snapshot(self.desired.instances)

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
        timeout: float | None = None,
        **settings: Unpack[ChatOptionArgs],
    ) -> ChatStream:
        """Chat on the best available instance, chunk by chunk: `async for chunk in stream`.

        Fails over to the next instance only before the first chunk; `stream.result` has the
        instance, timings and failovers at the end. `instance` forces one instance; `timeout`
        bounds each instance's whole reply, in seconds; `settings` are those of `ChatOptions`
        (`system`, `options`, `think`, `format`, `keep_alive`).
        """
        return self._stream(_request(model, messages, timeout, settings), instance, restart=False)

    async def chat(
        self,
        *,
        model: str | ModelName,
        messages: Messages,
        instance: str | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 - per instance, so failover goes on
        **settings: Unpack[ChatOptionArgs],
    ) -> FleetChatResult:
        """Chat on the best available instance and return the whole reply.

        Raises `NoInstanceAvailable` (every instance passed over or failed, each with its reason)
        or `ChatFailed` (the request was refused, e.g. 400). Other arguments as `chat_stream`.
        """
        stream = self._stream(_request(model, messages, timeout, settings), instance, restart=True)
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
            restart_after_output=restart,
            admission=self.admission,
            on_done=self._record_chat if self.state is not None else None,
        )

    def _record_chat(self, stream: ChatStream, error: BaseException | None) -> None:
        """Append the attempts of a finished chat to the history."""
        if self.state is not None:
            at_ms = to_ms(datetime.now(UTC))
            self.state.record_chats(chat_records(stream, error, at_ms))

    def _client(self, instance: DesiredInstance) -> OllamaClient:
        client = self._clients.get(instance.name)
        if client is None:
            pool = limit(instance) + PROBE_CONNECTIONS
            config = client_config(instance, self._env, self._secrets)
            client = self._client_factory(replace(config, max_connections=pool))
            self._clients[instance.name] = client
        return client

    async def _observe(
        self, instances: Iterable[DesiredInstance], *, refresh: bool = False
    ) -> dict[str, ObservedInstance]:
        wanted = list(instances)
        now = self._clock()
        stale = [i for i in wanted if refresh or self._stale(i.name, now)]
        await asyncio.gather(*(self._probe(i) for i in stale))
        done, self._unrecorded = self._unrecorded, []
        self._observer.record(done)  # the probes made since the last time, in one transaction
        return {i.name: self._seen[i.name][0] for i in wanted}

    async def _probe(self, instance: DesiredInstance) -> ObservedInstance:
        """Probe `instance`, or join the probe of it already in flight (its failure too)."""
        flight = self._probes.get(instance.name)
        if flight is None:
            flight = asyncio.ensure_future(self._probe_now(instance))
            self._probes[instance.name] = flight
            flight.add_done_callback(lambda _: self._probes.pop(instance.name, None))
        return await asyncio.shield(flight)  # a cancelled caller leaves it to the others

    async def _probe_now(self, instance: DesiredInstance) -> ObservedInstance:
        observed = await self._observer.instance(instance)
        self._observer.cache.save()
        self._seen[observed.name] = (observed, self._clock())
        self._unrecorded.append(observed)
        return observed

    def _stale(self, name: str, now: float) -> bool:
        known = self._seen.get(name)
        return known is None or now - known[1] > self.max_age


def chat_records(stream: ChatStream, error: BaseException | None, at_ms: int) -> list[ChatRecord]:
    """The history rows of a finished chat: one per instance tried, in the order tried."""
    model = stream.request.model.display
    tried = [f for f in stream.failovers if f.tried]
    rows = [
        ChatRecord(at_ms, f.instance, model, ChatOutcome.FAILED, failovers=n, reason=f.reason)
        for n, f in enumerate(tried)
    ]
    if error is None:
        result = stream.result
        ttft = result.time_to_first_token
        rows.append(
            ChatRecord(
                at_ms,
                result.instance,
                model,
                ChatOutcome.OK,
                ttft_ms=None if ttft is None else round(ttft * 1000, 1),
                tokens_per_second=result.tokens_per_second,
                failovers=len(result.failovers),
            )
        )
    elif isinstance(error, ChatFailed) and stream.last_tried is not None:
        outcome = ChatOutcome.FAILED if fails_over(error.error) else ChatOutcome.REFUSED
        reason = failure_reason(error.error)
        rows.append(
            ChatRecord(at_ms, stream.last_tried, model, outcome, None, None, len(tried), reason)
        )
    elif isinstance(error, NoInstanceAvailable) and not rows:
        rows.append(ChatRecord(at_ms, "", model, ChatOutcome.UNAVAILABLE, reason="no instance"))
    return rows


def _request(
    model: str | ModelName, messages: Messages, timeout: float | None, settings: ChatOptionArgs
) -> ChatRequest:
    """The request `chat` and `chat_stream` send, the model name parsed once."""
    wanted = model if isinstance(model, ModelName) else names.parse(model)
    return ChatRequest(wanted, messages, ChatOptions(**settings), timeout)
