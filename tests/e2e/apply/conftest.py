"""Fixtures for `orc apply` end to end: a simulated fleet on loopback, manifests, the CLI.

`sim(configs)` starts a `BackgroundFleet` (it keeps serving while the CLI runs its own event
loops, in process or in a subprocess) and returns a `Sim` that writes manifests for it into
`tmp_path` and reads the simulated servers' state. `orc(...)` runs the CLI as a subprocess;
`orc_main(...)` runs it in process and returns the exit code and what it printed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.cli.main import main
from reconciler.testing import BackgroundFleet, SimFleet, SimInstanceConfig

API_VERSION = "ollama-reconciler/v1"


def instance_doc(
    name: str,
    url: str,
    models: Sequence[str | dict[str, Any]],
    labels: dict[str, str] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    """An OllamaInstance document; a model is a name or a full model entry."""
    entries = [m if isinstance(m, dict) else {"name": m} for m in models]
    return {
        "apiVersion": API_VERSION,
        "kind": "OllamaInstance",
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"url": url, "models": entries, **spec},
    }


def fleet_doc(**spec: Any) -> dict[str, Any]:
    """A Fleet document (safety, parallelism...)."""
    return {"apiVersion": API_VERSION, "kind": "Fleet", "metadata": {"name": "e2e"}, "spec": spec}


@dataclass
class Sim:
    """A running simulated fleet, the manifest folder and the state directory of one test."""

    background: BackgroundFleet
    fleet: SimFleet
    manifests: Path
    state_dir: Path

    def url(self, name: str) -> str:
        """The URL of a simulated instance."""
        return self.fleet.url(name)

    def models(self, name: str) -> set[str]:
        """The display names of the models installed on a simulated instance now."""
        return set(self.fleet[name].state.models)

    def pulls(self, name: str) -> int:
        """How many pull requests the instance received."""
        return self.fleet[name].state.endpoint_count("pull")

    def write(self, filename: str, *docs: dict[str, Any]) -> Path:
        """Write YAML documents into a manifest file of the folder."""
        path = self.manifests / filename
        path.write_text(yaml.safe_dump_all(docs, sort_keys=False), encoding="utf-8")
        return path

    def settings(self, **spec: Any) -> Path:
        """Write `fleet.yaml`: a Fleet document with these spec fields (safety, parallelism)."""
        return self.write("fleet.yaml", fleet_doc(**spec))

    def declare(
        self,
        name: str,
        models: Sequence[str | dict[str, Any]],
        labels: dict[str, str] | None = None,
        **spec: Any,
    ) -> Path:
        """Write `<name>.yaml` declaring the instance with these models (and spec fields)."""
        doc = instance_doc(name, self.url(name), models, labels, **spec)
        return self.write(f"{name}.yaml", doc)

    def args(self, *more: str) -> list[str]:
        """`apply`-style arguments: the manifest folder, then `more`, then the state directory."""
        return [str(self.manifests), *more, "--state-dir", str(self.state_dir)]


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Callable[[Sequence[SimInstanceConfig]], Sim]]:
    """Factory: `sim([SimInstanceConfig(...), ...])` starts those servers for this test."""
    with ExitStack() as stack:

        def start(configs: Sequence[SimInstanceConfig]) -> Sim:
            background = BackgroundFleet(configs)
            fleet = stack.enter_context(background)
            folder = tmp_path / "manifests"
            folder.mkdir(exist_ok=True)
            return Sim(background, fleet, folder, tmp_path / "state")

        yield start


def orc_env(**extra: str) -> dict[str, str]:
    """The environment of an `orc` subprocess: no colour, no inherited state directory."""
    env = {k: v for k, v in os.environ.items() if k not in {"ORC_STATE_DIR", "FORCE_COLOR"}}
    env.update(NO_COLOR="1", PYTHONUNBUFFERED="1", **extra)
    return env


@pytest.fixture
def orc() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run `python -m reconciler ARGS` to completion (60 s at most)."""

    def run(*args: str, env: dict[str, str] | None = None, timeout: float = 60):
        return subprocess.run(
            [sys.executable, "-m", "reconciler", *args],
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
            env=env or orc_env(),
            timeout=timeout,
            check=False,
        )

    return run


@pytest.fixture
def spawn() -> Iterator[Callable[..., subprocess.Popen[str]]]:
    """Start `python -m reconciler ARGS` in the background (killed at the end if still running)."""
    started: list[subprocess.Popen[str]] = []

    def start(*args: str) -> subprocess.Popen[str]:
        process = subprocess.Popen(
            [sys.executable, "-m", "reconciler", *args],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=orc_env(),
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=30)


@pytest.fixture
def orc_main(capsys: pytest.CaptureFixture[str]) -> Callable[..., tuple[int, str, str]]:
    """Run `orc ARGS` in this process: (exit code, stdout, stderr)."""

    def run(*args: str) -> tuple[int, str, str]:
        code = main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return run


def read_until(process: subprocess.Popen[str], wanted: str) -> list[str]:
    """The lines of the process's stdout up to the first one containing `wanted`."""
    assert process.stdout is not None
    seen: list[str] = []
    for line in process.stdout:
        seen.append(line)
        if wanted in line:
            return seen
    raise AssertionError(f"{wanted!r} never appeared; output was:\n{''.join(seen)}")


@pytest.fixture
def until() -> Callable[[subprocess.Popen[str], str], list[str]]:
    """`until(process, text)`: read its stdout up to the line containing `text`."""
    return read_until
