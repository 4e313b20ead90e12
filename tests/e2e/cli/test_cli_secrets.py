"""Secrets as an exfiltration path, end to end: a manifest from a pull request points an instance
at a hostile server on loopback and names the runner's variables or files as its token.

The hostile server records every request it receives; whatever the manifest names must never
reach it unless the runner allows it (ORC_SECRET_ENV, the manifests' folders, --secrets-dir),
and the instance is blocked with a reason that names the field and the variable or file.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from reconciler.chat import Fleet
from reconciler.cli.main import main
from reconciler.manifest.secretpolicy import SecretPolicy

AWS_KEY = "aws-SECRET-wJalrXUtnFEMI-K7MDENG"
OLLAMA_TOKEN = "ollama-SECRET-token-5d1e0a"
FILE_TOKEN = "file-SECRET-token-2b8c4f"
REPLIES = {
    "/api/version": {"version": "0.6.2"},
    "/api/tags": {"models": []},
    "/api/ps": {"models": []},
}


@dataclass
class Hostile:
    """A server that answers like Ollama and keeps every request's path and headers."""

    url: str
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)

    def received(self, secret: str) -> bool:
        return any(secret in json.dumps(headers) for _, headers in self.requests)


@pytest.fixture
def hostile() -> Iterator[Hostile]:
    record: list[tuple[str, dict[str, str]]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            record.append((self.path, dict(self.headers.items())))
            body = json.dumps(REPLIES.get(self.path, {})).encode()
            self.send_response(200 if self.path in REPLIES else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Hostile(f"http://127.0.0.1:{server.server_address[1]}", record)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture
def runner_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The runner's environment: a cloud key it must keep, an Ollama token it may send."""
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_KEY)
    monkeypatch.setenv("OLLAMA_TOKEN", OLLAMA_TOKEN)
    monkeypatch.delenv("ORC_SECRET_ENV", raising=False)
    monkeypatch.delenv("ORC_SECRETS_DIR", raising=False)


def write_manifest(folder: Path, url: str, auth: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pr.yaml").write_text(
        "apiVersion: ollama-reconciler/v1\nkind: OllamaInstance\nmetadata: {name: evil}\n"
        f"spec:\n  url: {url}\n  auth: {{bearerToken: {auth}}}\n  models: [{{name: x:1b}}]\n",
        encoding="utf-8",
    )
    return folder


def orc(capsys: pytest.CaptureFixture[str], tmp_path: Path, *args: str) -> tuple[int, str]:
    capsys.readouterr()
    code = main([*args, "--state-dir", str(tmp_path / "state")])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def plan_json(capsys: pytest.CaptureFixture[str], tmp_path: Path, *args: str) -> dict[str, Any]:
    code, out = orc(capsys, tmp_path, "plan", *args, "--format", "json")
    assert code in (0, 1, 2), out
    document: dict[str, Any] = json.loads(out[: out.rindex("}") + 1])
    return document


def blocked(document: dict[str, Any]) -> dict[str, str]:
    found: dict[str, str] = document["instances"][0]["blocked"]
    return found


@pytest.mark.usefixtures("runner_env")
def test_a_variable_outside_orc_secret_env_never_reaches_the_server(
    hostile: Hostile, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    folder = write_manifest(tmp_path / "m", hostile.url, "{env: AWS_SECRET_ACCESS_KEY}")
    monkeypatch.setenv("ORC_SECRET_ENV", "OLLAMA_*")

    code, out = orc(capsys, tmp_path, "plan", str(folder))

    assert code == 1  # nothing could be planned
    assert hostile.requests == []
    assert AWS_KEY not in out
    assert (
        "! blocked: spec.auth.bearerToken: environment variable AWS_SECRET_ACCESS_KEY is not"
        " allowed by ORC_SECRET_ENV (this runner allows OLLAMA_*; only whoever runs orc can allow"
        " more)" in " ".join(out.split())
    )
    reason = blocked(plan_json(capsys, tmp_path, str(folder)))
    assert reason["reason"] == "SecretRefused"
    assert "AWS_SECRET_ACCESS_KEY" in reason["message"]
    assert hostile.requests == []


@pytest.mark.usefixtures("runner_env")
def test_without_orc_secret_env_any_variable_is_sent_as_before(
    hostile: Hostile, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    """The recorder works, and an unset ORC_SECRET_ENV keeps the old behaviour."""
    folder = write_manifest(tmp_path / "m", hostile.url, "{env: AWS_SECRET_ACCESS_KEY}")
    plan_json(capsys, tmp_path, str(folder))
    assert hostile.received(AWS_KEY)

    hostile.requests.clear()
    monkeypatch.setenv("ORC_SECRET_ENV", "OLLAMA_*")
    write_manifest(folder, hostile.url, "{env: OLLAMA_TOKEN}")
    assert plan_json(capsys, tmp_path, str(folder))["instances"][0].get("blocked") is None
    assert hostile.received(OLLAMA_TOKEN)


@pytest.mark.usefixtures("runner_env")
def test_an_empty_orc_secret_env_allows_no_variable(
    hostile: Hostile, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    folder = write_manifest(tmp_path / "m", hostile.url, "{env: OLLAMA_TOKEN}")
    monkeypatch.setenv("ORC_SECRET_ENV", "")
    reason = blocked(plan_json(capsys, tmp_path, str(folder)))
    assert reason["reason"] == "SecretRefused"
    assert "this runner allows nothing" in reason["message"]
    assert hostile.requests == []


@pytest.mark.usefixtures("runner_env")
@pytest.mark.parametrize("target", ["/etc/passwd", "../outside", "link"])
def test_a_secret_file_outside_the_manifests_never_reaches_the_server(
    hostile: Hostile, tmp_path: Path, capsys: pytest.CaptureFixture[str], target: str
) -> None:
    (tmp_path / "outside").write_text(FILE_TOKEN)
    folder = tmp_path / "m"
    folder.mkdir()
    if target == "link":
        (folder / "link").symlink_to(tmp_path / "outside")
    write_manifest(folder, hostile.url, f"{{file: {target}}}")

    reason = blocked(plan_json(capsys, tmp_path, str(folder)))

    assert reason["reason"] == "SecretRefused"
    assert reason["message"].startswith("spec.auth.bearerToken: secret file ")
    assert "is outside the manifests' folders" in reason["message"]
    assert FILE_TOKEN not in json.dumps(reason)
    assert hostile.requests == []


@pytest.mark.usefixtures("runner_env")
def test_secrets_dir_and_orc_secrets_dir_allow_a_folder(
    hostile: Hostile, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    vault = tmp_path / "vault"
    vault.mkdir()
    (vault / "token").write_text(FILE_TOKEN + "\n")
    folder = write_manifest(tmp_path / "m", hostile.url, f"{{file: {vault / 'token'}}}")

    document = plan_json(capsys, tmp_path, str(folder), "--secrets-dir", str(vault))
    assert document["instances"][0].get("blocked") is None
    assert hostile.received(FILE_TOKEN)

    hostile.requests.clear()
    monkeypatch.setenv("ORC_SECRETS_DIR", os.pathsep.join(["", str(vault)]))
    assert plan_json(capsys, tmp_path, str(folder))["instances"][0].get("blocked") is None
    assert hostile.received(FILE_TOKEN)


@pytest.mark.usefixtures("runner_env")
def test_a_missing_secrets_dir_is_a_usage_error(
    hostile: Hostile, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = write_manifest(tmp_path / "m", hostile.url, "{env: OLLAMA_TOKEN}")
    code, out = orc(capsys, tmp_path, "plan", str(folder), "--secrets-dir", str(tmp_path / "no"))
    assert (code, out.strip()) == (1, f"Error: --secrets-dir: no such directory: {tmp_path}/no")


@pytest.mark.usefixtures("runner_env")
@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
@pytest.mark.timeout(20)
def test_a_fifo_as_secret_file_blocks_the_instance_without_hanging(
    hostile: Hostile, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = write_manifest(tmp_path / "m", hostile.url, "{file: pipe}")
    os.mkfifo(folder / "pipe")
    reason = blocked(plan_json(capsys, tmp_path, str(folder)))
    assert reason == {
        "reason": "SecretRefused",
        "message": f"spec.auth.bearerToken: cannot read secret file {folder / 'pipe'}: it is a"
        " FIFO (named pipe), not a regular file",
    }


@pytest.mark.usefixtures("runner_env")
def test_a_short_secret_is_refused(
    hostile: Hostile, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch
) -> None:
    monkeypatch.setenv("OLLAMA_SHORT", "abc123")
    folder = write_manifest(tmp_path / "m", hostile.url, "{env: OLLAMA_SHORT}")
    reason = blocked(plan_json(capsys, tmp_path, str(folder)))
    assert reason["message"] == (
        "spec.auth.bearerToken: the secret from env OLLAMA_SHORT is shorter than 8 characters"
        " (use a longer one: a short secret is easily guessed)"
    )
    assert hostile.requests == []


@pytest.mark.usefixtures("runner_env")
@pytest.mark.parametrize(
    "command",
    [
        ("status",),
        ("apply", "--yes"),
        ("chat-test", "--model", "x:1b"),
    ],
)
def test_every_command_that_resolves_secrets_obeys_the_runner(
    hostile: Hostile,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch,
    command: tuple[str, ...],
) -> None:
    folder = write_manifest(tmp_path / "m", hostile.url, "{env: AWS_SECRET_ACCESS_KEY}")
    monkeypatch.setenv("ORC_SECRET_ENV", "OLLAMA_*")
    name, *flags = command
    args = [name, str(folder), *flags]
    capsys.readouterr()
    code = main(args if name == "chat-test" else [*args, "--state-dir", str(tmp_path / "s")])
    out = "".join(capsys.readouterr())
    assert AWS_KEY not in out
    assert hostile.requests == []
    assert "AWS_SECRET_ACCESS_KEY" in out
    assert code in (0, 1)


@pytest.mark.usefixtures("runner_env")
async def test_the_python_api_confines_secret_files_to_the_manifests(
    hostile: Hostile, tmp_path: Path
) -> None:
    (tmp_path / "outside").write_text(FILE_TOKEN)
    folder = write_manifest(tmp_path / "m", hostile.url, f"{{file: {tmp_path / 'outside'}}}")
    async with Fleet.from_paths([folder]) as fleet:
        seen = (await fleet.status()).instances["evil"]
    assert (seen.reason, hostile.requests) == ("SecretRefused", [])
    policy = SecretPolicy.for_manifests([folder], [tmp_path])
    async with Fleet.from_paths([folder], secrets=policy) as fleet:
        seen = (await fleet.status()).instances["evil"]
    assert seen.reason == "Reachable"
    assert hostile.received(FILE_TOKEN)


@pytest.mark.usefixtures("runner_env")
@pytest.mark.timeout(60)
def test_watch_obeys_the_runner(hostile: Hostile, tmp_path: Path) -> None:
    folder = write_manifest(tmp_path / "m", hostile.url, "{env: AWS_SECRET_ACCESS_KEY}")
    status_file = tmp_path / "status.json"
    env = {**os.environ, "ORC_SECRET_ENV": "OLLAMA_*", "NO_COLOR": "1"}
    command = [sys.executable, "-m", "reconciler", "watch", str(folder), "--mode", "plan"]
    command += ["--status-file", str(status_file), "--state-dir", str(tmp_path / "s")]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 40
        while not status_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        text = status_file.read_text(encoding="utf-8")
    finally:
        process.send_signal(signal.SIGTERM)
        out, err = process.communicate(timeout=15)
    assert "SecretRefused" in text
    assert "AWS_SECRET_ACCESS_KEY" in text
    assert AWS_KEY not in text + out + err
    assert hostile.requests == []
