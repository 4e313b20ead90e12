"""`orc plan` and `orc status` end to end, against a simulated fleet on real loopback sockets.

The fleet runs in a background thread with its own event loop for the whole module: `gpu-1`
speaks TLS (private CA) and wants a bearer token, `cpu-1` is plain http under `/ollama`. Each
test writes its own manifests into `tmp_path` and runs the CLI in process (`main([...])`), or as
`python -m reconciler` where the process boundary matters. Secrets: the token comes from an
environment variable, the `X-API-Key` header from a file; no output may contain either.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import jsonschema
import pytest

from reconciler.cli.main import main
from reconciler.plan import Plan
from reconciler.testing import SimFleet, SimInstanceConfig

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[3]
TOKEN = "cli-SECRET-token-8e41d2"
API_KEY = "cli-SECRET-apikey-0b77f3"
WRONG_TOKEN = "cli-WRONG-token-3c9a55"
TOKEN_ENV = "ORC_E2E_GPU_TOKEN"
SECRETS = (TOKEN, API_KEY, WRONG_TOKEN)


@dataclass
class Running:
    """The simulated fleet and the loop (in another thread) it runs on."""

    fleet: SimFleet
    loop: asyncio.AbstractEventLoop

    def call(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the fleet's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout=30)


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """The fleet, started once for the module; nothing in these tests changes its models."""
    configs = [
        SimInstanceConfig(
            name="gpu-1",
            models=("llama3.2:3b", "nomic-embed-text"),
            loaded=("llama3.2:3b",),
            tls=True,
            token=TOKEN,
        ),
        SimInstanceConfig(name="cpu-1", models=("qwen2.5-coder:1.5b",), path_prefix="/ollama"),
    ]
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="sim-fleet", daemon=True)
    thread.start()
    fleet = SimFleet(configs, cert_dir=tmp_path_factory.mktemp("sim-certs"))
    running = Running(fleet, loop)
    running.call(fleet.__aenter__())
    try:
        yield running
    finally:
        running.call(fleet.__aexit__(None, None, None))
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


@dataclass
class Run:
    """What one CLI run left behind."""

    code: int
    out: str
    err: str


@pytest.fixture
def orc(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> Any:
    """`orc("plan", DIR, ...)` runs the CLI in process with a private state directory."""

    def run(*args: str | Path) -> Run:
        argv = [str(a) for a in args]
        argv += ["--state-dir", str(tmp_path / "state")]
        capsys.readouterr()
        code = main(argv)
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


def _instances(sim: Running, folder: Path, *, cpu_models: tuple[str, ...]) -> Path:
    """Manifests for both instances; `cpu-1` declares `cpu_models`."""
    fleet = sim.fleet
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "api-key").write_text(API_KEY + "\n", encoding="utf-8")
    cpu = json.dumps([{"name": m} for m in cpu_models])
    (folder / "fleet.yaml").write_text(
        f"""\
apiVersion: ollama-reconciler/v1
kind: OllamaInstance
metadata: {{name: gpu-1, labels: {{tier: gpu}}}}
spec:
  url: {fleet.url("gpu-1")}
  priority: 1
  tls: {{caFile: {fleet.ca_file}}}
  auth: {{bearerToken: {{env: {TOKEN_ENV}}}}}
  headers:
    X-Client-ID: orc-e2e
    X-API-Key: {{file: api-key}}
  models:
    - name: llama3.2:3b
      keepLoaded: true
    - name: nomic-embed-text
---
apiVersion: ollama-reconciler/v1
kind: OllamaInstance
metadata: {{name: cpu-1, labels: {{tier: cpu}}}}
spec:
  url: {fleet.url("cpu-1")}
  models: {cpu}
