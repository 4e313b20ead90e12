"""Reconciler.apply against simulated servers in process (httpx.ASGITransport, no sockets).

`rig.declare(name, models, installed=..., **server settings)` writes an OllamaInstance manifest
and creates its `SimServer`; `rig.reconciler(...)` is a `Reconciler` whose clients reach those
servers through their ASGI apps, with a fast retry policy and a state directory in tmp_path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from reconciler.apply import Event, RetryPolicy
from reconciler.desired import DesiredFleet
from reconciler.ollama import ClientConfig, OllamaClient
from reconciler.reconcile import Reconciler, load_desired
from reconciler.state import StateDir
from reconciler.testing import SimInstanceConfig, SimServer

FAST_RETRY = RetryPolicy(attempts=4, base_delay=0.01, max_delay=0.05, jitter=0.0)


@dataclass
class Rig:
    """Manifests in `folder`, the simulated servers, and the events of the last apply."""

    folder: Path
    servers: dict[str, SimServer] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)

    def declare(
        self,
        name: str,
        models: Sequence[str | dict[str, Any]],
        *,
        installed: Sequence[str] = (),
        spec: dict[str, Any] | None = None,
        **settings: Any,
    ) -> SimServer:
        """An instance declaring `models`, simulated with `installed` models on it."""
        server = SimServer(SimInstanceConfig(name=name, models=tuple(installed), **settings))
        self.servers[name] = server
        entries = [m if isinstance(m, dict) else {"name": m} for m in models]
        doc = {
            "apiVersion": "ollama-reconciler/v1",
            "kind": "OllamaInstance",
            "metadata": {"name": name},
            "spec": {"url": f"http://{name}.sim.test:11434", "models": entries, **(spec or {})},
        }
        path = self.folder / f"{name}.yaml"
        path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
        return server

    def fleet_settings(self, **spec: Any) -> None:
        """Write a Fleet manifest (safety, parallelism)."""
        doc = {"apiVersion": "ollama-reconciler/v1", "kind": "Fleet", "metadata": {"name": "t"}}
        doc["spec"] = spec
        (self.folder / "fleet.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")

    def desired(self) -> DesiredFleet:
        """The fleet the manifests declare now."""
        return load_desired([self.folder])

    def client(self, config: ClientConfig) -> OllamaClient:
        """A client reaching the simulated server of `config.instance` in process."""
        app = self.servers[config.instance].app
        return OllamaClient(config, transport=httpx.ASGITransport(app=app))

    def reconciler(self, retry: RetryPolicy = FAST_RETRY, **settings: Any) -> Reconciler:
        """A Reconciler on these servers, with a state directory in the test's folder."""
        state = StateDir(self.folder.parent / "state")
        return Reconciler(state=state, client_factory=self.client, retry=retry, **settings)

    def record(self, event: Event) -> None:
        """An `on_event` sink keeping every event."""
        self.events.append(event)


@pytest.fixture
def rig(tmp_path: Path) -> Rig:
    folder = tmp_path / "manifests"
    folder.mkdir()
    return Rig(folder)
