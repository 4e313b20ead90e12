"""Which runners a simulated server keeps in memory, decided as Ollama's scheduler decides.

What a real server does (docs/ollama-api.md, keep_alive, loading and unloading), and so this does:

- **A limit on runners.** At most `max_loaded` runners (OLLAMA_MAX_LOADED_MODELS; 3 per GPU by
  default) and, when `memory` is given, only as many as fit in it. The first runner always
  loads, however large (a real server spills it onto the CPU).
- **Eviction.** To make room, runners are evicted in the scheduler's order: the shortest
  keep-alive first (a runner already unloading has none), then by the path of the weights blob.
  A load's reply comes only after its evictions, so `/api/ps` never shows more than the limit.
  Runners are not tracked as busy: a request in flight does not protect its runner.
- **Asynchronous unloading.** An unload (`keep_alive: 0`) answers at once, while the runner stays
  listed by `/api/ps`, its `expires_at` the moment of the unload, for `unload_delay`. It no
  longer serves: a request in that window loads the model afresh.
- **Deleting a model leaves its runner alone**: `/api/ps` lists it until its keep-alive ends or
  another load evicts it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from reconciler.testing.state import LoadedModel


@dataclass
class Residency:
    """The runners of one server, by display name; times are nanoseconds of `clock`."""

    clock: Callable[[], int]
    max_loaded: int | None = None  # None: no limit on the count
    memory: int | None = None  # bytes of VRAM; None: no limit on the size
    unload_delay_ns: int = 0
    evicted: list[str] = field(default_factory=list)  # display names, in eviction order
    _runners: dict[str, LoadedModel] = field(default_factory=dict)

    def active(self) -> dict[str, LoadedModel]:
        """The runners serving requests: loaded, not expired, not being unloaded."""
        self._expire()
        return {key: r for key, r in self._runners.items() if r.gone_ns is None}

    def listed(self) -> list[LoadedModel]:
        """What `/api/ps` lists: the active runners and those still being unloaded."""
        self._expire()
        return list(self._runners.values())

    def start(self, key: str, runner: LoadedModel) -> None:
        """Load `runner` (or refresh the active runner of `key`), evicting others for room."""
        self._expire()
        current = self._runners.get(key)
        if current is not None and current.gone_ns is None:
            self._runners[key] = runner  # the same runner, with a new timer
            return
        self._runners.pop(key, None)  # an unloading runner does not serve: load afresh
        while self._runners and not self._room_for(runner):
            victim = min(self._runners, key=lambda k: _eviction_order(self._runners[k]))
            gone = self._runners.pop(victim)
            if gone.gone_ns is None:
                self.evicted.append(victim)
        self._runners[key] = runner

    def unload(self, key: str) -> None:
        """Begin unloading `key`: listed until `unload_delay` has passed, serving no more."""
        runner = self._runners.get(key)
        if runner is None or runner.gone_ns is not None:
            return
        now = self.clock()
        if self.unload_delay_ns <= 0:
            del self._runners[key]
            return
        runner.expires_ns = now
        runner.session_ns = 0
        runner.gone_ns = now + self.unload_delay_ns

    def clear(self) -> None:
        """Drop every runner at once (a restart)."""
        self._runners.clear()

    def vram(self, runner: LoadedModel) -> int:
        """The part of a runner in (simulated) VRAM: all of it unless it alone exceeds `memory`."""
        return runner.memory if self.memory is None else min(runner.memory, self.memory)

    def _room_for(self, runner: LoadedModel) -> bool:
        if self.max_loaded is not None and len(self._runners) >= self.max_loaded:
            return False
        if self.memory is None:
            return True
        used = sum(r.memory for r in self._runners.values())
        return used + runner.memory <= self.memory

    def _expire(self) -> None:
        now = self.clock()
        for key in list(self._runners):
            runner = self._runners[key]
            ending = runner.gone_ns if runner.gone_ns is not None else runner.expires_ns
            if ending <= now:
                del self._runners[key]


def _eviction_order(runner: LoadedModel) -> tuple[int, str]:
    """Ollama's order: shortest keep-alive first, then the weights blob's path."""
    return runner.session_ns, runner.model.spec.layers[0].digest