""",
        encoding="utf-8",
    )
    return folder


@pytest.fixture
def in_sync(sim: Running, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Manifests that match the fleet exactly."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    return _instances(sim, tmp_path / "in-sync", cpu_models=("qwen2.5-coder:1.5b",))


@pytest.fixture
def drifted(sim: Running, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Manifests that declare one model `cpu-1` does not have (one pull to plan)."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    return _instances(sim, tmp_path / "drifted", cpu_models=("qwen2.5-coder:1.5b", "gemma2:2b"))


def _schema(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((ROOT / "schemas" / name).read_text(encoding="utf-8"))
    return schema


def test_plan_detailed_exitcode_is_0_when_in_sync(orc: Any, in_sync: Path) -> None:
    run = orc("plan", in_sync, "--detailed-exitcode")
    assert run.code == 0, run.err
    assert run.out.rstrip().endswith("No changes. The fleet matches the manifests.")
    assert run.err == ""


def test_plan_detailed_exitcode_is_2_when_there_are_changes(orc: Any, drifted: Path) -> None:
    run = orc("plan", drifted, "--detailed-exitcode")
    assert run.code == 2, run.err
    assert "+ pull gemma2:2b" in run.out
    assert run.out.rstrip().endswith("Plan: 1 to pull, 0 to create, 0 to load, 0 to delete.")
    assert orc("plan", drifted).code == 0  # without the flag, changes are a success


def test_plan_json_validates_against_the_published_schema(orc: Any, drifted: Path) -> None:
    run = orc("plan", drifted, "--format", "json")
    assert run.code == 0, run.err
    document = json.loads(run.out)
    jsonschema.validate(document, _schema("plan.v1.schema.json"))
    assert document["format_version"] == "1"
    assert document["counts"] == {"pull": 1, "create": 0, "load": 0, "delete": 0}
    actions = {i["name"]: [a["id"] for a in i["actions"]] for i in document["instances"]}
    assert actions == {"cpu-1": ["cpu-1/pull/gemma2:2b"], "gpu-1": []}


def test_plan_out_saves_the_plan_apply_would_read(orc: Any, drifted: Path, tmp_path: Path) -> None:
    saved = tmp_path / "plan.json"
    run = orc("plan", drifted, "--out", saved, "--format", "json")
    assert run.code == 0, run.err
    document = json.loads(saved.read_text(encoding="utf-8"))
    jsonschema.validate(document, _schema("plan.v1.schema.json"))
    printed = json.loads(run.out)
    assert {k: v for k, v in document.items() if k != "created_at"} == {
        k: v for k, v in printed.items() if k != "created_at"
    }
    plan = Plan.from_dict(document)
    assert [a.id for a in plan.actions] == ["cpu-1/pull/gemma2:2b"]
    assert all(len(i.fingerprint) == 64 for i in plan.instances)
    assert len(plan.desired_digest) == 64


def test_status_detailed_exitcode_is_0_when_healthy_and_in_sync(orc: Any, in_sync: Path) -> None:
    run = orc("status", in_sync, "--detailed-exitcode")
    assert run.code == 0, run.err
    assert "gpu-1" in run.out and "cpu-1" in run.out
    assert run.out.count("Healthy") >= 2


def test_status_detailed_exitcode_is_2_on_drift(orc: Any, drifted: Path) -> None:
    run = orc("status", drifted, "--detailed-exitcode")
    assert run.code == 2, run.err
    assert "OutOfSync" in run.out
    assert orc("status", drifted).code == 0


def test_status_detailed_exitcode_is_2_when_an_enabled_instance_is_down(
    orc: Any, in_sync: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(TOKEN_ENV, WRONG_TOKEN)
    run = orc("status", in_sync, "--detailed-exitcode")
    assert run.code == 2, run.err
    assert "Unauthorized" in run.out


def test_status_models_json_validates_against_the_published_schema(orc: Any, in_sync: Path) -> None:
    run = orc("status", in_sync, "--models", "--format", "json")
    assert run.code == 0, run.err
    document = json.loads(run.out)
    jsonschema.validate(document, _schema("status.v1.schema.json"))
    rows = json.dumps(document)
    for model in ("llama3.2:3b", "nomic-embed-text:latest", "qwen2.5-coder:1.5b"):
        assert model in rows
    assert "131072" in rows  # context length, from /api/show


def test_a_missing_token_variable_blocks_only_that_instance(
    orc: Any, drifted: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(TOKEN_ENV)
    run = orc("plan", drifted, "--format", "json", "--detailed-exitcode")
    assert run.code == 2, run.err
    document = json.loads(run.out)
    by_name = {i["name"]: i for i in document["instances"]}
    assert by_name["gpu-1"]["blocked"]["reason"] == "SecretMissing"
    assert TOKEN_ENV in by_name["gpu-1"]["blocked"]["message"]
    assert [a["model"] for a in by_name["cpu-1"]["actions"]] == ["gemma2:2b"]


def test_an_unreachable_disabled_instance_keeps_the_plan_clean(
    orc: Any, sim: Running, in_sync: Path
) -> None:
    (in_sync / "spare.yaml").write_text(
        "apiVersion: ollama-reconciler/v1\nkind: OllamaInstance\nmetadata: {name: spare-1}\n"
        "spec: {url: 'http://127.0.0.1:9', enabled: false, models: [{name: llama3.2:3b}]}\n",
        encoding="utf-8",
    )
    assert orc("plan", in_sync, "--detailed-exitcode").code == 0
    assert orc("status", in_sync, "--detailed-exitcode").code == 0


def _outputs(orc: Any, folder: Path, tmp_path: Path) -> list[str]:
    texts: list[str] = []
    for index, fmt in enumerate(("text", "json", "markdown")):
        saved = tmp_path / f"plan-{index}.json"
        run = orc("plan", folder, "--format", fmt, "--out", saved, "--detailed-exitcode")
        texts += [run.out, run.err, saved.read_text(encoding="utf-8")]
    for fmt in ("table", "json", "markdown"):
        for extra in ((), ("--models",)):
            run = orc("status", folder, "--format", fmt, *extra)
            texts += [run.out, run.err]
    return texts


def _state_files(tmp_path: Path) -> list[bytes]:
    return [p.read_bytes() for p in (tmp_path / "state").rglob("*") if p.is_file()]


def test_no_secret_appears_in_any_output_or_saved_plan(
    orc: Any, drifted: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = _outputs(orc, drifted, tmp_path)  # token accepted: everything healthy
    monkeypatch.setenv(TOKEN_ENV, WRONG_TOKEN)
    texts += _outputs(orc, drifted, tmp_path)  # token refused: the error paths
    texts.append(orc("--traceback", "plan", drifted).out)
    assert any("Unauthorized" in t for t in texts)  # the error paths were really taken
    assert any("gemma2:2b" in t for t in texts)
    for secret in SECRETS:
        assert not [t for t in texts if secret in t], secret
        assert not [b for b in _state_files(tmp_path) if secret.encode() in b], secret


def test_a_server_that_echoes_the_secrets_is_redacted(
    orc: Any, sim: Running, drifted: Path, tmp_path: Path
) -> None:
    echo = f"rejected Authorization: Bearer {TOKEN} with X-API-Key: {API_KEY}"
    faults = sim.fleet["gpu-1"].faults
    sim.loop.call_soon_threadsafe(lambda: faults.fail_next(3, 500, echo, "/api/tags"))
    saved = tmp_path / "echo-plan.json"
    plan = orc("plan", drifted, "--format", "json", "--out", saved)
    status = orc("status", drifted, "--format", "json")
    text = orc("plan", drifted)
    sim.loop.call_soon_threadsafe(faults.clear)  # the fleet is shared by the module
    everything = plan.out + plan.err + status.out + status.err + text.out + saved.read_text()
    assert "rejected Authorization: Bearer *** with X-API-Key: ***" in everything
    for secret in SECRETS:
        assert secret not in everything


@pytest.mark.slow
def test_plan_as_a_subprocess_exits_2_and_keeps_secrets_out(
    sim: Running, drifted: Path, tmp_path: Path
) -> None:
    env = {**os.environ, TOKEN_ENV: TOKEN, "NO_COLOR": "1"}
    saved = tmp_path / "plan.json"
    command = [sys.executable, "-m", "reconciler", "plan", str(drifted), "--out", str(saved)]
    command += ["--state-dir", str(tmp_path / "state"), "--detailed-exitcode"]
    done = subprocess.run(command, check=False, capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 2, done.stderr
    assert "+ pull gemma2:2b" in done.stdout
    assert "\x1b[" not in done.stdout
    assert done.stderr == ""
    for secret in SECRETS:
        assert secret not in done.stdout + done.stderr + saved.read_text(encoding="utf-8")


def test_status_exits_1_when_no_enabled_instance_answers(orc: Any, tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port where nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    folder = tmp_path / "down"
    folder.mkdir()
    (folder / "down.yaml").write_text(
        "apiVersion: ollama-reconciler/v1\nkind: OllamaInstance\nmetadata: {name: down}\n"
        f"spec: {{url: 'http://127.0.0.1:{port}', models: []}}\n",
        encoding="utf-8",
    )
    run = orc("status", folder)
    assert run.code == 1
    assert "Unreachable" in run.out  # the report is still printed
    assert "no enabled instance answered" in run.err
    assert orc("status", folder, "--format", "json").code == 1
