"""Probe every instance of the desired fleet at once and return what was found.

Per instance a steady-state probe costs three requests made together (version, tags, ps), or two
for a plan of an instance that keeps no model loaded: a plan reads loaded models only for
`keepLoaded`, so with `loaded_where_planned` /api/ps is skipped there and the instance's loaded
state is reported unknown (`loaded_known` false, no model marked loaded). `/api/show` is asked
only for digests that neither the state directory's cache nor another instance of this run
already answered, since a show reply is fixed for a digest. One bad instance (unreachable,
unauthorized, missing secret) becomes a value; the others go on.

Every probe round is recorded in the state directory's history (one transaction per round), so
`plan`, `status`, `watch` and the Python API all feed the figures of `orc status` from here.
"""

from __future__ import annotations

import asyncio
import os
import re
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, NamedTuple, TypeVar

from reconciler import names
from reconciler.desired import DesiredFleet, DesiredInstance, SecretRef, TLSSettings
from reconciler.errors import ReconcilerError, SecretError, SecretRefused
from reconciler.gcthreshold import Thresholds, put_back, raise_threshold
from reconciler.manifest import resolve_secret
from reconciler.manifest.secretpolicy import SecretPolicy, check_tls_file
from reconciler.observed import Health, ObservedFleet, ObservedInstance, ObservedModel
from reconciler.ollama import (
    ClientConfig,
    ModelEntry,
    OllamaClient,
    OllamaError,
    OllamaTLSError,
    OllamaUnauthorized,
    RunningModel,
    ShowResponse,
    TLSConfig,
)
from reconciler.state import ProbeRecord, StateDir, to_ms

T = TypeVar("T")
ClientFactory = Callable[[ClientConfig], OllamaClient]
DEFAULT_MAX_IN_FLIGHT = 64
_SUMMARY_FORM = "#w"  # cached summaries from before `weights` was kept are asked again


@dataclass
class ShowCache:
    """Show replies by digest: the state directory's cache plus the replies of this run.

    Concurrent asks for one digest share one request, whichever instance asks first.
    """

    state: StateDir | None = None
    _known: dict[str, dict[str, Any]] = field(default_factory=dict)
    _pending: dict[str, asyncio.Future[dict[str, Any]]] = field(default_factory=dict)
    _new: dict[str, dict[str, Any]] = field(default_factory=dict)

    def preload(self, digests: list[str]) -> None:
        """Read what the state directory already knows about these digests."""
        missing = [d for d in digests if d not in self._known]
        if self.state is not None and missing:
            self._known.update(self.state.cached_shows(missing))

    def known(self, digest: str | None) -> dict[str, Any] | None:
        """The show data of a digest if it is at hand, without waiting."""
        return None if digest is None else self._known.get(digest)

    async def get(self, digest: str, fetch: Callable[[], Awaitable[dict[str, Any]]]) -> Any:
        """The show data of a digest, fetching it once if nobody has it yet."""
        if digest in self._known:
            return self._known[digest]
        if digest in self._pending:
            return await asyncio.shield(self._pending[digest])
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[digest] = future
        try:
            data = await fetch()
        except asyncio.CancelledError:
            future.cancel()
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # mark retrieved: other waiters re-raise it themselves
            raise
        finally:
            self._pending.pop(digest, None)
        self._known[digest] = self._new[digest] = data
        future.set_result(data)
        return data

    def save(self) -> None:
        """Write the replies fetched in this run to the state directory."""
        if self.state is not None and self._new:
            self.state.store_shows(self._new)
            self._new.clear()


def client_config(
    instance: DesiredInstance,
    env: Mapping[str, str] | None = None,
    policy: SecretPolicy | None = None,
) -> ClientConfig:
    """The client settings of an instance, secrets resolved under the runner's `policy`.

    Raises SecretError (SecretRefused for what the policy refuses), naming the field.
    """
    environ = os.environ if env is None else env
    rules = policy or SecretPolicy()
    token = None
    if instance.bearer_token is not None:
        token = resolve_secret(instance.bearer_token, environ, rules, "spec.auth.bearerToken")
    headers: dict[str, str] = {}
    secret_headers: set[str] = set()
    for key, value in instance.headers.items():
        if isinstance(value, SecretRef):
            headers[key] = resolve_secret(value, environ, rules, f"spec.headers.{key}")
            secret_headers.add(key)
        else:
            headers[key] = value
    return ClientConfig(
        instance=instance.name,
        base_url=instance.url,
        endpoints=dict(instance.endpoints),
        bearer_token=token,
        headers=headers,
        secret_headers=frozenset(secret_headers),
        tls=_tls(instance.tls, rules),
        timeout=instance.timeout,
        pull_timeout=instance.pull_timeout,
    )


