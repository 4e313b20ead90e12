"""`orc demo`: validate → plan → apply → status → chat-test against a simulated fleet.

Three simulated instances on loopback: a workstation, a GPU gateway behind a bearer token with
custom endpoint paths, and an edge box that is down. The manifests are written to a folder the
user can keep and reuse with every other command while `orc sim` runs.
"""

from __future__ import annotations

import os
import shlex
import socket
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import click

from reconciler.cli.main import exit_codes_help
from reconciler.cli.options import Rate
from reconciler.errors import ExitCode, ReconcilerError
from reconciler.testing import BackgroundFleet, SimInstanceConfig

TOKEN_ENV = "ORC_DEMO_TOKEN"
_GATEWAY_ENDPOINTS = {
    "health": "/api/v1/health",
    "listModels": "/api/v1/models",
    "chat": "/api/v1/chat",
}


@dataclass(frozen=True)
class Step:
    """One command of the demo and the exit code it should end with."""

    title: str
    args: tuple[str, ...]
    expected: int


EPILOG_EXIT_CODES = exit_codes_help(
    ExitCode.OK,
    ExitCode.ERROR,
    ExitCode.INTERRUPTED,
    OK="every step behaved as expected",
    ERROR="a step did not behave as expected",
)


@click.command("demo", epilog=EPILOG_EXIT_CODES)
@click.option(
    "--dir",
    "folder",
    type=click.Path(path_type=Path, file_okay=False),
    default=None,
    help="Write the demo manifests here and keep them (default: a temporary folder).",
)
@click.option(
    "--pull-speed",
    type=Rate(),
    default="1GB/s",
    show_default=True,
    help='Simulated download speed, e.g. 50MB/s, 1GB/s, or "instant" (as for `orc sim`).',
)
def demo_command(folder: Path | None, pull_speed: float | None) -> int:
    """Try orc without a GPU: a simulated fleet, then validate, plan, apply, status, chat.

    Starts three simulated Ollama servers on 127.0.0.1 — a workstation, a GPU gateway behind a
    bearer token with custom endpoint paths, and an edge box that is down — writes manifests
    for them, and runs each command as you would type it. Takes a few seconds. Exits 0 when
    every step behaved as expected.
    """
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        return run_demo(folder, pull_speed)
    with tempfile.TemporaryDirectory(prefix="orc-demo-") as tmp:
        return run_demo(Path(tmp), pull_speed)


def run_demo(
    folder: Path, pull_speed: float | None, echo: Callable[[str], None] = click.echo
) -> int:
    """Run the demo in `folder`; the exit code is 0 when every step ended as expected."""
    token = os.environ.setdefault(TOKEN_ENV, "demo-token-" + os.urandom(6).hex())
    configs = [
        SimInstanceConfig(
            name="workstation",
            models=("llama3.2:3b", "tinyllama"),
            pull_speed=pull_speed,
            token_rate=80.0,
            first_token_delay=0.05,
        ),
        SimInstanceConfig(
            name="gpu-gateway",
            models=("qwen2.5-coder:1.5b",),
            pull_speed=pull_speed,
            token=token,
            endpoints=_GATEWAY_ENDPOINTS,
        ),
    ]
    echo("orc demo: starting a simulated Ollama fleet on 127.0.0.1 ...")
    with BackgroundFleet(configs) as fleet:
        urls = {name: fleet.url(name) for name in fleet}
        urls["edge-box"] = f"http://127.0.0.1:{_free_port()}"
        write_manifests(folder, urls)
        for name, url in urls.items():
            note = " (down: nothing listens there)" if name == "edge-box" else ""
            echo(f"  {name:<12} {url}{note}")
        echo(f"Manifests: {folder}  (the gateway's token is read from ${TOKEN_ENV})")
        return _run_steps(_steps(folder), echo)


