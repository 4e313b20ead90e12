"""How many `keepLoaded` models a server keeps loaded, once it has shown that it evicts them.

A server keeps only so many runners (OLLAMA_MAX_LOADED_MODELS, its memory) and evicts one to
load another (docs/ollama-api.md, keep_alive, loading and unloading). Declaring more
`keepLoaded` models than it holds would make every apply load the missing ones, evicting others,
for ever. So when the re-observation after an apply finds that a model expected loaded was
evicted, the caller remembers a `LoadLimit`: the server holds `held` of the `wanted` models.
While one is remembered, the plan loads only until `held` of them are loaded, the rest are
skipped with the reason, and the instance is reported Degraded:
`keeps 3 of 5 keepLoaded models loaded`.

Pure functions over frozen values; remembering (and forgetting) limits is the caller's.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from reconciler.desired import DesiredFleet, DesiredInstance
from reconciler.names import ModelName
from reconciler.observed import Health, ObservedFleet, ObservedInstance

REASON = "KeepLoadedEvicted"


@dataclass(frozen=True, slots=True)
class LoadLimit:
    """An instance was seen to keep only `held` of its keepLoaded models `wanted` loaded."""

    held: int
    wanted: frozenset[ModelName]

    def applies_to(self, desired: DesiredInstance) -> bool:
        """Whether it was learned for the keepLoaded models the manifests declare now."""
        return self.wanted == keep_loaded(desired)


def keep_loaded(desired: DesiredInstance) -> frozenset[ModelName]:
    """The models an instance declares present and keepLoaded."""
    return frozenset(m.name for m in desired.models if m.state == "present" and m.keep_loaded)


def loaded_of(wanted: frozenset[ModelName], observed: ObservedInstance) -> frozenset[ModelName]:
    """Those of `wanted` that the observation found loaded."""
    return frozenset(m.name for m in observed.models if m.name in wanted and m.loaded)


def shortfall(held: int, wanted: int) -> str:
    """The one-line report of a server that cannot keep every keepLoaded model loaded."""
    return f"keeps {held} of {wanted} keepLoaded models loaded"


def learn(
    desired: DesiredInstance,
    observed: ObservedInstance,
    previous: LoadLimit | None,
    expected: frozenset[ModelName] | None = None,
) -> LoadLimit | None:
    """The limit to remember after this observation.

    `expected` are the models an apply just left loaded (loaded before it, or loaded by it): if
    one of the keepLoaded ones is installed but no longer loaded, the server evicted it, and it
    holds what is loaded now. A server seen holding more than its limit, or all of them, has
    room again. A limit learned for other keepLoaded models is forgotten.
    """
    if not (observed.inventory_known and observed.loaded_known):
        return previous
    wanted = keep_loaded(desired)
    if previous is not None and previous.wanted != wanted:
        previous = None
    now = loaded_of(wanted, observed)
    installed = {m.name for m in observed.models}
    if expected is not None and any(n in installed and n not in now for n in expected & wanted):
        return LoadLimit(len(now), wanted)
    if previous is None or len(now) >= len(wanted):
        return None
    return LoadLimit(len(now), wanted) if len(now) > previous.held else previous


def assess(
    desired: DesiredFleet, observed: ObservedFleet, limits: Mapping[str, LoadLimit]
) -> ObservedFleet:
    """The observation with every instance that keeps fewer keepLoaded models loaded than it
    declares, and is known to evict them, reported Degraded with the shortfall."""
    if not limits:
        return observed
    instances = dict(observed.instances)
    declared_by_name = {i.name: i for i in desired.instances}
    for name, seen in observed.instances.items():
        declared = declared_by_name.get(name)
        limit = limits.get(name)
        if declared is None or limit is None or not limit.applies_to(declared):
            continue
        if seen.health.usable and seen.loaded_known:
            held = len(loaded_of(limit.wanted, seen))
            if held < len(limit.wanted):
                instances[name] = _degraded(seen, shortfall(held, len(limit.wanted)))
    return ObservedFleet(instances)


def _degraded(seen: ObservedInstance, message: str) -> ObservedInstance:
    if seen.health is Health.DEGRADED:
        return replace(seen, message="; ".join(filter(None, (seen.message, message))))
    return replace(seen, health=Health.DEGRADED, reason=REASON, message=message)