def _tls(tls: TLSSettings, policy: SecretPolicy) -> TLSConfig:
    """The TLS files, checked: the client certificate and key are secrets, confined like
    secret files; a CA bundle is public (often under /etc/ssl) and only has to be a file."""
    files = (
        ("spec.tls.caFile", tls.ca_file, False),
        ("spec.tls.clientCert", tls.client_cert, True),
        ("spec.tls.clientKey", tls.client_key, True),
    )
    for field_name, path, confined in files:
        if path is not None:
            check_tls_file(path, policy, field_name, confined=confined)
    return TLSConfig(
        verify=tls.verify,
        ca_file=tls.ca_file,
        client_cert=tls.client_cert,
        client_key=tls.client_key,
    )


@dataclass
class Observer:
    """Probes instances concurrently, sharing one show cache and a bound on requests in flight."""

    state: StateDir | None = None
    client_factory: ClientFactory = OllamaClient
    max_in_flight: int = DEFAULT_MAX_IN_FLIGHT
    env: Mapping[str, str] | None = None
    wall: Callable[[], datetime] = lambda: datetime.now(UTC)  # stamps checked_at; not a timer
    parallelism: int | None = None  # instances probed at once; None: all, bounded by requests
    secrets: SecretPolicy = field(default_factory=SecretPolicy)  # the runner's rules
    history: bool = True  # record each round of probes in the state directory's history
    # ask /api/ps only of instances a plan needs it for (see `reads_loaded`); else of every one
    loaded_where_planned: bool = False

    def __post_init__(self) -> None:
        self.cache = ShowCache(self.state)
        self._names: dict[str, names.ModelName] = {}
        self._described: dict[tuple[Any, ...], tuple[dict[str, Any], _Description]] = {}
        self._slots = asyncio.Semaphore(self.max_in_flight)
        self._one_connection = False  # set per round by `fleet`
        self._instances = asyncio.Semaphore(max(1, self.parallelism or self.max_in_flight))

    async def fleet(self, desired: DesiredFleet) -> ObservedFleet:
        """Probe every instance of the desired fleet at once.

        With more instances than requests may be in flight, the slots are full whatever each
        instance does, so each instance's requests go one after another over one connection:
        no round takes longer, and the connection saved per instance is CPU saved. A smaller
        fleet asks each instance everything at once, in one round trip.
        """
        instances = desired.instances
        self._one_connection = len(instances) > self.max_in_flight
        with fewer_collections():
            found = await self._each(instances)
        self.cache.save()
        self.record(found)
        return ObservedFleet({o.name: o for o in found})

    async def _each(self, instances: Sequence[DesiredInstance]) -> list[ObservedInstance]:
        """`instance` of each, in order, by as many workers as instances may be probed at once:
        the same order and bound as one task per instance queueing for a slot, without a task
        and a queued waiter per instance of a fleet far larger than the bound."""
        found: list[ObservedInstance | None] = [None] * len(instances)
        todo = iter(enumerate(instances))

        async def worker() -> None:
            for index, desired in todo:
                found[index] = await self.instance(desired)

        width = min(len(instances), max(1, self.parallelism or self.max_in_flight))
        await asyncio.gather(*(worker() for _ in range(width)))
        return [o for o in found if o is not None]

    def record(self, found: Iterable[ObservedInstance]) -> None:
        """Append one round of probes to the history (one transaction), if there is a state."""
        if self.state is not None and self.history:
            self.state.record_probes([probe_record(o, self.wall) for o in found])

    async def instance(self, desired: DesiredInstance) -> ObservedInstance:
        """Probe one instance; failures become its health, never an exception."""
        async with self._instances:
            return await self._instance(desired)

    async def _instance(self, desired: DesiredInstance) -> ObservedInstance:
        try:
            config = client_config(desired, self.env, self.secrets)
        except SecretError as exc:
            reason = "SecretRefused" if isinstance(exc, SecretRefused) else "SecretMissing"
            return self._failed(desired, Health.UNKNOWN, reason, _message(exc))
        try:
            client = self.client_factory(config)  # checks header values and TLS files
        except OllamaError as exc:
            health, reason = _classify(exc)
            if health is Health.UNREACHABLE:  # nothing was sent: the settings are wrong
                health, reason = Health.UNKNOWN, "InvalidSettings"
            return self._failed(desired, health, reason, _message(exc))
        async with client:
            try:
                return await self._probe(desired, client)
            except OllamaError as exc:
                health, reason = _classify(exc)
                return self._failed(desired, health, reason, _message(exc))

    async def _probe(self, desired: DesiredInstance, client: OllamaClient) -> ObservedInstance:
        # An explicit `endpoints.health` is the liveness probe the operator asked for: it must
        # answer, and it gives the latency. Otherwise /api/version does both, optionally.
        ask_loaded = not self.loaded_where_planned or reads_loaded(desired)
        if self._one_connection:
            timed, tags, running, alive = await self._one_by_one(desired, client, ask_loaded)
        else:
            timed, tags, running, alive = await self._all_at_once(desired, client, ask_loaded)
        version, latency_ms = timed
        if isinstance(alive, float):
            latency_ms = round(alive * 1000, 1)
        entries, unparsable = self._parsable(tags)
        models = await self._models(client, entries, running or [], version)
        failed = ask_loaded and running is None
        notes = ["the running-models endpoint (ps) failed"] if failed else []
        if unparsable:
            notes.append(f"ignored models whose names orc cannot parse: {', '.join(unparsable)}")
        health = Health.HEALTHY if desired.enabled else Health.DISABLED
        if notes and desired.enabled:
            health = Health.DEGRADED
        return ObservedInstance(
            name=desired.name,
            url=desired.display_url,
            enabled=desired.enabled,
            health=health,
            reason="Reachable",
            message="; ".join(notes),
            version=version,
            latency_ms=latency_ms,
            models=models,
            checked_at=self.wall(),
            loaded_known=running is not None,  # unknown when /api/ps failed or was not asked
        )

    async def _all_at_once(
        self, desired: DesiredInstance, client: OllamaClient, ask_loaded: bool
    ) -> tuple[tuple[str | None, float | None], list[ModelEntry], list[RunningModel] | None, Any]:
        """The probe's requests at once, each on its own connection: one round trip in all."""
        # only the requests made get a task: a steady-state plan makes two per instance
        calls: list[Awaitable[Any]] = [
            self._timed(client.version()),
            self._limited(client.list_models()),
        ]
        if ask_loaded:
            calls.append(self._optional(client.running()))
        if "health" in desired.endpoints:
            calls.append(self._limited(client.health()))
        answers = await asyncio.gather(*calls, return_exceptions=True)
        timed, tags = answers[0], answers[1]
        running = answers[2] if ask_loaded else None
        alive = answers[-1] if "health" in desired.endpoints else None
        for required in (alive, tags):
            if isinstance(required, BaseException):
                raise required
        assert not isinstance(timed, BaseException)
        assert not isinstance(running, BaseException)
        assert not isinstance(tags, BaseException)
        return timed, tags, running, alive

    async def _one_by_one(
        self, desired: DesiredInstance, client: OllamaClient, ask_loaded: bool
    ) -> tuple[tuple[str | None, float | None], list[ModelEntry], list[RunningModel] | None, Any]:
        """The probe's requests one after another over one kept-alive connection, the required
        ones first (a failure ends the probe there, as it fails it either way)."""
        alive = await self._limited(client.health()) if "health" in desired.endpoints else None
        tags = await self._limited(client.list_models())
        timed = await self._timed(client.version())
        running = await self._optional(client.running()) if ask_loaded else None
        return timed, tags, running, alive

    async def _models(
        self,
        client: OllamaClient,
        tags: list[ModelEntry],
        running: list[RunningModel],
        version: str | None,
    ) -> tuple[ObservedModel, ...]:
        # A show reply is fixed for a digest on a given server version (older servers leave out
        # capabilities, for one); without a digest there is nothing to key it by.
        keys = {t.name: f"{t.digest}@{version or '?'}{_SUMMARY_FORM}" for t in tags if t.digest}
        self.cache.preload(list(keys.values()))

        async def show(entry: ModelEntry) -> dict[str, Any]:
            async def fetch() -> dict[str, Any]:
                return show_summary(await self._limited(client.show(entry.name)))

            try:
                key = keys.get(entry.name)
                data: dict[str, Any] = await (self.cache.get(key, fetch) if key else fetch())
            except OllamaError:
                return {}  # details stay unknown; the inventory itself is still right
            return data

        # a warm probe finds every show at hand: no task per model for those
        at_hand = [self.cache.known(keys.get(t.name)) for t in tags]
        missing = [t for t, data in zip(tags, at_hand, strict=True) if data is None]
        fetched = iter(await asyncio.gather(*(show(t) for t in missing)) if missing else ())
        shows = [data if data is not None else next(fetched) for data in at_hand]
        now = self.wall()
        loaded = {self._key(r.name): r for r in running if not _unloading(r, now)}
        return tuple(
            self._model(t, s, loaded.get(self._key(t.name)) if loaded else None)
            for t, s in zip(tags, shows, strict=True)
        )

    def _model(
        self, entry: ModelEntry, show: dict[str, Any], running: RunningModel | None
    ) -> ObservedModel:
        """The observed model of a tags entry. The instances of a fleet mostly list the same
        models with the same show reply: what comes of the reply is worked out once a round."""
        details = entry.details
        key = (
            id(show),
            entry.name,
            details.family if details else None,
            details.parameter_size if details else None,
            details.quantization_level if details else None,
        )
        known = self._described.get(key)
        if known is None or known[0] is not show:
            # the reply is kept with its description, so its id stays its own
            known = self._described[key] = (show, _described(entry, show))
        shown = known[1]
        stamp = entry.modified_at
        return _observed_model(
            (
                self._name(entry.name),
                entry.digest,
                entry.size,
                stamp.isoformat(" ") if stamp else None,
                *shown,
                running is not None,
                running.expires_at if running else None,
            )
        )

    def _name(self, name: str) -> names.ModelName:
        """`names.parse`, once per name a round meets (it raises for an invalid name)."""
        parsed = self._names.get(name)
        if parsed is None:
            parsed = self._names[name] = names.parse(name)
        return parsed

    def _parsable(self, tags: list[ModelEntry]) -> tuple[list[ModelEntry], list[str]]:
        """The entries whose names parse, and the names of those that do not (a proxy's odd
        ones)."""
        good: list[ModelEntry] = []
        bad: list[str] = []
        for entry in tags:
            try:
                self._name(entry.name)
            except names.InvalidModelName:
                bad.append(entry.name)
            else:
                good.append(entry)
        return good, bad

    def _key(self, name: str) -> str:
        try:
            return self._name(name).key
        except names.InvalidModelName:
            return name.lower()

    async def _limited(self, call: Awaitable[T]) -> T:
        async with self._slots:
            return await call

    async def _optional(self, call: Awaitable[T]) -> T | None:
        """`_limited`, None when the request failed."""
        try:
            async with self._slots:
                return await call
        except OllamaError:
            return None

    async def _timed(self, call: Awaitable[str]) -> tuple[str | None, float | None]:
        """The version and the round trip it took, waiting for a slot included (None, None
        when it failed): `_optional`, timed."""
        started = time.perf_counter()
        try:
            async with self._slots:
                version = await call
        except OllamaError:
            return None, None
        return version, round((time.perf_counter() - started) * 1000, 1)

    def _failed(
        self, desired: DesiredInstance, health: Health, reason: str, message: str
    ) -> ObservedInstance:
        if not desired.enabled:
            health, reason = Health.DISABLED, reason if reason != "Reachable" else "Unreachable"
        return ObservedInstance(
            name=desired.name,
            url=desired.display_url,
            enabled=desired.enabled,
            health=health,
            reason=reason,
            message=message,
            checked_at=self.wall(),
        )


