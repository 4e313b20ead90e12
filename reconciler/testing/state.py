"""The state of one simulated server, readable by tests: models, runners, blobs, request log.

Mirrors what Ollama keeps: installed manifests (name → model, with `modified_at`), loaded
runners with their expiry (`/api/ps`; which of them stay is decided in residency.py), the blob
store (shared between models, partially downloaded blobs included, so an interrupted pull
resumes), plus a log of every request.
Times are Unix nanoseconds from an injectable clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from reconciler import names
from reconciler.testing.goformat import MAX_DURATION_NS
from reconciler.testing.residency import Residency
from reconciler.testing.spec import Layer, ModelSpec

DEFAULT_KEEP_ALIVE_NS = 5 * 60 * 1_000_000_000
DEFAULT_NUM_CTX = 4096


@dataclass
class InstalledModel:
    """One manifest on the server: its name as stored, content, and modification time."""

    name: names.ModelName
    spec: ModelSpec
    modified_ns: int

    @property
    def display(self) -> str:
        """The shortest name, always with the tag (`llama3.2:latest`)."""
        return self.name.display

    @property
    def digest(self) -> str:
        """Bare hex manifest digest."""
        return self.spec.digest

    @property
    def size(self) -> int:
        """Bytes on disk (layers plus config)."""
        return self.spec.size


@dataclass
class LoadedModel:
    """A runner in memory, as `/api/ps` lists it."""

    model: InstalledModel
    expires_ns: int
    context_length: int = DEFAULT_NUM_CTX
    session_ns: int = DEFAULT_KEEP_ALIVE_NS  # the keep-alive it was given (eviction order)
    gone_ns: int | None = None  # while unloading: when it leaves `/api/ps`

    @property
    def memory(self) -> int:
        """Runner memory: weights plus a KV cache growing with the context length."""
        kv_cache = self.context_length * self.model.spec.embedding_length * 8
        return self.model.size + kv_cache


@dataclass
class SimState:
    """Everything a simulated server knows; tests read it, handlers change it."""

    clock: Callable[[], int] = time.time_ns
    models: dict[str, InstalledModel] = field(default_factory=dict)
    blobs: dict[str, int] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    endpoints: list[str] = field(default_factory=list)
    max_loaded: int | None = None
    memory: int | None = None
    unload_delay_ns: int = 0
    uploads: dict[str, int] = field(default_factory=dict)  # pushed blobs: bare hex → bytes
    runners: Residency = field(init=False)

    def __post_init__(self) -> None:
        self.runners = Residency(self.clock, self.max_loaded, self.memory, self.unload_delay_ns)

    @property
    def loaded(self) -> dict[str, LoadedModel]:
        """Runners serving requests, by display name (not those expired or being unloaded)."""
        return self.runners.active()

    @property
    def listed(self) -> list[LoadedModel]:
        """The runners `/api/ps` lists: those serving and those still being unloaded."""
        return self.runners.listed()

    def count(self, path: str) -> int:
        """How many requests were made to `path` (relative to the path prefix)."""
        return sum(1 for _, requested in self.requests if requested == path)

    def endpoint_count(self, endpoint: str) -> int:
        """How many requests reached the handler of a logical endpoint (`chat`, `pull`...)."""
        return self.endpoints.count(endpoint)

    def find(self, name: str | names.ModelName) -> InstalledModel | None:
        """The installed model `name` denotes (case-insensitive, default tag), if any."""
        try:
            wanted = name if isinstance(name, names.ModelName) else names.parse(name)
        except names.InvalidModelName:
            return None
        return next((m for m in self.models.values() if m.name == wanted), None)

    def install(self, name: names.ModelName, spec: ModelSpec) -> InstalledModel:
        """Write a manifest for `name` (an existing name keeps its casing); blobs complete."""
        existing = self.find(name)
        stored = existing.name if existing else name
        if existing:
            del self.models[existing.display]
        model = InstalledModel(stored, spec, self._fresh_time())
        self.models[model.display] = model
        for blob in spec.blobs:
            self.blobs[blob.digest] = blob.size
        return model

    def remove(self, model: InstalledModel) -> list[Layer]:
        """Delete a manifest and the blobs no other model uses; returns those blobs.

        As in Ollama, the model's runner is left alone: it stays in memory (and in `/api/ps`)
        until its keep-alive ends or a load evicts it.
        """
        self.models.pop(model.display, None)
        orphans = self.unused_blobs(model.spec.blobs)
        for blob in orphans:
            self.blobs.pop(blob.digest, None)
        return orphans

    def unused_blobs(self, blobs: tuple[Layer, ...]) -> list[Layer]:
        """Those of `blobs` that no installed model references."""
        used = {blob.digest for m in self.models.values() for blob in m.spec.blobs}
        return [blob for blob in blobs if blob.digest not in used]

    def has_blob(self, blob: Layer) -> bool:
        """Whether the whole blob is on disk."""
        return self.blobs.get(blob.digest, 0) >= blob.size

    def load(self, model: InstalledModel, keep_alive_ns: int | None, num_ctx: int | None) -> None:
        """Start or refresh a runner; the request's keep-alive (default 5m) replaces its timer.

        A keep-alive of 0 loads the model and begins unloading it at once, as a request with
        `keep_alive: 0` leaves its runner when it ends.
        """
        duration = DEFAULT_KEEP_ALIVE_NS if keep_alive_ns is None else keep_alive_ns
        duration = min(max(duration, 0), MAX_DURATION_NS)
        current = self.loaded.get(model.display)
        context = num_ctx or (current.context_length if current else self._num_ctx(model))
        runner = LoadedModel(model, self.clock() + duration, context, session_ns=duration)
        self.runners.start(model.display, runner)
        if duration == 0:
            self.runners.unload(model.display)

    def unload(self, model: InstalledModel) -> None:
        """Begin unloading the runner of `model`, if any (see residency.py: not at once)."""
        self.runners.unload(model.display)

    def is_loaded(self, model: InstalledModel) -> bool:
        """Whether a runner for `model` (with its current digest) is in memory."""
        runner = self.loaded.get(model.display)
        return runner is not None and runner.model.digest == model.digest

    @staticmethod
    def _num_ctx(model: InstalledModel) -> int:
        declared = model.spec.parameter_map.get("num_ctx")
        value = int(declared) if isinstance(declared, int | float) else DEFAULT_NUM_CTX
        return min(value, model.spec.context_length)

    def _fresh_time(self) -> int:
        """Now, strictly after every existing modification time (sorting stays stable)."""
        latest = max((m.modified_ns for m in self.models.values()), default=0)
        return max(self.clock(), latest + 1)
