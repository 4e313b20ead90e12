"""`orc import` round trip: import what simulated servers have, validate, plan: no changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler import names
from reconciler.adopt import ImportRequest, import_servers
from reconciler.errors import UsageError
from reconciler.manifest import load_fleet
from reconciler.reconcile import Reconciler, load_desired
from reconciler.testing import CATALOG

from .conftest import Servers

URL = "http://{}.sim.test:11434"
REVIEWER_SYSTEM = "You are a careful code reviewer.\nPoint out bugs first.\n"
STRICT_TEMPLATE = "{{ if .System }}<<{{ .System }}>>{{ end }}\n{{ .Prompt }}"


async def _seed_customs(servers: Servers, name: str) -> None:
    """Custom models of every kind, one built on another, and models loaded two ways."""
    async with servers.direct(name, URL.format(name)) as client:
        customs = [
            ("reviewer", "qwen2.5-coder:1.5b", {"system": REVIEWER_SYSTEM}),
            ("strict", "llama3.2:3b", {"template": STRICT_TEMPLATE}),
            (
                "tuned:v2",
                "mistral:7b",
                {"parameters": {"num_ctx": 8192, "temperature": 0.2, "stop": ["END", "</s>"]}},
            ),
            ("reviewer-cold", "reviewer", {"parameters": {"temperature": 0.0}}),
            ("alias", "gemma2:2b", {}),
        ]
        for model, base, settings in customs:
            [p async for p in client.create(model, from_=base, **settings)]
        await client.load("llama3.2:1b")  # keep_alive -1: kept loaded
        await client.load("reviewer")
        await client.load("nomic-embed-text", embedding=True)
        await client.load("phi3:mini", keep_alive="5m")  # loaded for a while: not declared so


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


async def _plan_has_no_changes(servers: Servers, folder: Path) -> None:
    reconciler = Reconciler(client_factory=servers.client, env={})
    _, made = await reconciler.plan(load_desired([folder]))
    assert [a.id for a in made.actions] == []
    assert not made.blocked


async def test_the_whole_catalog_and_custom_models_round_trip(servers: Servers, tmp_path: Path):
    servers.add("all", models=tuple(CATALOG), max_loaded=8)  # room for every model it loads
    await _seed_customs(servers, "all")
    out = tmp_path / "manifests"
    request = ImportRequest(urls=(URL.format("all"),), out=out, name="all")
    result = await import_servers(request, client_factory=servers.client, env={})

    [(path, adopted)] = result.files
    assert path == out / "all.yaml"
    loaded = load_fleet([out])
    assert [d.message for d in loaded.diagnostics] == []
    models = {m.name.display: m for m in adopted.instance.models}
    assert set(models) == {*CATALOG, "reviewer:latest", "strict:latest", "tuned:v2"} | {
        "reviewer-cold:latest",
        "alias:latest",
    }
    registry = [m for n, m in models.items() if n in CATALOG]
    assert all(m.from_ is None and not m.parameters and m.system is None for m in registry)
    assert models["reviewer:latest"].from_ == names.parse("qwen2.5-coder:1.5b")
    assert models["reviewer:latest"].system == REVIEWER_SYSTEM
    assert models["reviewer:latest"].template is None  # inherited from its base
    assert models["strict:latest"].template == STRICT_TEMPLATE
    assert dict(models["tuned:v2"].parameters) == {
        "num_ctx": 8192,
        "stop": ["END", "</s>"],
        "temperature": 0.2,
    }
    assert models["reviewer-cold:latest"].from_ == names.parse("reviewer")
    assert dict(models["reviewer-cold:latest"].parameters) == {"temperature": 0}
    assert models["alias:latest"].from_ == names.parse("gemma2:2b")
    kept = sorted(n for n, m in models.items() if m.keep_loaded)
    assert kept == ["llama3.2:1b", "nomic-embed-text:latest", "reviewer:latest"]
    await _plan_has_no_changes(servers, out)


async def test_the_written_file_reads_as_the_readme_shows(servers: Servers, tmp_path: Path):
    servers.add("box", models=("llama3.2:3b", "qwen2.5-coder:1.5b"), loaded=("llama3.2:3b",))
    async with servers.direct("box", URL.format("box")) as client:
        [p async for p in client.create("reviewer", from_="qwen2.5-coder:1.5b", system="Be terse.")]
        await client.load("llama3.2:3b")
    request = ImportRequest(urls=(URL.format("box"),), out=tmp_path, name="box")
    await import_servers(request, client_factory=servers.client, env={})
    text = (tmp_path / "box.yaml").read_text()
    assert text == (
        "# yaml-language-server: $schema=https://raw.githubusercontent.com/ollama-reconciler/"
        "ollama-reconciler/main/schemas/manifest.v1.schema.json\n"
        "# Imported by `orc import` from http://box.sim.test:11434.\n"
        "apiVersion: ollama-reconciler/v1\n"
        "kind: OllamaInstance\n"
        "metadata:\n"
        "  name: box\n"
        "spec:\n"
        "  url: http://box.sim.test:11434\n"
        "  models:\n"
        "  - name: llama3.2:3b\n"
        "    keepLoaded: true\n"
        "  - name: qwen2.5-coder:1.5b\n"
        "  - name: reviewer:latest\n"
        "    from: qwen2.5-coder:1.5b\n"
        "    system: Be terse.\n"
    )


async def test_several_servers_share_a_modelset(servers: Servers, tmp_path: Path):
    for name, extra in (("gpu-a", "mistral:7b"), ("gpu-b", "gemma2:2b")):
        servers.add(name, models=("llama3.2:3b", "nomic-embed-text", extra))
    async with servers.direct("gpu-a", URL.format("gpu-a")) as client:
        await client.load("llama3.2:3b")  # kept loaded on one server only: not shared
    request = ImportRequest(
        urls=(URL.format("gpu-a"), URL.format("gpu-b")),
        out=tmp_path,
        name="gpu",
        labels={"tier": "gpu"},
        modelset="gpu-common",
    )
    servers.by_name["gpu-1"] = servers.by_name.pop("gpu-a")
    servers.by_name["gpu-2"] = servers.by_name.pop("gpu-b")
    result = await import_servers(request, client_factory=servers.client, env={})

    assert [p.name for p, _ in result.files] == ["gpu-1.yaml", "gpu-2.yaml"]
    assert result.modelset is not None
    path, shared = result.modelset
    assert path == tmp_path / "modelset-gpu-common.yaml"
    assert [m.name.display for m in shared] == ["nomic-embed-text:latest"]
    first = load_desired([tmp_path]).instance("gpu-1")
    assert first is not None and dict(first.labels) == {"modelset": "gpu-common", "tier": "gpu"}
    assert [m.declared_by for m in first.models if m.name.model == "nomic-embed-text"] == [
        "modelset/gpu-common"
    ]
    await _plan_has_no_changes(servers, tmp_path)


async def test_existing_files_are_kept_without_force(servers: Servers, tmp_path: Path):
    servers.add("box", models=("llama3.2:3b",))
    (tmp_path / "box.yaml").write_text("mine\n")
    request = ImportRequest(urls=(URL.format("box"),), out=tmp_path, name="box")
    with pytest.raises(UsageError, match=r"box\.yaml already exists: nothing was written"):
        await import_servers(request, client_factory=servers.client, env={})
    assert (tmp_path / "box.yaml").read_text() == "mine\n"

    forced = ImportRequest(urls=(URL.format("box"),), out=tmp_path, name="box", force=True)
    await import_servers(forced, client_factory=servers.client, env={})
    assert "name: llama3.2:3b" in (tmp_path / "box.yaml").read_text()
    assert _files(tmp_path) == ["box.yaml"]  # no temporary left


async def test_tokens_are_written_as_references_never_as_values(servers: Servers, tmp_path: Path):
    secret = "s3cr3t-token-value-0123456789"
    key = "api-key-value-9876543210"
    servers.add("locked", models=("llama3.2:3b",), token=secret)
    out = tmp_path / "manifests"
    request = ImportRequest(
        urls=(URL.format("locked"),),
        out=out,
        name="locked",
        token_env="LOCKED_TOKEN",
        header_env={"X-API-Key": "LOCKED_KEY"},
        headers={"X-Client-ID": "orc"},
    )
    env = {"LOCKED_TOKEN": secret, "LOCKED_KEY": key}
    await import_servers(request, client_factory=servers.client, env=env)
    text = (out / "locked.yaml").read_text()
    assert secret not in text and key not in text
    assert secret[:8] not in text and key[:8] not in text
    assert "bearerToken:\n      env: LOCKED_TOKEN\n" in text
    assert "X-API-Key:\n      env: LOCKED_KEY\n" in text
    reconciler = Reconciler(client_factory=servers.client, env=env)
    _, made = await reconciler.plan(load_desired([out]))
    assert not made.has_changes and not made.blocked


async def test_a_token_file_is_written_relative_to_the_manifest(servers: Servers, tmp_path: Path):
    secret = "file-token-value-0123456789"
    servers.add("locked", models=("llama3.2:3b",), token=secret)
    token = tmp_path / "secrets" / "token"
    token.parent.mkdir()
    token.write_text(secret + "\n")
    out = tmp_path / "manifests"
    request = ImportRequest(urls=(URL.format("locked"),), out=out, name="locked", token_file=token)
    result = await import_servers(request, client_factory=servers.client, env={})
    text = (out / "locked.yaml").read_text()
    assert secret not in text
    assert "bearerToken:\n      file: ../secrets/token\n" in text
    assert result.notes == (
        f"{token} is outside {out}: pass --secrets-dir {token.parent} to orc plan and apply",
    )


async def test_an_unreachable_server_writes_nothing(servers: Servers, tmp_path: Path):
    from reconciler.ollama import OllamaError

    servers.add("up", models=("llama3.2:3b",))
    servers.add("down", models=("llama3.2:3b",))
    servers.by_name["down"].faults.fail_next(10, status=500)
    request = ImportRequest(urls=(URL.format("up"), URL.format("down")), out=tmp_path)
    with pytest.raises(OllamaError):
        await import_servers(request, client_factory=servers.client, env={})
    assert _files(tmp_path) == []
