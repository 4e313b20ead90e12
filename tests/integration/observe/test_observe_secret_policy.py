"""The observer under the runner's `SecretPolicy`: what it refuses blocks one instance as
`SecretRefused`, before anything is sent; TLS client certificates and keys are confined like
secret files, a CA bundle is not."""

from __future__ import annotations

from pathlib import Path

from reconciler.manifest.secretpolicy import SecretPolicy
from reconciler.observed import Health

TOKEN = "obs-SECRET-policy-token-9e2"


async def test_a_refused_secret_blocks_only_its_instance_and_sends_nothing(world) -> None:
    world.instance("gpu-1", models=("llama3.2:3b",))
    world.instance(
        "gw-1", models=("llama3.2:3b",), token=TOKEN, spec="auth: {bearerToken: {env: CLOUD_KEY}}"
    )
    policy = SecretPolicy.for_manifests([world.folder], env_patterns=["OLLAMA_*"])
    observed = await world.observe(env={"CLOUD_KEY": TOKEN}, secrets=policy)
    gw = observed.instances["gw-1"]
    assert (gw.health, gw.reason) == (Health.UNKNOWN, "SecretRefused")
    assert gw.message.startswith(
        "spec.auth.bearerToken: environment variable CLOUD_KEY is not allowed by ORC_SECRET_ENV"
    )
    assert world.requests("gw-1") == []
    assert observed.instances["gpu-1"].health is Health.HEALTHY


async def test_a_secret_header_file_outside_is_refused_naming_the_header(
    world, tmp_path: Path
) -> None:
    (tmp_path / "key").write_text(TOKEN)
    world.instance("gw-1", spec=f"headers: {{X-API-Key: {{file: {tmp_path / 'key'}}}}}")
    policy = SecretPolicy.for_manifests([world.folder])
    gw = (await world.observe(secrets=policy)).instances["gw-1"]
    assert gw.reason == "SecretRefused"
    assert gw.message.startswith(f"spec.headers.X-API-Key: secret file {tmp_path / 'key'} is out")
    assert world.requests("gw-1") == []


async def test_tls_client_files_are_confined_and_a_ca_bundle_is_not(world, tmp_path: Path) -> None:
    for name in ("ca.pem", "client.pem", "client.key"):
        (tmp_path / name).write_text("-----BEGIN NOTHING-----\n")
    world.instance("ca-only", sim=False, spec=f"tls: {{caFile: {tmp_path / 'ca.pem'}}}")
    cert, key = tmp_path / "client.pem", tmp_path / "client.key"
    world.instance("mtls", sim=False, spec=f"tls: {{clientCert: {cert}, clientKey: {key}}}")
    observed = await world.observe(secrets=SecretPolicy.for_manifests([world.folder]))
    mtls, ca_only = observed.instances["mtls"], observed.instances["ca-only"]
    assert mtls.reason == "SecretRefused"
    assert mtls.message.startswith(f"spec.tls.clientCert: file {tmp_path / 'client.pem'} is out")
    assert ca_only.reason == "TLSError"  # read, and found to be no certificate
    assert "tls.caFile" in ca_only.message
