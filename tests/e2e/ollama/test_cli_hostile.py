"""`orc plan` and `orc status` end to end against hostile servers on real loopback sockets.

What a user reads when a server redirects, echoes the request headers, drips its reply, or
demands a client certificate: the cause, named, and never any piece of a credential. The token
comes from an environment variable and the `X-API-Key` header from a file, as in real manifests;
`X-Session-Token` from a second variable (a plain credential header is a validation error).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from reconciler.cli.main import main
from tests.support.hostile_server import (
    HostileServer,
    dripping,
    echo_headers,
    json_reply,
    mutual_tls,
    redirect,
)

ROOT = Path(__file__).resolve().parents[3]
TOKEN = "Wd5kP9sB3vQ7nX2jR6tY"
API_KEY = "m4HcL8gZ1fT6qV9wK3Ds"
SESSION = "bN7rT2xJ5pF9cW4kM8Qz"  # a custom header whose name says it is a credential
TOKEN_ENV = "ORC_HOSTILE_TOKEN"
SESSION_ENV = "ORC_HOSTILE_SESSION"
SECRETS = (TOKEN, API_KEY, SESSION)


def shown_pieces(text: str) -> list[str]:
    """The 4-character pieces of any secret that appear in `text` (there must be none)."""
    pieces = {s[i : i + 4] for s in SECRETS for i in range(len(s) - 3)}
    return sorted(p for p in pieces if p in text)


@dataclass
class Run:
    code: int
    out: str
    err: str


Orc = Callable[..., Run]


@pytest.fixture
def orc(capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Orc:
    """`orc("plan", DIR)` runs the CLI in process with a private state directory."""
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    monkeypatch.setenv(SESSION_ENV, SESSION)

    def run(*args: str | Path) -> Run:
        capsys.readouterr()
        code = main([*map(str, args), "--state-dir", str(tmp_path / "state")])
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


def manifest(folder: Path, url: str, *, timeout: str = "5s", tls: str = "") -> Path:
    """One instance `edge` at `url` with a token, a secret header and one model."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "api-key").write_text(API_KEY + "\n", encoding="utf-8")
    (folder / "fleet.yaml").write_text(
        f"""\
apiVersion: ollama-reconciler/v1
kind: OllamaInstance
metadata: {{name: edge}}
spec:
  url: {url}
  timeout: {timeout}
  auth: {{bearerToken: {{env: {TOKEN_ENV}}}}}
  headers:
    X-Client-ID: orc-e2e
    X-API-Key: {{file: api-key}}
    X-Session-Token: {{env: {SESSION_ENV}}}
{tls}  models: [{{name: llama3.2:3b}}]
""",
        encoding="utf-8",
    )
    return folder


@pytest.mark.parametrize("status", [301, 307])
def test_plan_reports_a_redirect_and_sends_nothing_to_where_it_points(
    orc: Orc, tmp_path: Path, status: int
) -> None:
    with HostileServer() as elsewhere, HostileServer() as server:
        for path in ("/api/version", "/api/tags", "/api/ps"):
            server.route(path, redirect(f"{elsewhere.url}*", status))
        run = orc("plan", manifest(tmp_path, server.url))
    assert run.code == 1
    assert f"was redirected (HTTP {status}) to {elsewhere.url}/api/" in run.out
    assert "orc follows no redirects" in run.out
    assert elsewhere.seen == []
    assert shown_pieces(run.out + run.err) == []


@pytest.mark.parametrize("command", ["plan", "status"])
@pytest.mark.parametrize(("kind", "status"), [("json", 400), ("text", 500), ("html", 502)])
def test_a_server_echoing_headers_shows_no_piece_of_a_secret(
    orc: Orc, tmp_path: Path, command: str, kind: str, status: int
) -> None:
    with HostileServer() as server:
        server.route("/api/tags", echo_headers(kind, status))  # type: ignore[arg-type]
        run = orc(command, manifest(tmp_path, server.url))
    assert server.seen[0].header("authorization") == f"Bearer {TOKEN}"
    assert "***" in run.out + run.err
    assert shown_pieces(run.out + run.err) == []


@pytest.mark.parametrize("command", ["plan", "status"])
def test_timeout_bounds_a_reply_that_drips_one_byte_at_a_time(
    orc: Orc, tmp_path: Path, command: str
) -> None:
    slow = dripping(json_reply({"models": [], "pad": "x" * 60}), 0.05, body_only=True)
    with HostileServer() as server:
        server.route("/api/tags", slow)
        start = time.monotonic()
        run = orc(command, manifest(tmp_path, server.url, timeout="1s"))
        elapsed = time.monotonic() - start
    assert elapsed < 4.0  # the reply alone takes 4s
    assert "did not arrive in full within 1s" in run.out
    assert run.code == 1  # nothing answered: plan and status both say so (the report is shown)


def test_plan_says_the_server_asked_for_a_client_certificate(orc: Orc, tmp_path: Path) -> None:
    files = mutual_tls(tmp_path / "certs")
    with HostileServer(tls=files.context) as server:
        tls = f"  tls: {{caFile: {files.ca_file}}}\n"
        run = orc("plan", manifest(tmp_path / "m", server.url, tls=tls))
    assert run.code == 1
    assert "asked for a client certificate (mutual TLS), and none is configured" in run.out
    assert "check that Ollama is running" not in run.out + run.err


def test_plan_with_an_encrypted_client_key_is_refused_without_a_prompt(
    orc: Orc, tmp_path: Path
) -> None:
    files = mutual_tls(tmp_path / "certs")
    with HostileServer(tls=files.context) as server:
        tls = (
            f"  tls: {{caFile: {files.ca_file}, clientCert: {files.client_cert}, "
            f"clientKey: {files.encrypted_key}}}\n"
        )
        # The certificates live outside the manifests' folder: allowed by the runner.
        certs = str(tmp_path / "certs")
        run = orc("plan", manifest(tmp_path / "m", server.url, tls=tls), "--secrets-dir", certs)
    assert run.code == 1
    assert f"tls.clientKey {files.encrypted_key} is encrypted with a pass phrase" in run.out
    assert "Enter PEM pass phrase" not in run.out + run.err
    assert server.seen == []


@pytest.mark.slow
def test_verify_false_warns_once_on_stderr_for_plan_and_status(tmp_path: Path) -> None:
    files = mutual_tls(tmp_path / "certs", require_client_cert=False)
    with HostileServer(tls=files.context) as server:
        folder = manifest(tmp_path / "m", server.url, tls="  tls: {verify: false}\n")
        runs = [
            subprocess.run(
                [sys.executable, "-m", "reconciler", command, str(folder)],
                capture_output=True,
                text=True,
                cwd=tmp_path,
                env={**os.environ, TOKEN_ENV: TOKEN, SESSION_ENV: SESSION, "PYTHONPATH": str(ROOT)},
                timeout=60,
                check=False,
            )
            for command in ("plan", "status")
        ]
    for done in runs:
        assert done.returncode == 0, done.stderr
        assert done.stderr == (
            "Warning: edge: tls.verify is false, so the server's certificate is not checked and "
            "anyone on the network path can pose as the server and read its credentials; set "
            "tls.caFile to the CA that signed it instead\n"
        )
        assert shown_pieces(done.stdout + done.stderr) == []
