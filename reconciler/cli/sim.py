"""`orc sim`: run a simulated Ollama fleet on loopback until Ctrl-C.

Parses the flags into `SimSettings` and hands over to `reconciler.testing.runner.run`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from reconciler.cli.options import Duration, Rate
from reconciler.desired import ENDPOINT_NAMES
from reconciler.testing.runner import SimSettings, run

EPILOG = """\b
Examples:
  orc sim                                   two servers on ephemeral ports
  orc sim -n 3 --port 11500 --write-manifests sim/
  orc sim --latency 20ms --pull-speed 50MB/s --token s3cret --tls

\b
Exit codes:
  0    stopped cleanly (Ctrl-C or SIGTERM)
  1    could not start: bad flag, port in use
"""


def parse_endpoints(value: str | None) -> dict[str, str]:
    """`chat=/api/v1/chat,health=/api/v1/health` → `{"chat": "/api/v1/chat", ...}`."""
    endpoints: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in (value or "").split(","))):
        name, sep, path = item.partition("=")
        if not sep or name.strip() not in ENDPOINT_NAMES or not path.strip().startswith("/"):
            raise click.BadParameter(
                f"{item!r} is not NAME=/PATH with NAME one of {', '.join(ENDPOINT_NAMES)}",
                param_hint="--endpoints",
            )
        endpoints[name.strip()] = path.strip()
    return endpoints


@click.command("sim", epilog=EPILOG)
@click.option(
    "-n",
    "--instances",
    type=click.IntRange(1, 64),
    default=2,
    show_default=True,
    help="How many simulated servers to run (named sim-1, sim-2, ...).",
)
@click.option(
    "--port",
    "base_port",
    type=click.IntRange(1, 65535),
    default=None,
    help="Port of sim-1; sim-N listens on PORT+N-1. Default: free ephemeral ports.",
)
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--latency",
    type=Duration(allow_zero=True),
    default="0ms",
    show_default=True,
    help="Delay added to every request, e.g. 20ms or 1s.",
)
@click.option(
    "--pull-speed",
    type=Rate(),
    default="200MB/s",
    show_default=True,
    help='Simulated download speed, e.g. 50MB/s, 1GB/s, or "instant".',
)
@click.option(
    "--token-rate",
    type=click.FloatRange(min=0.1),
    default=50.0,
    show_default=True,
    help="Generation speed in tokens per second.",
)
@click.option(
    "--token",
    envvar="ORC_SIM_TOKEN",
    default=None,
    metavar="TOKEN",
    help="Require 'Authorization: Bearer TOKEN' on every request (401 otherwise), like an "
    "authenticating proxy. Defaults to $ORC_SIM_TOKEN. Never printed.",
)
@click.option("--tls", is_flag=True, help="Serve HTTPS with a certificate from a private CA.")
@click.option(
    "--path-prefix",
    default="",
    metavar="PATH",
    help="Serve every route under this path (e.g. /ollama), like a reverse proxy.",
)
@click.option(
    "--write-manifests",
    "manifests_dir",
    type=click.Path(file_okay=False, path_type=Path),
    metavar="DIR",
    help="Write an OllamaInstance manifest per server into DIR (token via $ORC_SIM_TOKEN, CA file "
    "under DIR/sim-tls with --tls). Refuses to replace files unless --force.",
)
@click.option(
    "--force",
    is_flag=True,
    help="With --write-manifests: replace existing files, and remove the manifests an earlier "
    "orc sim wrote there.",
)
@click.option(
    "--endpoints",
    callback=lambda ctx, param, value: parse_endpoints(value),
    default=None,
    metavar="NAME=PATH[,NAME=PATH...]",
    help="Also serve these endpoint paths, like a proxy with custom paths (e.g. "
    "chat=/api/v1/chat,listModels=/api/v1/models,health=/api/v1/health); written into the "
    "manifests' endpoints.",
)
@click.option(
    "--ollama-version",
    "version",
    default="0.12.6",
    show_default=True,
    help="Version the servers report on /api/version.",
)
def sim(**options: Any) -> int:
    """Run simulated Ollama servers on this machine until Ctrl-C.

    Each server speaks the Ollama HTTP API (tags, show, ps, pull, create, copy, delete, generate,
    chat, embed) with a built-in registry of realistic models, so every orc command can be tried
    without a GPU or an Ollama install. Each server's URL is printed; the last line, starting
    with "URLs:", appears once all of them answer.
    """
    if options["force"] and options["manifests_dir"] is None:
        raise click.BadParameter("only with --write-manifests", param_hint="--force")
    if options["path_prefix"] and not str(options["path_prefix"]).startswith("/"):
        raise click.BadParameter("must start with '/'", param_hint="--path-prefix")
    settings = SimSettings(**options)
    return run(settings, click.echo)