def _steps(folder: Path) -> list[Step]:
    state = str(folder / ".orc")
    path = str(folder)
    return [
        Step("Check the manifests offline", ("validate", path), 0),
        Step("See what would change", ("plan", path, "--state-dir", state), 0),
        Step(
            "Make the changes (one instance is down: partial, exit 3)",
            ("apply", path, "--yes", "--state-dir", state),
            int(ExitCode.PARTIAL),
        ),
        Step("Check again: nothing left to do", ("plan", path, "--state-dir", state), 0),
        Step("Report the fleet", ("status", path, "--models", "--state-dir", state), 0),
        Step(
            "Chat: the preferred instance is down, so orc fails over",
            ("chat-test", path, "--model", "llama3.2:3b", "--prompt", "Say hello to the fleet."),
            0,
        ),
        Step("Run every smoke test of the manifests", ("chat-test", path, "--all"), 0),
    ]


def _run_steps(steps: Sequence[Step], echo: Callable[[str], None]) -> int:
    from reconciler.cli.main import main  # the group, to run each step as a user would

    started = time.monotonic()
    surprises = []
    for number, step in enumerate(steps, 1):
        echo(f"\n── Step {number}/{len(steps)}: {step.title}")
        echo(f"$ orc {shlex.join(step.args)}\n")
        code = main(list(step.args))
        if code != step.expected:
            surprises.append(f"`orc {step.args[0]}` exited {code}, expected {step.expected}")
    took = time.monotonic() - started
    if surprises:
        raise ReconcilerError("the demo did not go as expected: " + "; ".join(surprises))
    echo(f"\nDemo complete in {took:.1f} s. Every step behaved as expected.")
    echo("Run `orc sim --write-manifests DIR` to keep a simulated fleet running and explore.")
    return int(ExitCode.OK)


def write_manifests(folder: Path, urls: dict[str, str]) -> None:
    """The demo's manifests: a Fleet, a ModelSet and three instances."""
    (folder / "fleet.yaml").write_text(
        _FLEET.format(token_env=TOKEN_ENV, **_url_fields(urls)), encoding="utf-8"
    )


def _url_fields(urls: dict[str, str]) -> dict[str, str]:
    return {name.replace("-", "_"): url for name, url in urls.items()}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


_FLEET = """\
# Written by `orc demo`. Every field is explained in the README.
apiVersion: ollama-reconciler/v1
kind: Fleet
metadata: {{name: demo}}
spec:
  parallelism: 10
  safety: {{allowEmpty: false, maxDeletions: 5}}
---
apiVersion: ollama-reconciler/v1
kind: ModelSet
metadata: {{name: coding}}
spec:
  selector: {{matchLabels: {{tier: gpu}}}}
  models:
    - name: qwen2.5-coder:1.5b
    - name: nomic-embed-text
---
apiVersion: ollama-reconciler/v1
kind: OllamaInstance
metadata:
  name: workstation
  labels: {{env: dev, tier: cpu}}
spec:
  url: {workstation}
  priority: 2
  models:
    - name: llama3.2:3b
      keepLoaded: true
    - name: tinyllama
      state: absent
    - name: reviewer
      from: qwen2.5-coder:1.5b
      system: You are a careful code reviewer.
      parameters: {{num_ctx: 8192, temperature: 0.2}}
  smoke:
    - model: llama3.2:3b
      prompt: Reply with the single word OK.
      expect: "(?i)\\\\bok\\\\b"
---
apiVersion: ollama-reconciler/v1
kind: OllamaInstance
metadata:
  name: gpu-gateway
  labels: {{env: prod, tier: gpu}}
spec:
  url: {gpu_gateway}
  priority: 1
  auth:
    bearerToken: {{env: {token_env}}}
  endpoints:
    health: /api/v1/health
    listModels: /api/v1/models
    chat: /api/v1/chat
  models:
    - name: gemma2:2b
---
apiVersion: ollama-reconciler/v1
kind: OllamaInstance
metadata:
  name: edge-box
  labels: {{env: prod, tier: edge}}
spec:
  url: {edge_box}
  priority: 1
  timeout: 2s
  models:
    - name: llama3.2:3b
"""
