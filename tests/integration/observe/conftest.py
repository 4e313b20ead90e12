"""A small simulated world for observe/plan tests: manifests on disk, simulated servers in process.

`world.instance(name, ...)` adds an `OllamaInstance` manifest and (unless `sim=False`) a
`SimServer`; `world.client` is the client factory the Observer uses: an instance with a simulated
server is reached through `httpx.ASGITransport(app=server.app)`, any other through the network
(a closed loopback port, or a TLS `SimFleet` started by the test).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.desired import DesiredFleet
from reconciler.observed import ObservedFleet
from reconciler.ollama import ClientConfig, OllamaClient
from reconciler.probe import Observer
from reconciler.reconcile import load_desired
from reconciler.state import StateDir
from reconciler.testing import SimInstanceConfig, SimServer


@dataclass
class World:
    """Manifests under `folder` and the simulated servers they point at, by instance name."""

    folder: Path
    servers: dict[str, SimServer] = field(default_factory=dict)

    def instance(
        self,
        name: str,
        *,
        models: Sequence[str] = (),
        declared: Sequence[str] | None = None,
        url: str | None = None,
        spec: str = "",
        labels: Mapping[str, str] | None = None,
        sim: bool = True,
        **settings: Any,
    ) -> SimServer | None:
        """Declare an instance (its `declared` models, default: `models`) and simulate it."""
        server = None
        if sim:
            server = SimServer(SimInstanceConfig(name=name, models=tuple(models), **settings))
            self.servers[name] = server
        prefix = settings.get("path_prefix", "")
        address = url or f"http://{name}.sim.test:11434{prefix}"
        wanted = list(models if declared is None else declared)
        lines = [
            "apiVersion: ollama-reconciler/v1",
            "kind: OllamaInstance",
            f"metadata: {{name: {name}, labels: {json.dumps(dict(labels or {}))}}}",
            "spec:",
            f"  url: {json.dumps(address)}",
            f"  models: {json.dumps([{'name': m} for m in wanted])}",
        ]
        text = "\n".join(lines) + "\n" + "".join(f"  {line}\n" for line in spec.splitlines())
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / f"{name}.yaml").write_text(text, encoding="utf-8")
        return server

    def desired(self) -> DesiredFleet:
        """The fleet the manifests written so far describe."""
        return load_desired([self.folder])

    def client(self, config: ClientConfig) -> OllamaClient:
        """The Observer's client factory: in process for simulated instances, else the network."""
        server = self.servers.get(config.instance)
        if server is None:
            return OllamaClient(config)
        return OllamaClient(config, transport=httpx.ASGITransport(app=server.app))

    def observer(
        self, state: StateDir | None = None, env: Mapping[str, str] | None = None, **kw: Any
    ) -> Observer:
        """An Observer wired to this world (environment empty unless given)."""
        factory = kw.pop("client_factory", self.client)
        return Observer(state, factory, env=dict(env or {}), **kw)

    async def observe(
        self, state: StateDir | None = None, env: Mapping[str, str] | None = None, **kw: Any
    ) -> ObservedFleet:
        """Probe every declared instance once, with a fresh Observer."""
        return await self.observer(state, env, **kw).fleet(self.desired())

    def requests(self, name: str) -> list[tuple[str, str]]:
        """The requests instance `name` received so far (method, path)."""
        return list(self.servers[name].state.requests)

    def forget_requests(self) -> None:
        """Clear every server's request log."""
        for server in self.servers.values():
            server.state.requests.clear()
            server.state.endpoints.clear()


@pytest.fixture
def world(tmp_path: Path) -> World:
    """An empty world whose manifests live in `tmp_path/manifests`."""
    return World(tmp_path / "manifests")


@pytest.fixture
def closed_port() -> int:
    """A loopback port nothing listens on (connections are refused)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