_ROUND_THRESHOLD = 100_000
"""Allocations between two young-generation collections during a probe round."""


class _Rounds:
    """The probe rounds under way in the process (of any event loop), and the collector's
    thresholds to put back after the last one."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.count = 0
        self.restore: Thresholds | None = None

    def enter(self) -> None:
        with self.lock:
            if self.count == 0:
                self.restore = raise_threshold(_ROUND_THRESHOLD)
            self.count += 1

    def leave(self) -> None:
        with self.lock:
            self.count -= 1
            if self.count == 0 and self.restore is not None:
                put_back(self.restore, _ROUND_THRESHOLD)
                self.restore = None


_ROUNDS = _Rounds()


@contextmanager
def fewer_collections() -> Iterator[None]:
    """Collect cyclic garbage less often while a probe round runs.

    A round allocates tens of thousands of objects that all live on (replies, entries, observed
    models); with Python's default threshold the collector would go over them again and again as
    they age, a tenth of the round's CPU. Raising the first generation's threshold for the round
    leaves them to one collection after it. Rounds that overlap share one raise; thresholds that
    someone else set meanwhile, or a collector turned off by a threshold of 0, are left alone.
    """
    _ROUNDS.enter()
    try:
        yield
    finally:
        _ROUNDS.leave()


def probe_record(seen: ObservedInstance, wall: Callable[[], datetime]) -> ProbeRecord:
    """The history row of one probe; the reason and message are kept only when it failed."""
    up = seen.inventory_known
    return ProbeRecord(
        at_ms=to_ms(seen.checked_at or wall()),
        instance=seen.name,
        health=str(seen.health),
        up=up,
        latency_ms=seen.latency_ms,
        version=seen.version,
        reason=None if up else seen.reason or None,
        message=None if up else seen.message or None,
    )


def reads_loaded(desired: DesiredInstance) -> bool:
    """Whether a plan of the instance reads which models are loaded: only `keepLoaded` does."""
    return any(m.keep_loaded and m.state == "present" for m in desired.models)


def show_summary(show: ShowResponse) -> dict[str, Any]:
    """The part of a show reply worth caching: small, JSON-able, fixed for a digest."""
    details = show.details
    return {
        "capabilities": list(show.capabilities or []),
        "context_length": show.context_length,
        "system": show.system,
        "template": show.template,
        "parameters": dict(show.parameters),
        "family": details.family if details else None,
        "parameter_size": details.parameter_size if details else None,
        "quantization": details.quantization_level if details else None,
        "weights": weights_digest(show.modelfile),
    }


_FROM_BLOB = re.compile(r"^FROM\s+\S*sha256[-:]([0-9a-f]{64})\s*$", re.MULTILINE)


def weights_digest(modelfile: str) -> str | None:
    """The weights blob of a model: Ollama writes its Modelfile's `FROM` as the path of the
    model layer's blob (`FROM /root/.ollama/models/blobs/sha256-<hex>`); see
    docs/ollama-api.md, Weights files."""
    found = _FROM_BLOB.search(modelfile)
    return found.group(1) if found else None


_OBSERVED_FIELDS = tuple(f.name for f in fields(ObservedModel))
_PUT = tuple(getattr(ObservedModel, name).__set__ for name in _OBSERVED_FIELDS)


def _observed_model(values: tuple[Any, ...]) -> ObservedModel:
    """`ObservedModel(*values)`: the fields in their order, each set into its slot as the frozen
    dataclass's `__init__` sets it (there is no `__post_init__`), without the keyword call and
    the `object.__setattr__` per field, which cost as much CPU as the rest of describing a model
    (a round of 200 instances of 30 models describes 6,000)."""
    model: ObservedModel = object.__new__(ObservedModel)
    for put, value in zip(_PUT, values, strict=True):
        put(model, value)
    return model


class _Description(NamedTuple):
    """What a show reply (or, without one, the tags entry's details) says of a model."""

    family: str | None
    parameter_size: str | None
    quantization: str | None
    context_length: int | None
    capabilities: tuple[str, ...]
    system: str | None
    template: str | None
    parameters: dict[str, Any]
    weights: str | None


def _described(entry: ModelEntry, show: Mapping[str, Any]) -> _Description:
    """The description of a model by its show reply and its tags entry's details."""
    details = entry.details
    return _Description(
        family=show.get("family") or (details.family if details else None),
        parameter_size=show.get("parameter_size") or (details.parameter_size if details else None),
        quantization=show.get("quantization") or (details.quantization_level if details else None),
        context_length=show.get("context_length"),
        capabilities=tuple(show.get("capabilities") or ()),
        system=show.get("system") or None,
        template=show.get("template") or None,
        parameters=dict(show.get("parameters") or {}),
        weights=show.get("weights"),
    )


def _unloading(runner: RunningModel, now: datetime) -> bool:
    """Whether `/api/ps` lists a runner that is on its way out: unloading is asynchronous, and
    the server lists the runner, expiring at the moment of the unload, until it is gone (see
    docs/ollama-api.md, keep_alive, loading and unloading). Such a model counts as not loaded."""
    return runner.expires_at is not None and runner.expires_at <= now


def _message(exc: ReconcilerError) -> str:
    """The error without its `where` prefix: reports already name the instance."""
    return f"{exc.message} ({exc.hint})" if exc.hint else exc.message


def _classify(exc: OllamaError) -> tuple[Health, str]:
    if isinstance(exc, OllamaUnauthorized):
        return Health.UNAUTHORIZED, "Unauthorized"
    if isinstance(exc, OllamaTLSError):
        return Health.TLS_ERROR, "TLSError"
    return Health.UNREACHABLE, type(exc).__name__.removeprefix("Ollama")
