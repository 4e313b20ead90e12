"""The README's Python API examples run as written against a simulated fleet."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from reconciler.testing import BackgroundFleet, SimInstanceConfig

README = Path(__file__).resolve().parents[3] / "README.md"


def python_blocks() -> list[str]:
    section = README.read_text(encoding="utf-8").split("## Python API", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```python\n(.*?)```", section, flags=re.DOTALL)


def run(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def fleet(tmp_path: Path):
    configs = [
        SimInstanceConfig("down-first", models=("llama3.2:3b",)),
        SimInstanceConfig("serves", models=("llama3.2:3b",)),
    ]
    background = BackgroundFleet(configs)
    with background as sim:
        (tmp_path / "manifests").mkdir()
        for name, priority in (("down-first", 1), ("serves", 2)):
            (tmp_path / "manifests" / f"{name}.yaml").write_text(
                "apiVersion: ollama-reconciler/v1\nkind: OllamaInstance\n"
                f"metadata: {{name: {name}}}\n"
                f"spec: {{url: '{sim.url(name)}', priority: {priority},"
                " models: [{name: 'llama3.2:3b'}]}\n"
            )
        yield background, sim


def test_the_fleet_example_chats_streams_and_reports_failover(fleet, tmp_path: Path) -> None:
    background, sim = fleet
    background.call(sim.stop("down-first"))
    first, _ = python_blocks()

    done = run(first, tmp_path)

    assert done.returncode == 0, done.stderr
    assert "skipped down-first: unreachable" in done.stdout
    assert "(via serves)" in done.stdout
    assert "down-first Unreachable None" in done.stdout


def test_the_client_example_runs(fleet, tmp_path: Path) -> None:
    _, second = python_blocks()
    _, sim = fleet
    code = second.replace("http://localhost:11434", sim.url("serves"))
    body = code.split("\n", 2)
    imports, rest = body[0], "\n".join(body[1:])
    script = f"{imports}\nimport asyncio\n\nasync def main():\n{textwrap.indent(rest, '    ')}\n"
    script += "asyncio.run(main())\n"
    done = run(script, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "0.12.6" in done.stdout
    assert "llama3.2:3b" in done.stdout
