"""Run a simulated fleet in the foreground until Ctrl-C or SIGTERM: what `orc sim` does.

The settings object comes from the command line; `run()` starts the fleet, prints where each
instance listens (and the CA file, and what to do about the token), optionally writes manifests,
prints a final `URLs:` line once everything answers, and stops cleanly on a signal (exit 0).
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.testing.catalog import CATALOG
from reconciler.testing.config import DEFAULT_VERSION, SimInstanceConfig
from reconciler.testing.fleet import SimFleet
from reconciler.testing.manifests import TOKEN_ENV, check_manifests_folder, write_manifests
from reconciler.testing.units import format_rate

# Initial models per instance, in turn: a chat model (preloaded), an embedding model, one more.
STARTER_SETS = (
    ("llama3.2:3b", "nomic-embed-text:latest", "qwen2.5-coder:1.5b"),
    ("tinyllama:latest", "mxbai-embed-large:latest", "gemma2:2b"),
    ("qwen2.5:7b", "all-minilm:latest", "deepseek-r1:7b"),
    ("llama3.1:8b", "nomic-embed-text:latest", "llava:7b"),
    ("phi3:mini", "smollm2:135m", "qwen3:8b"),
)
Echo = Callable[[str], None]


@dataclass(frozen=True)
class SimSettings:
    """What `orc sim` was asked for."""

    instances: int = 2
    host: str = "127.0.0.1"
    base_port: int | None = None
    latency: float = 0.0
    pull_speed: float | None = 200e6
    token: str | None = field(default=None, repr=False)
    tls: bool = False
    manifests_dir: Path | None = None
    force: bool = False
    path_prefix: str = ""
    endpoints: Mapping[str, str] = field(default_factory=dict)
    token_rate: float = 50.0
    version: str = DEFAULT_VERSION


def instance_configs(settings: SimSettings) -> list[SimInstanceConfig]:
    """One config per instance, `sim-1`..`sim-N`, each with a different starter set."""
    configs = []
    for index in range(settings.instances):
        models = STARTER_SETS[index % len(STARTER_SETS)]
        configs.append(
            SimInstanceConfig(
                name=f"sim-{index + 1}",
                models=models,
                loaded=models[:1],
                latency=settings.latency,
                pull_speed=settings.pull_speed,
                token=settings.token,
                path_prefix=settings.path_prefix,
                endpoints=settings.endpoints,
                version=settings.version,
                tls=settings.tls,
                token_rate=settings.token_rate,
                first_token_delay=0.05,
            )
        )
    return configs


def run(settings: SimSettings, echo: Echo) -> int:
    """Serve until SIGINT or SIGTERM; 0 on a clean stop."""
    return asyncio.run(_main(settings, echo))


async def _main(settings: SimSettings, echo: Echo) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await serve(settings, echo, stop)
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    return 0


async def serve(settings: SimSettings, echo: Echo, stop: asyncio.Event) -> None:
    """Run the fleet until `stop` is set, reporting on `echo`."""
    configs = instance_configs(settings)
    replaced: list[Path] = []
    if settings.manifests_dir is not None:
        names = [cfg.name for cfg in configs]
        replaced = check_manifests_folder(settings.manifests_dir, names, settings.force)
    cert_dir = (
        settings.manifests_dir / "sim-tls" if settings.manifests_dir and settings.tls else None
    )
    fleet = SimFleet(configs, host=settings.host, base_port=settings.base_port, cert_dir=cert_dir)
    async with fleet:
        _describe(settings, fleet, configs, echo)
        if settings.manifests_dir is not None:
            for path in replaced:
                path.unlink(missing_ok=True)
            urls = {cfg.name: fleet.url(cfg.name) for cfg in configs}
            chat = {cfg.name: _chat_model(cfg) for cfg in configs}
            files = write_manifests(settings.manifests_dir, configs, urls, fleet.ca_file, chat)
            echo(f"Manifests: {', '.join(str(path) for path in files)}")
        echo("URLs: " + " ".join(fleet.url(cfg.name) for cfg in configs))
        await stop.wait()
        echo("orc sim: stopping")


def _describe(
    settings: SimSettings, fleet: SimFleet, configs: list[SimInstanceConfig], echo: Echo
) -> None:
    plural = "s" if len(configs) != 1 else ""
    echo(
        f"orc sim: {len(configs)} simulated Ollama server{plural} (version {settings.version}, "
        f"pulls at {format_rate(settings.pull_speed)}, {settings.token_rate:g} tokens/s). "
        "Ctrl-C to stop."
    )
    for cfg in configs:
        models, loaded = ", ".join(cfg.models), ", ".join(cfg.loaded)
        echo(f"  {cfg.name}  {fleet.url(cfg.name)}  models: {models} (loaded: {loaded})")
    if fleet.ca_file is not None:
        echo(f"CA certificate: {fleet.ca_file}")
    if settings.token:
        echo(
            "Every request needs the bearer token given with --token; manifests read it from "
            f"${TOKEN_ENV}, so set {TOKEN_ENV} to that value before running orc plan or apply."
        )


def _chat_model(config: SimInstanceConfig) -> str | None:
    return next((m for m in config.models if "completion" in CATALOG[m].capabilities), None)
