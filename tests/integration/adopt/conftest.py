"""Simulated servers in process for `orc import` tests, reached by instance name."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from reconciler.ollama import ClientConfig, OllamaClient
from reconciler.testing import SimInstanceConfig, SimServer


@dataclass
class Servers:
    """Simulated servers by instance name; `client` is the factory importer and planner use."""

    by_name: dict[str, SimServer] = field(default_factory=dict)

    def add(self, name: str, **settings: Any) -> SimServer:
        """Start simulating instance `name`."""
        server = SimServer(SimInstanceConfig(name=name, **settings))
        self.by_name[name] = server
        return server

    def client(self, config: ClientConfig) -> OllamaClient:
        """A client of the simulated server of `config.instance`, in process."""
        server = self.by_name[config.instance]
        return OllamaClient(config, transport=httpx.ASGITransport(app=server.app))

    def direct(self, name: str, url: str, **config: Any) -> OllamaClient:
        """A client for preparing server `name` by hand (creating, loading)."""
        return self.client(ClientConfig(instance=name, base_url=url, **config))


@pytest.fixture
def servers() -> Servers:
    """No simulated servers yet."""
    return Servers()
