"""A simulated Ollama server and fleet, for tests, `orc sim` and `orc demo`.

`SimServer(SimInstanceConfig(...))` is one server as an ASGI app (`server.app`), with readable
state and injectable faults; `SimFleet` runs several on real loopback sockets (TLS optional);
`CATALOG` is the registry they pull from. See docs/ollama-api.md for the protocol.
"""

from __future__ import annotations

from reconciler.testing.background import BackgroundFleet
from reconciler.testing.catalog import CATALOG, Registry
from reconciler.testing.config import SimInstanceConfig
from reconciler.testing.faults import Fault, SimulatedConnectionDrop
from reconciler.testing.fleet import SimFleet, SimulatorError
from reconciler.testing.server import SimServer
from reconciler.testing.spec import ModelSpec

__all__ = [
    "CATALOG",
    "BackgroundFleet",
    "Fault",
    "ModelSpec",
    "Registry",
    "SimFleet",
    "SimInstanceConfig",
    "SimServer",
    "SimulatedConnectionDrop",
    "SimulatorError",
]
