"""`SimFleet`: many simulated servers on real loopback sockets, in one process.

Each instance is a uvicorn server on its own port (ephemeral, or `base_port + index`), with TLS
from a private CA made by trustme when the instance asks for it. An instance can be stopped (the
port stops answering: connection refused) and started again on the same port, with its models
kept and its runners gone, as after a real restart.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

import uvicorn

from reconciler.errors import ReconcilerError
from reconciler.listen import bind_socket
from reconciler.testing.config import SimInstanceConfig
from reconciler.testing.faults import SimulatedConnectionDrop
from reconciler.testing.server import SimServer

SHUTDOWN_GRACE = 1


class SimulatorError(ReconcilerError):
    """The simulated fleet could not start (a port in use, an unusable host)."""


@dataclass
class _Instance:
    server: SimServer
    port: int
    uvicorn: uvicorn.Server | None = None
    task: asyncio.Task[None] | None = None
    started_once: bool = False


class SimFleet:
    """An async context manager running one `SimServer` per config on `host`.

    `url(name)` includes the path prefix; `ca_file` is the PEM of the CA when any instance uses TLS.
    """

    def __init__(
        self,
        configs: Iterable[SimInstanceConfig],
        *,
        host: str = "127.0.0.1",
        base_port: int | None = None,
        cert_dir: Path | None = None,
    ) -> None:
        self.host = host
        self._base_port = base_port
        configs = list(configs)
        self._servers = {cfg.name: SimServer(cfg) for cfg in configs}
        if len(self._servers) != len(configs):
            raise ValueError("instance names must be unique")
        self._instances: dict[str, _Instance] = {}
        self._cert_dir = cert_dir
        self._tempdir: tempfile.TemporaryDirectory[str] | None = None
        self._ca_file: Path | None = None
        self._cert_file: Path | None = None

    async def __aenter__(self) -> SimFleet:
        _quiet_expected_errors()
        if any(server.config.tls for server in self._servers.values()):
            self._make_certificates()
        try:
            for index, (name, server) in enumerate(self._servers.items()):
                port = 0 if self._base_port is None else self._base_port + index
                self._instances[name] = _Instance(server, port)
                await self.start(name)
        except BaseException:
            await self._stop_all()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._stop_all()

    def __getitem__(self, name: str) -> SimServer:
        return self._servers[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._servers)

    def __len__(self) -> int:
        return len(self._servers)

    @property
    def ca_file(self) -> Path | None:
        """The CA certificate (PEM) that signed the TLS instances' certificates."""
        return self._ca_file

    def port(self, name: str) -> int:
        """The port instance `name` listens on."""
        return self._instances[name].port

    def url(self, name: str) -> str:
        """`http(s)://host:port/prefix` of instance `name`."""
        server = self._servers[name]
        scheme = "https" if server.config.tls else "http"
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{scheme}://{host}:{self.port(name)}{server.config.path_prefix}"

    def is_running(self, name: str) -> bool:
        """Whether instance `name` is accepting connections."""
        task = self._instances[name].task
        return task is not None and not task.done()

    async def start(self, name: str) -> None:
        """Start (or restart) instance `name`, on the port it had before if it ran already."""
        instance = self._instances[name]
        if self.is_running(name):
            return
        sock = self._bind(instance.port)
        instance.port = sock.getsockname()[1]
        if instance.started_once:
            instance.server.restart()
        instance.started_once = True
        config = uvicorn.Config(
            instance.server.app,
            lifespan="off",
            log_config=None,
            access_log=False,
            ws="none",
            timeout_graceful_shutdown=SHUTDOWN_GRACE,
            ssl_certfile=str(self._cert_file) if instance.server.config.tls else None,
            ssl_keyfile=str(self._cert_file) if instance.server.config.tls else None,
        )
        config.load()
        server = uvicorn.Server(config)
        server.lifespan = config.lifespan_class(config)
        await server.startup(sockets=[sock])
        instance.uvicorn = server
        instance.task = asyncio.create_task(_serve(server, sock), name=f"sim:{name}")

    async def stop(self, name: str) -> None:
        """Take instance `name` down: the port refuses connections until `start(name)`."""
        instance = self._instances[name]
        if instance.uvicorn is None or instance.task is None:
            return
        instance.uvicorn.should_exit = True
        await asyncio.shield(instance.task)
        instance.uvicorn, instance.task = None, None

    async def _stop_all(self) -> None:
        await asyncio.gather(*(self.stop(name) for name in self._instances), return_exceptions=True)
        if self._tempdir is not None:
            self._tempdir.cleanup()
            self._tempdir = None

    def _bind(self, port: int) -> socket.socket:
        try:
            return bind_socket(self.host, port)
        except OSError as exc:
            raise SimulatorError(
                f"cannot listen on {self.host}:{port}: {exc.strerror or exc}",
                hint="choose another port (or none, for ephemeral ports)",
            ) from exc

    def _make_certificates(self) -> None:
        import trustme

        folder = self._cert_dir
        if folder is None:
            self._tempdir = tempfile.TemporaryDirectory(prefix="orc-sim-")
            folder = Path(self._tempdir.name)
        folder.mkdir(parents=True, exist_ok=True)
        authority = trustme.CA(organization_name="orc sim")
        hosts = sorted({"127.0.0.1", "localhost", "::1", self.host})
        issued = authority.issue_cert(*hosts)
        self._ca_file = folder / "ca.pem"
        self._cert_file = folder / "server.pem"
        authority.cert_pem.write_to_path(str(self._ca_file))
        issued.private_key_and_cert_chain_pem.write_to_path(str(self._cert_file))


async def _serve(server: uvicorn.Server, sock: socket.socket) -> None:
    try:
        await server.main_loop()
    finally:
        await server.shutdown(sockets=[sock])


class _ExpectedErrors(logging.Filter):
    """Hide uvicorn's reports of what the simulator does on purpose: dropped streams and
    requests cancelled when an instance is stopped."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, SimulatedConnectionDrop | asyncio.CancelledError):
            return False
        return "timeout graceful shutdown exceeded" not in record.getMessage()


def _quiet_expected_errors() -> None:
    logger = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, _ExpectedErrors) for f in logger.filters):
        logger.addFilter(_ExpectedErrors())
