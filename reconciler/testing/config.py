"""Settings of one simulated Ollama server, validated once at construction.

`SimInstanceConfig` is the public, frozen description tests and `orc sim` write; `SimContext` is
everything a request handler needs at run time (settings, state, faults, registry, downloads).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timezone
from types import MappingProxyType

from reconciler import names
from reconciler.desired import ENDPOINT_NAMES
from reconciler.testing.catalog import Registry
from reconciler.testing.faults import FaultInjector
from reconciler.testing.goformat import local_zone
from reconciler.testing.pulls import DownloadPool
from reconciler.testing.slots import Slots
from reconciler.testing.state import SimState

DEFAULT_VERSION = "0.12.6"


@dataclass(frozen=True)
class SimInstanceConfig:
    """How one simulated server behaves. Times are seconds, speeds bytes or tokens per second.

    `endpoints` maps logical names (`chat`, `listModels`, `health`...) to extra paths, served
    under `path_prefix` in addition to the default paths. `pull_speed=None` downloads instantly.
    `utc_offset_minutes` fixes the zone of `modified_at`/`expires_at` (default: the machine's).
    `parallel` bounds the chats and generations running at once (None: no bound), each at
    `token_rate`; beyond it they wait, at most `max_queue` of them (None: no bound), and the next
    one is refused with 503 as a busy Ollama refuses it.
    `max_loaded` runners stay in memory at most (OLLAMA_MAX_LOADED_MODELS), and only as many as
    fit in `memory` bytes of VRAM when it is given (None: no limit); loading another evicts
    some. An unload answers at once, but `/api/ps` lists the runner for `unload_delay` more
    seconds (see residency.py).
    """

    name: str
    models: tuple[str, ...] = ()
    loaded: tuple[str, ...] = ()
    latency: float = 0.0
    pull_speed: float | None = None
    token: str | None = field(default=None, repr=False)
    path_prefix: str = ""
    endpoints: Mapping[str, str] = field(default_factory=dict)
    version: str = DEFAULT_VERSION
    tls: bool = False
    token_rate: float = 500.0
    first_token_delay: float = 0.01
    load_delay: float = 0.0
    utc_offset_minutes: int | None = None
    parallel: int | None = None
    max_queue: int | None = None
    max_loaded: int = 3
    memory: int | None = None
    unload_delay: float = 0.2

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("a simulated instance needs a name")
        prefix = self.path_prefix.rstrip("/")
        if prefix and not prefix.startswith("/"):
            raise ValueError(f"path_prefix must start with '/', got {self.path_prefix!r}")
        object.__setattr__(self, "path_prefix", prefix)
        object.__setattr__(self, "models", tuple(self.models))
        object.__setattr__(self, "loaded", tuple(self.loaded))
        object.__setattr__(self, "endpoints", MappingProxyType(dict(self.endpoints)))
        self._check_endpoints()
        self._check_numbers()
        self._check_loaded()

    def _check_endpoints(self) -> None:
        for endpoint, path in self.endpoints.items():
            if endpoint not in ENDPOINT_NAMES:
                known = ", ".join(ENDPOINT_NAMES)
                raise ValueError(f"unknown endpoint {endpoint!r} (known: {known})")
            if not path.startswith("/"):
                raise ValueError(f"endpoint path of {endpoint!r} must start with '/', got {path!r}")

    def _check_numbers(self) -> None:
        for label, value in (
            ("latency", self.latency),
            ("first_token_delay", self.first_token_delay),
            ("load_delay", self.load_delay),
            ("unload_delay", self.unload_delay),
        ):
            if value < 0:
                raise ValueError(f"{label} must not be negative, got {value}")
        if self.token_rate <= 0:
            raise ValueError(f"token_rate must be positive, got {self.token_rate}")
        if self.parallel is not None and self.parallel < 1:
            raise ValueError(f"parallel must be at least 1 or None, got {self.parallel}")
        if self.max_queue is not None and self.max_queue < 0:
            raise ValueError(f"max_queue must not be negative, got {self.max_queue}")
        if self.pull_speed is not None and self.pull_speed <= 0:
            raise ValueError(f"pull_speed must be positive or None, got {self.pull_speed}")
        if self.max_loaded < 1:
            raise ValueError(f"max_loaded must be at least 1, got {self.max_loaded}")
        if self.memory is not None and self.memory <= 0:
            raise ValueError(f"memory must be positive or None, got {self.memory}")

    def _check_loaded(self) -> None:
        installed = {names.parse(model) for model in self.models}
        for model in self.loaded:
            if names.parse(model) not in installed:
                raise ValueError(f"loaded model {model!r} is not among the instance's models")
        if len(self.loaded) > self.max_loaded:
            raise ValueError(
                f"{len(self.loaded)} loaded models, more than max_loaded ({self.max_loaded})"
            )


@dataclass
class SimContext:
    """What request handlers share: the settings and the server's live parts."""

    config: SimInstanceConfig
    state: SimState
    faults: FaultInjector
    registry: Registry
    downloads: DownloadPool
    zone: timezone
    slots: Slots

    @classmethod
    def create(cls, config: SimInstanceConfig, registry: Registry, state: SimState) -> SimContext:
        """A context for `config`, with a fault queue that understands its path prefix."""
        return cls(
            config=config,
            state=state,
            faults=FaultInjector(config.path_prefix),
            registry=registry,
            downloads=DownloadPool(state, config.pull_speed),
            zone=local_zone(config.utc_offset_minutes),
            slots=Slots(config.parallel, config.max_queue),
        )
