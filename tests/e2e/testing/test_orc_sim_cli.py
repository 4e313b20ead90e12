"""`orc sim` as a user runs it: a subprocess serving real sockets until SIGINT/SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from reconciler.cli.main import main
from reconciler.manifest.loader import load_fleet

pytestmark = pytest.mark.slow


def free_port_pair() -> int:
    for _ in range(50):
        with socket.socket() as first:
            first.bind(("127.0.0.1", 0))
            port = int(first.getsockname()[1])
            with socket.socket() as second:
                try:
                    second.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
        return port
    raise RuntimeError("no two adjacent free ports")


def start_sim(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "reconciler", "sim", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )


def wait_for_urls(process: subprocess.Popen[str]) -> tuple[list[str], list[str]]:
    assert process.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        seen.append(line.rstrip("\n"))
        if line.startswith("URLs: "):
            return line.split()[1:], seen
    process.kill()
    errors = process.stderr.read() if process.stderr else ""
    raise AssertionError(f"no URLs line; output so far: {seen}; stderr: {errors}")


def test_sim_serves_writes_manifests_and_exits_0_on_sigint(tmp_path: Path):
    port = free_port_pair()
    process = start_sim("--instances", "2", "--port", str(port), "--write-manifests", str(tmp_path))
    try:
        urls, output = wait_for_urls(process)
        assert urls == [f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port + 1}"]
        tags = httpx.get(urls[0] + "/api/tags").json()
        assert [m["name"] for m in tags["models"]][-1] == "llama3.2:3b"
        assert httpx.get(urls[1] + "/api/version").json() == {"version": "0.12.6"}
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert any(line.startswith("  sim-1  http://127.0.0.1:") for line in output)
    documents = [yaml.safe_load((tmp_path / f"sim-{i}.yaml").read_text()) for i in (1, 2)]
    assert documents[0]["kind"] == "OllamaInstance"
    assert documents[0]["spec"]["url"] == urls[0]
    assert documents[0]["spec"]["models"][0] == {"name": "llama3.2:3b", "keepLoaded": True}
    loaded = load_fleet([tmp_path])
    assert loaded.ok, loaded.diagnostics
    assert loaded.fleet is not None
    assert [i.name for i in loaded.fleet.instances] == ["sim-1", "sim-2"]


def test_sim_with_token_and_tls_exits_0_on_sigterm(tmp_path: Path):
    process = start_sim(
        "-n", "1", "--tls", "--write-manifests", str(tmp_path), env={"ORC_SIM_TOKEN": "s3cret-tok"}
    )
    try:
        urls, output = wait_for_urls(process)
        ca_file = tmp_path / "sim-tls" / "ca.pem"
        assert f"CA certificate: {ca_file}" in output
        trust = ssl.create_default_context(cafile=str(ca_file))
        denied = httpx.get(urls[0] + "/api/tags", verify=trust)
        allowed = httpx.get(
            urls[0] + "/api/tags", verify=trust, headers={"Authorization": "Bearer s3cret-tok"}
        )
        assert (denied.status_code, allowed.status_code) == (401, 200)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
    assert not any("s3cret-tok" in line for line in output)
    assert any("ORC_SIM_TOKEN" in line for line in output)
    spec = yaml.safe_load((tmp_path / "sim-1.yaml").read_text())["spec"]
    assert spec["tls"] == {"caFile": "sim-tls/ca.pem"}
    assert spec["auth"] == {"bearerToken": {"env": "ORC_SIM_TOKEN"}}
    assert "s3cret-tok" not in (tmp_path / "sim-1.yaml").read_text()


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        ("--latency", "fast", "Invalid value for '--latency': invalid duration 'fast'"),
        ("--pull-speed", "quick", "invalid --pull-speed 'quick'"),
        ("--instances", "0", "0 is not in the range 1<=x<=64"),
    ],
)
def test_bad_flags_exit_1_with_a_clear_message(capsys, flag, value, message):
    assert main(["sim", flag, value]) == 1
    assert message in capsys.readouterr().err


def test_help_documents_flags_and_exit_codes(capsys):
    assert main(["sim", "--help"]) == 0
    text = capsys.readouterr().out
    for expected in (
        "--instances",
        "--port",
        "--latency",
        "--pull-speed",
        "--token",
        "--tls",
        "--write-manifests",
        "Exit codes:",
    ):
        assert expected in text


def test_busy_port_exits_1():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "reconciler", "sim", "-n", "1", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=20,
            check=False,
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr
